"""The run directory ``medr1 train`` writes, and what reads it back.

::

    runs/my-run/
      config.yaml          the resolved, validated configuration
      data_report.json     what was loaded, skipped and why
      metrics.jsonl        one line per logging step (TRL's metrics + step)
      completions.jsonl    sampled completions with their per-reward scores
      events.jsonl         run events: start, resume, end, reward failures
      tensorboard/         the same metrics for TensorBoard
      checkpoint-N/        TRL checkpoints (model, processor, optimizer, RNG)
      final/               the final model and processor
      reward_curve.png     reward means per step, drawn when the run ends
      report.html          the run report (curves, completions with their images), at checkpoints and the end
      .medr1-run           what made the folder (train, eval, eval-matrix): medr1 owns it
      .medr1.lock          held (flock) by the medr1 process using the folder

Files are appended to, never rewritten, so a killed run loses nothing it
wrote; the few that are rewritten (``config.yaml``, ``data_report.json``,
``final/``) are written beside and renamed into place. A checkpoint is
*complete* once TRL wrote its ``trainer_state.json`` (the last file of a save);
a kill mid-save leaves an incomplete one, which ``--resume`` removes before
resuming from the last complete one.

Ownership: medr1 writes only into a folder it made, an empty folder, or a
folder marked ``.medr1-run`` for the same kind of work; a folder holding
someone's own files is refused (:func:`claim_run_dir`). While a command uses a
folder it holds its lock (:func:`locked`): a second medr1 gets a clear message.
The file names here are the only place they are spelled.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import RunDirError
from ..files import append_jsonl, read_jsonl

CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
COMPLETIONS = "completions.jsonl"
EVENTS = "events.jsonl"
DATA_REPORT = "data_report.json"
CURVE = "reward_curve.png"
REPORT = "report.html"
FINAL_MODEL_DIR = "final"
TENSORBOARD_DIR = "tensorboard"
OWNER = ".medr1-run"
LOCK = ".medr1.lock"
TRAINER_STATE = "trainer_state.json"
CHECKPOINT = re.compile(r"checkpoint-(\d+)")
#: what a run directory of each kind holds even without an OWNER file (made before medr1 wrote one)
_LEGACY = {"train": (CONFIG, EVENTS), "eval": ("eval_config.json",)}

RUNS_ROOT = "runs"


class RunFileWarning(UserWarning):
    """A line of a run's own files could not be read (shown with file:line)."""


def new_run_dir(root: str | Path = RUNS_ROOT) -> Path:
    """A fresh ``runs/YYYYmmdd-HHMMSS`` folder name (``-2``, ``-3``... if taken)."""
    base = Path(root) / time.strftime("%Y%m%d-%H%M%S")
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def latest_run_dir(root: str | Path = RUNS_ROOT) -> Path | None:
    """The most recently started run under ``root`` (the one whose config.yaml is newest)."""
    configs = sorted(Path(root).glob(f"*/{CONFIG}"), key=lambda p: p.stat().st_mtime)
    return configs[-1].parent if configs else None


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of one of the run's JSON-lines files; a bad line is warned about with file:line."""
    found = read_jsonl(path, missing_ok=True)
    bad = list(found.bad_lines) + [
        f"{path}:{r.line}: expected a JSON object" for r in found.records if not isinstance(r.value, dict)
    ]
    if bad:
        warnings.warn(f"{len(bad)} line(s) of {path} left out, e.g. {bad[0]}", RunFileWarning, stacklevel=2)
    return [r.value for r in found.records if isinstance(r.value, dict)]


def log_event(run_dir: Path, event: str, **fields: Any) -> None:
    """Append one event (start, resume, end, interrupted, failed) to ``events.jsonl``."""
    append_jsonl(run_dir / EVENTS, [{"event": event, "time": time.time(), **fields}])


