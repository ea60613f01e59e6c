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

Files are appended to, never rewritten, so a killed run loses nothing it wrote.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
COMPLETIONS = "completions.jsonl"
EVENTS = "events.jsonl"
DATA_REPORT = "data_report.json"
CURVE = "reward_curve.png"


RUNS_ROOT = "runs"


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


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return value


def append_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    """Append records as JSON lines (NaN and inf become null)."""
    with path.open("a", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps({k: _jsonable(v) for k, v in record.items()}, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read JSON lines, ignoring a last line cut short by a crash."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def log_event(run_dir: Path, event: str, **fields: Any) -> None:
    append_jsonl(run_dir / EVENTS, [{"event": event, "time": time.time(), **fields}])


def metric_series(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Per metric, its (step, value) points; a step logged twice (after a resume) keeps its last value."""
    by_step: dict[str, dict[int, float]] = {}
    for record in read_jsonl(run_dir / METRICS):
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


def plot_reward_curve(run_dir: Path, window: int = 10) -> Path | None:
    """Draw each reward's mean per step (raw and a moving average) into ``reward_curve.png``."""
    series = metric_series(run_dir)
    keys = reward_metrics(series)
    if not keys:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for key in keys:
        steps, values = zip(*series[key])
        label = "total (weighted)" if key == "reward" else key.removeprefix("rewards/").removesuffix("/mean")
        line = ax.plot(steps, values, alpha=0.3, linewidth=1)[0]
        if len(values) >= window:
            smooth = [sum(values[max(0, i - window + 1) : i + 1]) / len(values[max(0, i - window + 1) : i + 1]) for i in range(len(values))]
            ax.plot(steps, smooth, color=line.get_color(), linewidth=2, label=f"{label} ({window}-step mean)")
        else:
            line.set_alpha(1)
            line.set_label(label)
    ax.set_xlabel("step")
    ax.set_ylabel("reward (mean over completions)")
    ax.set_title(f"Rewards: {run_dir.name}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    out = run_dir / CURVE
    fig.savefig(out)
    plt.close(fig)
    return out


def summarise(run_dir: Path, last: int = 10) -> dict[str, Any]:
    """First and last values (mean of ``last`` logged steps) of each reward metric."""
    series = metric_series(run_dir)
    summary: dict[str, Any] = {"steps": max((p[-1][0] for p in series.values() if p), default=0)}
    for key in reward_metrics(series):
        values = [v for _, v in series[key]]
        summary[key] = {
            "first": sum(values[:last]) / len(values[:last]),
            "last": sum(values[-last:]) / len(values[-last:]),
        }
    return summary
