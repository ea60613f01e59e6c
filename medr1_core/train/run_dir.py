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

Files are appended to, never rewritten, so a killed run loses nothing it wrote.
The file names here are the only place they are spelled.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

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


def summarise(run_dir: Path, last: int = 10) -> dict[str, Any]:
    """First and last values (mean of ``last`` logged steps) of each reward metric, and on how many
    logged steps it was scored."""
    series = metric_series(run_dir)
    summary: dict[str, Any] = {"steps": max((p[-1][0] for p in series.values() if p), default=0)}
    for key in reward_metrics(series):
        values = [v for _, v in series[key]]
        summary[key] = {
            "first": sum(values[:last]) / len(values[:last]),
            "last": sum(values[-last:]) / len(values[-last:]),
            "steps": len(values),
        }
    return summary