def metric_series(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Per metric, its (step, value) points; a step logged twice (after a resume) keeps its last value."""
    by_step: dict[str, dict[int, float]] = {}
    for record in read_records(run_dir / METRICS):
        step = record.get("step")
        if step is None:
            continue
        for key, value in record.items():
            if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                by_step.setdefault(key, {})[int(step)] = float(value)
    return {key: sorted(points.items()) for key, points in by_step.items()}


def reward_metrics(series: dict[str, list[tuple[int, float]]]) -> list[str]:
    """The per-reward mean metrics TRL logs (``rewards/<name>/mean``), plus the total ``reward``."""
    names = sorted(k for k in series if k.startswith("rewards/") and k.endswith("/mean"))
    return names + (["reward"] if "reward" in series else [])


def summarise(run_dir: Path, last: int = 10, *, losses: bool = False) -> dict[str, Any]:
    """First and last values (mean of ``last`` logged steps) of each reward metric (and with ``losses``,
    of the training loss: a run without rewards, SFT), and on how many logged steps it was scored."""
    series = metric_series(run_dir)
    summary: dict[str, Any] = {"steps": max((p[-1][0] for p in series.values() if p), default=0)}
    for key in reward_metrics(series) + (["loss"] if losses and "loss" in series else []):
        values = [v for _, v in series[key]]
        summary[key] = {
            "first": sum(values[:last]) / len(values[:last]),
            "last": sum(values[-last:]) / len(values[-last:]),
            "steps": len(values),
        }
    return summary


# --------------------------------------------------------------------------- ownership and locking


def run_kind(path: str | Path) -> str | None:
    """What medr1 made ``path`` for (``train``, ``eval``, ``eval-matrix``), or ``None`` if not medr1's."""
    path = Path(path)
    owner = path / OWNER
    if owner.is_file():
        try:
            return str(json.loads(owner.read_text(encoding="utf-8")).get("kind"))
        except (ValueError, OSError, AttributeError):
            return "unknown"
    for kind, names in _LEGACY.items():
        if all((path / name).is_file() for name in names):
            return kind
    return None


def claim_run_dir(path: str | Path, kind: str) -> bool:
    """Make sure medr1 may write ``kind`` work into ``path``; mark it. True if the folder was made now.

    Allowed: a new folder, an empty one, or one already marked for ``kind``.
    Refused with :class:`~medr1_core.errors.RunDirError`: a folder of another
    kind, or one holding files medr1 did not write.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path} is a file, not a folder for a medr1 run")
    made = not path.exists()
    found = None if made else run_kind(path)
    if found == kind:
        return False
    if found is not None:
        raise RunDirError(f"{path} holds a medr1 {found} run, not a {kind} run; choose another folder")
    if not made:
        others = sorted(p.name for p in path.iterdir())
        if others:
            shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
            noun = {"train": "run", "eval": "evaluation", "eval-matrix": "evaluation matrix"}.get(kind, kind)
            raise RunDirError(
                f"{path} is not a medr1 {noun} folder and is not empty ({shown}); medr1 writes only into its own "
                "folders: choose a new or empty folder"
            )
    path.mkdir(parents=True, exist_ok=True)
    write_atomic(path / OWNER, json.dumps({"kind": kind, "medr1": __version__, "created": time.time()}) + "\n")
    return made


def release_new_run_dir(path: Path) -> None:
    """Remove a folder :func:`claim_run_dir` made, if nothing but medr1's marker and lock are in it."""
    leftovers = {p.name for p in path.iterdir()} - {OWNER, LOCK} if path.is_dir() else {"?"}
    if not leftovers:
        for name in (OWNER, LOCK):
            (path / name).unlink(missing_ok=True)
        path.rmdir()


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (ValueError, OSError):
        return "another medr1 process"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("since", 0)))
    return f"another medr1 process (pid {info.get('pid', '?')}, {info.get('command', 'medr1')}, since {since})"


@contextmanager
def locked(path: str | Path, command: str) -> Iterator[None]:
    """Hold ``path``'s lock while the block runs; :class:`~medr1_core.errors.RunDirError` if another holds it.

    The lock is an ``flock`` on ``.medr1.lock``: it ends with the process
    (a kill included), so a stale lock never blocks a later run. Where
    ``fcntl`` does not exist (Windows) nothing is locked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on the platforms medr1 is tested on
        yield
        return
    path = Path(path)
    lock = path / LOCK
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise RunDirError(f"{path} is in use by {_holder(lock)}; wait for it to end or choose another folder") from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "command": command, "since": time.time()}).encode())
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a kill mid-write leaves the old file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


# --------------------------------------------------------------------------- checkpoints and the end


def checkpoint_complete(path: Path) -> bool:
    """Whether TRL finished saving ``checkpoint-N``: its trainer state (written last) is there, for step N."""
    m = CHECKPOINT.fullmatch(path.name)
    try:
        state = json.loads((path / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(m) and isinstance(state, dict) and state.get("global_step") == int(m.group(1))


def checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """Every ``checkpoint-N`` folder of ``run_dir``, by step."""
    found = []
    for child in Path(run_dir).glob("checkpoint-*"):
        m = CHECKPOINT.fullmatch(child.name)
        if m and child.is_dir():
            found.append((int(m.group(1)), child))
    return sorted(found)


def latest_complete_checkpoint(run_dir: Path) -> Path | None:
    """The highest-numbered complete checkpoint of ``run_dir``, if any."""
    complete = [path for _, path in checkpoints(run_dir) if checkpoint_complete(path)]
    return complete[-1] if complete else None


def remove_incomplete_checkpoints(run_dir: Path) -> list[str]:
    """Delete the checkpoints a kill cut off mid-save (medr1's own half-written files); their names."""
    removed = []
    for _, path in checkpoints(run_dir):
        if not checkpoint_complete(path):
            shutil.rmtree(path)
            removed.append(path.name)
    return removed


def finished(run_dir: Path) -> dict[str, Any] | None:
    """The ``end`` event of a run that finished (its last event, with its final model saved), else ``None``."""
    events = read_jsonl(Path(run_dir) / EVENTS, missing_ok=True).values
    last = events[-1] if events else None
    if isinstance(last, dict) and last.get("event") == "end" and (Path(run_dir) / FINAL_MODEL_DIR).is_dir():
        return last
    return None
