"""Where medr1 caches what it builds (tiny models, sample data), and how a build lands there atomically.

A cached build is a directory that its builder marks complete with a marker file. It is written
into a private temporary sibling and renamed into place in one step, so concurrent builders (DDP
ranks) and interrupted builds never leave a half-written directory where a reader looks::

    from medr1_core.offline.cache import build_atomically, cache_dir, read_marker, write_marker

    def build(tmp):
        (tmp / "data.txt").write_text("...")
        write_marker(tmp, ".my-complete.json", {"format": 1})

    build_atomically(
        cache_dir() / "my-thing-v1",
        build,
        is_complete=lambda p: (read_marker(p, ".my-complete.json") or {}).get("format") == 1,
        is_ours=lambda p: read_marker(p, ".my-complete.json") is not None,
        what="a my-thing directory",
    )
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["cache_dir", "read_marker", "write_marker", "build_atomically"]


def cache_dir() -> Path:
    """Where medr1 caches what it builds: ``$MEDR1_CACHE`` if set (and not empty), else ``~/.cache/medr1``."""
    env = os.environ.get("MEDR1_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "medr1"


def read_marker(directory: Path, name: str) -> dict | None:
    """The JSON marker file *name* in *directory*, or ``None`` if it is missing or unreadable
    (also when *directory* is not a directory)."""
    try:
        return json.loads((directory / name).read_text())
    except (OSError, ValueError):
        return None


def write_marker(directory: Path, name: str, content: dict) -> None:
    """Write *content* as the JSON marker file *name* in *directory* (stable key order)."""
    (directory / name).write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")


def build_atomically(
    target: Path,
    build: Callable[[Path], object],
    *,
    is_complete: Callable[[Path], bool],
    is_ours: Callable[[Path], bool],
    what: str,
) -> Path:
    """Return *target* holding a complete build, running ``build(tmp)`` only if it does not yet.

    * ``is_complete(target)``: reused as it is, nothing is built;
    * a file, or a non-empty directory, for which ``is_ours`` is false: never touched --
      ``FileExistsError("<target> exists and is not <what>; refusing to overwrite")``;
    * otherwise ``build`` writes the whole build (its completion marker last) into a new temporary
      sibling ``.<name>-tmp-*``, which then replaces what is at *target* (a build of ours that
      does not fit, or an empty directory). If another process completed *target* meanwhile, its
      build is kept and ours dropped.

    The temporary directory is removed whatever happens, also when ``build`` raises.
    """
    if is_complete(target):
        return target
    if target.exists() and not is_ours(target):
        if not target.is_dir() or any(target.iterdir()):
            raise FileExistsError(f"{target} exists and is not {what}; refusing to overwrite")
    target.parent.mkdir(parents=True, exist_ok=True)

    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-tmp-", dir=target.parent))
    try:
        build(tmp)
        if target.exists():
            if is_complete(target):  # another process finished first
                return target
            if any(target.iterdir()):
                shutil.rmtree(target)
            else:
                target.rmdir()
        try:
            os.replace(tmp, target)
        except OSError:
            if is_complete(target):  # lost a race to a concurrent builder
                return target
            raise
        return target
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
