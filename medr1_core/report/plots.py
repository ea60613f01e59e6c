"""The pictures medr1 draws (matplotlib, Agg backend, imported lazily).

- :func:`plot_reward_curve`: a training run's reward means per step;
- :func:`plot_modality_task`: accuracy of one model per modality x task;
- :func:`plot_matrix`: the generalization matrix (rows: what each model was
  trained on, columns: what it is tested on), like Med-R1's figures;
- :func:`plot_improvement`: each model minus the base model, on a diverging
  scale centred at 0, with significant cells marked ``*``.

Every function writes a PNG and returns its path. Empty cells (no
questions) are drawn grey and left blank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def heatmap(
    values: Sequence[Sequence[float | None]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    path: str | Path,
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    vmin: float = 0.0,
    vmax: float = 1.0,
    cmap: str = "viridis",
    percent: bool = True,
    signed: bool = False,
    marks: Sequence[Sequence[str]] | None = None,
    colorbar_label: str = "accuracy",
    total_row: bool = False,
    total_col: bool = False,
) -> Path:
    """Draw ``values`` (rows x columns, ``None`` = no data) as an annotated heatmap PNG.

    Values are fractions; ``percent`` prints them as percentages, ``signed``
    with a leading ``+``. ``marks`` adds a suffix per cell (e.g. ``"*"``).
    ``total_row`` / ``total_col`` draw a separator before the last row /
    column (an "all" margin).
    """
    import numpy as np

    plt = _pyplot()
    rows, cols = len(row_labels), len(col_labels)
    if len(values) != rows or any(len(r) != cols for r in values):
        raise ValueError(f"heatmap: values must be {rows} x {cols} to match the labels")
    grid = np.array([[np.nan if v is None else float(v) for v in row] for row in values], dtype=float).reshape(
        rows, cols
    )
    width = max(5.0, 2.0 + 1.0 * cols)
    height = max(3.5, 1.6 + 0.6 * rows)
    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    try:
        colormap = plt.get_cmap(cmap).with_extremes(bad="#dddddd")
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=colormap, vmin=vmin, vmax=vmax, aspect="auto")
        ax.set_xticks(range(cols), labels=list(col_labels), rotation=35, ha="right")
        ax.set_yticks(range(rows), labels=list(row_labels))
        if title:
            ax.set_title(title)
        if xlabel:
            ax.set_xlabel(xlabel)
        if ylabel:
            ax.set_ylabel(ylabel)
        span = (vmax - vmin) or 1.0
        for i in range(rows):
            for j in range(cols):
                v = grid[i, j]
                if np.isnan(v):
                    continue
                shown = v * 100 if percent else v
                text = f"{shown:+.1f}" if signed else f"{shown:.1f}"
                if marks is not None:
                    text += marks[i][j]
                shade = colormap((v - vmin) / span)
                luminance = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2]
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="black" if luminance > 0.5 else "white")
        if total_row:
            ax.axhline(rows - 1.5, color="white", linewidth=3)
        if total_col:
            ax.axvline(cols - 1.5, color="white", linewidth=3)
        from matplotlib.ticker import FuncFormatter

        bar = fig.colorbar(image, ax=ax, label=colorbar_label + (" (%)" if percent and not signed else ""))
        if percent:
            bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v * 100:{'+' if signed else ''}.0f}"))
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def _accuracy(cell: Mapping[str, Any] | None) -> float | None:
    return None if not cell else cell.get("accuracy")


def plot_modality_task(results: Mapping[str, Any], path: str | Path, *, title: str | None = None) -> Path:
    """Heatmap of a ``results.json``'s modality x task accuracy, with an "all" row and column."""
    by_mt = results["by_modality_task"]
    modalities = list(results["by_modality"])
    tasks = list(results["by_task"])
    values = [[_accuracy(by_mt.get(m, {}).get(t)) for t in tasks] + [_accuracy(results["by_modality"][m])]
              for m in modalities]
    values.append([_accuracy(results["by_task"][t]) for t in tasks] + [_accuracy(results["overall"])])
    return heatmap(
        values,
        [*modalities, "all"],
        [*tasks, "all"],
        path,
        title=title or f"Accuracy (%) by modality x task: {results.get('model', '')}".rstrip(": "),
        xlabel="task",
        ylabel="modality",
        total_row=True,
        total_col=True,
    )


