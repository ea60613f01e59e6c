"""Heatmaps of evaluation results (matplotlib, Agg backend, imported lazily).

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
