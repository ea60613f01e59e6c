"""The generalization matrix: models trained on one modality (or task), tested on all.

Med-R1's claim is generalization, so its headline table has a row per model
(what it was trained on) and a column per modality or task of the test
questions:

- :func:`build_matrix`: the matrix of several models' predictions, with 95%
  Wilson intervals and, against a base model, paired improvements (exact
  McNemar per cell); pure Python;
- :func:`matrix_markdown`, :func:`write_matrix`: ``matrix.json``,
  ``matrix.md``, ``matrix.png`` and ``improvement.png``;
- :func:`generalization_matrix`: evaluates every model with
  :func:`medr1_core.eval.run.evaluate` (resumable, one directory each) and
  writes the matrix; :func:`parse_named_models` reads ``--models``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .stats import accuracy_cell, ci95_text, compare_predictions, group_name, ordered_names, percent_text
from .results import RESULTS_JSON
from .run import EvalError, EvalReport, evaluate

MATRIX_JSON = "matrix.json"
MATRIX_MD = "matrix.md"
MATRIX_PNG = "matrix.png"
IMPROVEMENT_PNG = "improvement.png"
BY = ("modality", "task")


def build_matrix(
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    by: str = "modality",
    base: Sequence[Mapping[str, Any]] | None = None,
    base_name: str = "base",
    alpha: float = 0.05,
    column_order: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The generalization matrix of several models' predictions.

    ``rows`` maps a model's name (what it was trained on: ``"ct"``) to its
    predictions; columns are what the questions are (their modality, or task
    with ``by="task"``). Each cell is an accuracy cell with a 95% Wilson
    interval. With ``base`` predictions, ``improvement[row][column]`` is the
    paired comparison of the model against the base on shared question ids
    (``difference`` = model minus base, exact McNemar ``p_value``,
    ``significant``). Returns the JSON-ready ``matrix.json`` dict.
    """
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}, got {by!r}")
    if not rows:
        raise ValueError("build_matrix: no models")
    if base is not None and base_name in rows:
        raise ValueError(f"build_matrix: the base model's name {base_name!r} is also a row name")
    key = by
    found = {group_name(p.get(key)) for preds in [*rows.values(), base or []] for p in preds}
    columns = ordered_names(found, column_order)

    def cells(preds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        groups: dict[str, list[bool]] = {}
        for p in preds:
            groups.setdefault(group_name(p.get(key)), []).append(bool(p.get("correct")))
        return {c: accuracy_cell(groups[c]).to_dict() for c in columns if c in groups}

    matrix: dict[str, Any] = {
        "by": by,
        "rows": list(rows),
        "columns": columns,
        "accuracy": {name: cells(preds) for name, preds in rows.items()},
        "overall": {name: accuracy_cell(bool(p.get("correct")) for p in preds).to_dict() for name, preds in rows.items()},
        "alpha": alpha,
        "base_name": base_name if base is not None else None,
        "base": None,
        "base_overall": None,
        "improvement": None,
        "improvement_overall": None,
    }
    if base is not None:
        matrix["base"] = cells(base)
        matrix["base_overall"] = accuracy_cell(bool(p.get("correct")) for p in base).to_dict()
        matrix["improvement"], matrix["improvement_overall"] = {}, {}
        for name, preds in rows.items():
            paired = compare_predictions(
                [{**p, "modality": p.get(key)} for p in base],
                [{**p, "modality": p.get(key)} for p in preds],
                alpha=alpha,
                modality_order=columns,
            )
            matrix["improvement"][name] = paired["by_modality"]
            matrix["improvement_overall"][name] = paired["overall"]
    return matrix


def matrix_markdown(matrix: Mapping[str, Any]) -> str:
    """``matrix.md``: accuracy (with 95% CIs) per model x tested-on column, and the improvement table."""
    by, cols, rows = matrix["by"], matrix["columns"], matrix["rows"]

    def cell_text(cell: Mapping[str, Any] | None, bold: bool = False) -> str:
        if not cell or not cell.get("n"):
            return ""
        text = f"{percent_text(cell['accuracy'])} {ci95_text(cell)}"
        return f"**{text}**" if bold else text

    lines = [
        f"# Cross-{by} generalization",
        "",
        f"Accuracy in % [95% Wilson interval]. Rows: the model (what it was trained on); columns: the {by} "
        "of the test questions. **Bold**: in-domain (row name = column).",
        "",
        f"| model \\ tested on | " + " | ".join(cols) + " | all |",
        "| --- |" + " ---: |" * (len(cols) + 1),
    ]
    for r in rows:
        cells = [cell_text(matrix["accuracy"][r].get(c), bold=(r == c)) for c in cols]
        lines.append(f"| {r} | " + " | ".join(cells) + f" | {cell_text(matrix['overall'][r])} |")
    if matrix.get("base") is not None:
        cells = [cell_text(matrix["base"].get(c)) for c in cols]
        name = matrix["base_name"]
        lines.append(f"| {name if name == 'base' else name + ' (base)'} | " + " | ".join(cells) + f" | {cell_text(matrix['base_overall'])} |")
    counts = []
    for c in cols:
        ns = {matrix["accuracy"][r][c]["n"] for r in rows if c in matrix["accuracy"][r]}
        counts.append("/".join(str(n) for n in sorted(ns)))
    ns_all = {matrix["overall"][r]["n"] for r in rows}
    lines.append("| n (questions) | " + " | ".join(counts) + " | " + "/".join(str(n) for n in sorted(ns_all)) + " |")
    if matrix.get("improvement"):
        lines += [
            "",
            f"## Improvement over {matrix['base_name']}",
            "",
            f"Accuracy difference, model minus {matrix['base_name']}, in percentage points, on the questions both "
            f"answered. `*`: exact McNemar p < {matrix['alpha']} (per cell, uncorrected).",
            "",
            "| model | " + " | ".join(cols) + " | all |",
            "| --- |" + " ---: |" * (len(cols) + 1),
        ]

        def diff_text(cell: Mapping[str, Any] | None) -> str:
            if not cell or cell.get("difference") is None:
                return ""
            return f"{100 * cell['difference']:+.1f}" + ("*" if cell["significant"] else "")

        for r in rows:
            cells = [diff_text(matrix["improvement"][r].get(c)) for c in cols]
            lines.append(f"| {r} | " + " | ".join(cells) + f" | {diff_text(matrix['improvement_overall'][r])} |")
    return "\n".join(lines) + "\n"


def write_matrix(output_dir: str | Path, matrix: Mapping[str, Any]) -> dict[str, Path]:
    """Write ``matrix.json``, ``matrix.md``, ``matrix.png`` and (with a base) ``improvement.png``."""
    from ..report.plots import plot_improvement, plot_matrix

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / MATRIX_JSON, "md": out / MATRIX_MD}
    paths["json"].write_text(json.dumps(matrix, indent=2) + "\n")
    paths["md"].write_text(matrix_markdown(matrix))
    paths["png"] = plot_matrix(matrix, out / MATRIX_PNG)
    if matrix.get("improvement"):
        paths["improvement_png"] = plot_improvement(matrix, out / IMPROVEMENT_PNG)
    return paths


