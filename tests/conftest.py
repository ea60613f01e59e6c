"""Shared fixtures: fresh plugins per test, fake installed distributions."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _fresh_plugins(monkeypatch, tmp_path_factory):
    """Each test sees freshly loaded plugins and its own cache directory."""
    from medr1_core.plugins import reset_plugins

    monkeypatch.delenv("MEDR1_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("MEDR1_DISABLE_PLUGINS", raising=False)
    reset_plugins()
    yield
    reset_plugins()


@pytest.fixture
def make_distribution(tmp_path, monkeypatch):
    """Install a fake distribution on sys.path: a module plus a ``.dist-info``
    whose entry points put it in the ``medr1`` group, as pip would.

    Returns the directory, for ``PYTHONPATH`` in subprocess tests.
    """

    def make(dist: str, module: str, source: str, entry_point: str | None = None) -> Path:
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        # dist-info folder names use underscores: "medr1-broken-1.0" would read as "medr1"
        info = tmp_path / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[medr1]\n{entry_point or dist} = {module}\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        return tmp_path

    return make