def plot_matrix(matrix: Mapping[str, Any], path: str | Path, *, title: str | None = None) -> Path:
    """Heatmap of a generalization matrix (``matrix.json``): accuracy, trained-on x tested-on."""
    rows = list(matrix["rows"])
    cols = list(matrix["columns"])
    cells = matrix["accuracy"]
    overall = matrix["overall"]
    labels = list(rows)
    values = [[_accuracy(cells[r].get(c)) for c in cols] + [_accuracy(overall[r])] for r in rows]
    if matrix.get("base"):
        name = matrix["base_name"]
        labels.append(name if name == "base" else f"{name} (base)")
        values.append([_accuracy(matrix["base"].get(c)) for c in cols] + [_accuracy(matrix["base_overall"])])
    by = matrix.get("by", "modality")
    return heatmap(
        values,
        labels,
        [*cols, "all"],
        path,
        title=title or f"Cross-{by} generalization: accuracy (%)",
        xlabel=f"tested on ({by})",
        ylabel="model (trained on)",
        total_row=bool(matrix.get("base")),
        total_col=True,
    )


def plot_improvement(matrix: Mapping[str, Any], path: str | Path, *, title: str | None = None) -> Path:
    """Heatmap of each model's accuracy minus the base model's (percentage points).

    Cells whose paired McNemar test is significant are marked ``*``.
    """
    if not matrix.get("improvement"):
        raise ValueError("plot_improvement: the matrix has no base model to compare with (use --base)")
    rows = list(matrix["rows"])
    cols = list(matrix["columns"])
    imp = matrix["improvement"]
    imp_all = matrix["improvement_overall"]
    values = [[(imp[r].get(c) or {}).get("difference") for c in cols] + [imp_all[r]["difference"]] for r in rows]
    marks = [
        ["*" if (imp[r].get(c) or {}).get("significant") else "" for c in cols]
        + ["*" if imp_all[r]["significant"] else ""]
        for r in rows
    ]
    finite = [abs(v) for row in values for v in row if v is not None]
    bound = max(finite + [0.05])
    by = matrix.get("by", "modality")
    return heatmap(
        values,
        rows,
        [*cols, "all"],
        path,
        total_col=True,
        title=title or f"Improvement over {matrix.get('base_name', 'base')} (points; * p<{matrix.get('alpha', 0.05)})",
        xlabel=f"tested on ({by})",
        ylabel="model (trained on)",
        vmin=-bound,
        vmax=bound,
        cmap="RdBu",
        signed=True,
        marks=marks,
        colorbar_label="accuracy difference, points",
    )


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """The mean of each value and up to ``window - 1`` before it."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot_reward_curve(
    series: Mapping[str, Sequence[tuple[int, float]]], path: str | Path, *, title: str = "", window: int = 10
) -> Path | None:
    """Each reward's mean per step (raw, and a ``window``-step moving average once there are enough
    steps) from ``series`` (metric name -> ``(step, value)`` points, as
    :func:`medr1_core.train.run_dir.metric_series` reads them); ``None`` when no reward was logged."""
    from ..train.run_dir import reward_metrics

    keys = reward_metrics(dict(series))
    if not keys:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for key in keys:
        steps, values = zip(*series[key])
        label = "total (weighted)" if key == "reward" else key.removeprefix("rewards/").removesuffix("/mean")
        line = ax.plot(steps, values, alpha=0.3, linewidth=1)[0]
        if len(values) >= window:
            ax.plot(steps, moving_average(values, window), color=line.get_color(), linewidth=2,
                    label=f"{label} ({window}-step mean)")
        else:
            line.set_alpha(1)
            line.set_label(label)
    ax.set_xlabel("step")
    ax.set_ylabel("reward (mean over completions)")
    ax.set_title(title or "Rewards")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
