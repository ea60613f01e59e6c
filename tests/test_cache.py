"""medr1_core.offline.cache: the cache directory, marker files, and atomic builds (reuse, replace, refuse, clean up)."""

from __future__ import annotations

from pathlib import Path

import pytest

from medr1_core.offline.cache import build_atomically, cache_dir, read_marker, write_marker

MARKER = ".test-complete.json"


class Builder:
    """Builds a directory with one data file and a marker of *format*; counts its calls."""

    def __init__(self, format: int = 1, fail: bool = False):
        self.format, self.fail, self.calls = format, fail, 0

    def __call__(self, tmp: Path) -> None:
        self.calls += 1
        (tmp / "data.txt").write_text(f"built with format {self.format}")
        if self.fail:
            raise RuntimeError("build failed half way")
        write_marker(tmp, MARKER, {"format": self.format})

    def into(self, target: Path, format: int | None = None) -> Path:
        wanted = self.format if format is None else format
        return build_atomically(
            target,
            self,
            is_complete=lambda p: (read_marker(p, MARKER) or {}).get("format") == wanted,
            is_ours=lambda p: read_marker(p, MARKER) is not None,
            what="a test build",
        )


def entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_cache_dir_is_env_var_or_home_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDR1_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.setenv("MEDR1_CACHE", "~/medr1-cache")
    assert cache_dir() == Path.home() / "medr1-cache"
    for unset in (lambda: monkeypatch.setenv("MEDR1_CACHE", ""), lambda: monkeypatch.delenv("MEDR1_CACHE")):
        unset()
        assert cache_dir() == Path.home() / ".cache" / "medr1"


def test_marker_round_trips_and_reads_none_when_missing_or_broken(tmp_path):
    write_marker(tmp_path, MARKER, {"seed": 3, "a": [1]})
    assert read_marker(tmp_path, MARKER) == {"seed": 3, "a": [1]}
    assert (tmp_path / MARKER).read_text() == '{\n  "a": [\n    1\n  ],\n  "seed": 3\n}\n'  # stable bytes
    assert read_marker(tmp_path, "absent.json") is None
    (tmp_path / "broken.json").write_text("{not json")
    assert read_marker(tmp_path, "broken.json") is None
    assert read_marker(tmp_path / MARKER, MARKER) is None  # a file, not a directory


def test_builds_into_place_then_reuses_without_rebuilding(tmp_path):
    build = Builder()
    target = build.into(tmp_path / "cache" / "thing")  # parent directories are created
    assert target == tmp_path / "cache" / "thing"
    assert entries(target) == [MARKER, "data.txt"] and build.calls == 1
    stamp = (target / "data.txt").stat().st_mtime_ns

    assert build.into(target) == target
    assert build.calls == 1 and (target / "data.txt").stat().st_mtime_ns == stamp
    assert entries(tmp_path / "cache") == ["thing"]  # no temporary directory left


def test_replaces_a_stale_build_of_its_own_and_an_empty_directory(tmp_path):
    target = Builder(format=1).into(tmp_path / "thing")
    (target / "leftover.txt").write_text("from the old build")

    new = Builder(format=2)
    assert new.into(target) == target and new.calls == 1
    assert read_marker(target, MARKER) == {"format": 2}
    assert entries(target) == [MARKER, "data.txt"]  # the old build's files are gone
    assert entries(tmp_path) == ["thing"]

    (tmp_path / "empty").mkdir()
    assert Builder().into(tmp_path / "empty") == tmp_path / "empty"
    assert read_marker(tmp_path / "empty", MARKER) == {"format": 1}


def test_refuses_a_foreign_directory_or_file_and_leaves_it_alone(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    build = Builder()
    with pytest.raises(FileExistsError, match=r"foreign exists and is not a test build; refusing to overwrite"):
        build.into(foreign)
    assert entries(foreign) == ["notes.txt"] and (foreign / "notes.txt").read_text() == "mine"

    (tmp_path / "file").write_text("also mine")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        build.into(tmp_path / "file")
    assert (tmp_path / "file").read_text() == "also mine"
    assert build.calls == 0 and entries(tmp_path) == ["file", "foreign"]


def test_a_failing_build_leaves_no_temporary_directory_and_the_old_build_intact(tmp_path):
    with pytest.raises(RuntimeError, match="half way"):
        Builder(fail=True).into(tmp_path / "new")
    assert entries(tmp_path) == []  # neither the target nor a temporary directory

    old = Builder(format=1).into(tmp_path / "thing")
    with pytest.raises(RuntimeError, match="half way"):
        Builder(format=2, fail=True).into(old)
    assert entries(tmp_path) == ["thing"] and read_marker(old, MARKER) == {"format": 1}


def test_keeps_a_build_another_process_finished_first(tmp_path):
    target = tmp_path / "thing"

    def racing_build(tmp: Path) -> None:  # while we build, a concurrent builder completes the target
        target.mkdir()
        (target / "data.txt").write_text("theirs")
        write_marker(target, MARKER, {"format": 1})
        (tmp / "data.txt").write_text("ours")
        write_marker(tmp, MARKER, {"format": 1})

    result = build_atomically(
        target,
        racing_build,
        is_complete=lambda p: read_marker(p, MARKER) is not None,
        is_ours=lambda p: read_marker(p, MARKER) is not None,
        what="a test build",
    )
    assert result == target and (target / "data.txt").read_text() == "theirs"
    assert entries(tmp_path) == ["thing"]