def parse_named_models(text: str) -> dict[str, str]:
    """``"ct=runs/ct,mri=runs/mri"`` -> ``{"ct": "runs/ct", "mri": "runs/mri"}``.

    Names become directory names under the matrix's output directory, so they
    must be simple (letters, digits, ``_ . -``) and unique.
    """
    import re

    models: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, spec = part.partition("=")
        name, spec = name.strip(), spec.strip()
        if not sep or not name or not spec:
            raise EvalError(f"--models: expected NAME=MODEL pairs separated by commas, got {part!r}")
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name) or name in (".", ".."):
            raise EvalError(f"--models: name {name!r} must be letters, digits, '_', '.' or '-' (it names a directory)")
        if name in models:
            raise EvalError(f"--models: name {name!r} is given twice")
        models[name] = spec
    if not models:
        raise EvalError("--models: no models given (expected e.g. ct=runs/ct,mri=runs/mri)")
    return models


def generalization_matrix(
    models: Mapping[str, str],
    data: str,
    output_dir: str | Path,
    *,
    by: str = "modality",
    base: str | None = None,
    base_name: str = "base",
    alpha: float = 0.05,
    plugins=None,
    on_model=None,
    **eval_kwargs,
) -> tuple[dict[str, Any], dict[str, EvalReport]]:
    """Evaluate every model on all of ``data`` and build the generalization matrix.

    Each model is evaluated into ``output_dir/<name>/`` (and the base model
    into ``output_dir/<base_name>/``) with :func:`evaluate`, so an interrupted
    matrix resumes where it stopped. ``eval_kwargs`` go to :func:`evaluate`
    (filters, batch size, ...); ``on_model(name, spec)`` is called before each
    evaluation (progress messages). Writes the files of :func:`write_matrix`
    into ``output_dir`` and returns the matrix and each model's report.
    """
    from ..plugins import get_plugins

    if by not in BY:
        raise EvalError(f"--by must be one of {', '.join(BY)}, got {by!r}")
    if base is not None and base_name in models:
        raise EvalError(f"the base model's name {base_name!r} is also one of --models; pick another --base-name")
    from ..train.run_dir import claim_run_dir

    plugins = plugins or get_plugins()
    out = Path(output_dir)
    claim_run_dir(out, "eval-matrix")  # medr1's own folder (a folder of the user's files is refused)
    todo = dict(models)
    if base is not None:
        todo[base_name] = base
    reports: dict[str, EvalReport] = {}
    for name, spec in todo.items():
        if on_model is not None:
            on_model(name, spec)
        reports[name] = evaluate(spec, data, out / name, plugins=plugins, **eval_kwargs)
    registry = plugins.modalities if by == "modality" else plugins.tasks
    matrix = build_matrix(
        {name: reports[name].predictions for name in models},
        by=by,
        base=reports[base_name].predictions if base is not None else None,
        base_name=base_name,
        alpha=alpha,
        column_order=registry.names(),
    )
    matrix["data"] = data
    matrix["models"] = {name: {"model": spec, "results": f"{name}/{RESULTS_JSON}"} for name, spec in todo.items()}
    write_matrix(out, matrix)
    return matrix, reports
