"""What medr1 prints while it works: one progress bar with live figures, and tables at the end.

- :func:`table`: rows as an aligned text table (the end-of-run summaries);
- :func:`progress_figures`: the live figures of a training progress bar
  (the total reward and each reward's recent mean, or the loss);
- :func:`train_summary` / :func:`eval_summary`: the tables ``medr1 train``,
  ``medr1 sft`` and ``medr1 eval`` print when they finish;
- :func:`quiet_libraries`: keep the libraries' own progress bars and
  deprecation chatter off the terminal (``--verbose`` brings them back).

Everything here formats; nothing here reads or writes a run's files.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

#: Deprecation warnings raised inside the libraries by their own calls (nothing a user can change).
LIBRARY_WARNINGS = (
    r".*`\w*gradient_checkpointing\w*` is deprecated.*",  # TRL calling transformers' old names
)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, indent: str = "  ") -> str:
    """An aligned text table: text columns left-aligned, numbers right-aligned.

    >>> print(table(["reward", "last"], [["format", "0.500"], ["dtree", "1.000"]]))
      reward   last
      ------  -----
      format  0.500
      dtree   1.000
    """
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_looks_numeric(row[i]) for row in cells[1:] if row[i]) and any(row[i] for row in cells[1:])
               for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(row, widths, numeric)]
        return (indent + "  ".join(parts)).rstrip()

    rule = indent + "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def _looks_numeric(text: str) -> bool:
    stripped = text.strip().rstrip("%").lstrip("+-")
    return stripped.replace(".", "", 1).isdigit() or stripped in ("n/a", "-")


def reward_name(metric: str) -> str:
    """``rewards/format/mean`` -> ``format``; the total ``reward`` -> ``total``."""
    return "total" if metric == "reward" else metric.removeprefix("rewards/").removesuffix("/mean")


def progress_figures(latest: Mapping[str, float], recent: Mapping[str, Sequence[float]]) -> str:
    """The text after a training progress bar.

    ``latest`` is the last logged step's metrics; ``recent`` each reward's
    means over its last logged steps (only the steps where it scored
    something). A run without rewards (SFT) shows its loss.

    >>> progress_figures({"reward": 1.25}, {"format": [1.0, 0.5], "dtree": []})
    'reward 1.250 | format 0.750'
    """
    parts = []
    if "reward" in latest:
        parts.append(f"reward {latest['reward']:.3f}")
    elif "loss" in latest:
        parts.append(f"loss {latest['loss']:.4g}")
    means = [f"{name} {sum(v) / len(v):.3f}" for name, v in recent.items() if v]
    if means:
        parts.append(" ".join(means))
    return " | ".join(parts)


def metrics_line(logs: Mapping[str, Any]) -> str:
    """One logged step's metrics as ``key=value`` pairs (what ``--verbose`` prints)."""
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in logs.items())


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def train_summary(summary: Mapping[str, Any]) -> str:
    """The end-of-run table of ``medr1 train`` (or ``medr1 sft``) from the engine's summary.

    One row per reward and the weighted total: its weight, the mean of its
    first and last logged steps (up to ``summary["window"]`` of each, only
    steps where it scored something), the change, and on how many logged
    steps it scored; then the loss for a run without rewards.
    """
    window = summary.get("window", 10)
    weights = summary.get("weights") or {}
    lines = [f"medr1: run finished after {summary.get('steps', 0)} steps -> {summary.get('run_dir', '')}"]
    rows = []
    for key, value in summary.items():
        if isinstance(value, Mapping) and "first" in value and "last" in value:
            name = reward_name(key) if key.startswith("rewards/") or key == "reward" else key
            label = "total (weighted)" if key == "reward" else name
            weight = "" if key == "reward" or name not in weights else f"{weights[name]:g}"
            rows.append([label, weight, _fmt(value["first"]), _fmt(value["last"]),
                         _fmt(value["last"] - value["first"], signed=True), value.get("steps", "")])
    if rows:
        rewarded = any(key.startswith("rewards/") or key == "reward" for key in summary)
        headers = ["reward", "weight"] if rewarded else ["metric", "weight"]  # a run without rewards: its loss
        lines.append(table([*headers, f"first {window}", f"last {window}", "change",
                            "steps scored" if rewarded else "steps"], rows))
    failures = summary.get("reward_failures") or {}
    if failures:
        lines.append("  reward failures (batches): " + ", ".join(f"{k} {v}" for k, v in failures.items()))
    if summary.get("unreadable_images"):
        lines.append(f"  unreadable images skipped: {summary['unreadable_images']}")
    if summary.get("report"):
        lines.append(f"  report: {summary['report']}")
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def _ci(cell: Mapping[str, Any]) -> str:
    ci = cell.get("ci95")
    return f"{100 * ci[0]:.1f}-{100 * ci[1]:.1f}" if ci else ""


def eval_summary(results: Mapping[str, Any]) -> str:
    """The accuracy table ``medr1 eval`` prints: overall, then each modality and each task."""
    rows = [["overall", "", results["overall"]["n"], results["overall"].get("correct", ""),
             _pct(results["overall"]["accuracy"]), _ci(results["overall"])]]
    for kind, key in (("modality", "by_modality"), ("task", "by_task")):
        for name, cell in (results.get(key) or {}).items():
            rows.append([kind, name, cell["n"], cell.get("correct", ""), _pct(cell["accuracy"]), _ci(cell)])
    return table(["", "", "n", "correct", "accuracy %", "95% CI"], rows)


def _no_deepspeed_cpu_notice() -> None:
    """Where no GPU is visible, tell DeepSpeed (when installed: accelerate imports it) that it runs on the CPU,
    the choice its detection would make, so it does not print "Setting accelerator to CPU" at every start."""
    import os

    if "DS_ACCELERATOR" not in os.environ:
        import torch

        if not torch.cuda.is_available():
            os.environ["DS_ACCELERATOR"] = "cpu"


def quiet_libraries(verbose: bool = False) -> None:
    """Keep transformers' and datasets' own progress bars (weights loading, shard writing) and the
    libraries' internal deprecation warnings off the terminal, unless ``verbose``."""
    if verbose:
        return
    for pattern in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    _no_deepspeed_cpu_notice()
    try:
        import datasets

        datasets.disable_progress_bars()
    except ImportError:  # pragma: no cover - datasets is a dependency
        pass
