"""An evaluation's tables: ``results.json``, ``results.md`` and ``heatmap.png``.

The numbers come from :func:`medr1_core.eval.stats.summarize` (accuracy with
95% Wilson intervals by modality, task and both); this module writes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .stats import ci95_text, percent_text

RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
HEATMAP_PNG = "heatmap.png"


def results_markdown(results: Mapping[str, Any]) -> str:
    """``results.md``: the accuracy tables of a ``results.json`` (percentages, 95% Wilson CIs)."""
    o = results["overall"]
    lines = [
        f"# Evaluation of `{results.get('model', '?')}`",
        "",
        f"- data: `{results.get('data', '?')}`; prompt variant: `{results.get('variant', '?')}`",
        f"- questions: {o['n']}; accuracy {percent_text(o['accuracy'])}% (95% CI {ci95_text(o)})",
    ]
    if results.get("parse_failure_rate") is not None:
        lines.append(
            f"- parse failures (no committed answer, scored wrong): {results['parse_failures']} "
            f"({percent_text(results['parse_failure_rate'])}%); malformed tags: {results['malformed']} "
            f"({percent_text(results['malformed_rate'])}%)"
        )
    lines += ["", "Accuracy in %, with 95% Wilson intervals.", ""]
    lines += answer_type_lines(results)
    for title, key, label in (("By modality", "by_modality", "modality"), ("By task", "by_task", "task")):
        lines += [f"## {title}", "", f"| {label} | n | correct | accuracy | 95% CI |", "| --- | ---: | ---: | ---: | --- |"]
        for name, cell in results[key].items():
            lines.append(
                f"| {name} | {cell['n']} | {cell['correct']} | {percent_text(cell['accuracy'])} | {ci95_text(cell)} |"
            )
        lines.append("")
    tasks = list(results["by_task"])
    lines += [
        "## Modality x task",
        "",
        "Accuracy in % (number of questions).",
        "",
        "| modality \\ task | " + " | ".join(tasks) + " | all |",
        "| --- |" + " ---: |" * (len(tasks) + 1),
    ]
    for m, row in results["by_modality_task"].items():
        cells = [
            f"{percent_text(row[t]['accuracy'])} ({row[t]['n']})" if t in row else "" for t in tasks
        ]
        total = results["by_modality"][m]
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {percent_text(total['accuracy'])} ({total['n']}) |")
    row_all = [f"{percent_text(results['by_task'][t]['accuracy'])} ({results['by_task'][t]['n']})" for t in tasks]
    lines.append("| all | " + " | ".join(row_all) + f" | {percent_text(o['accuracy'])} ({o['n']}) |")
    return "\n".join(lines) + "\n"


def answer_type_lines(results: Mapping[str, Any]) -> list[str]:
    """The closed / open (and per-language) table of ``results.md``, as the VQA benchmarks report them.

    ``accuracy`` counts answers scored 1; ``mean score`` is the mean of the
    scores, the benchmark's number when the open metric gives partial credit
    (token recall, F1).
    """
    rows = [(kind, cell) for kind, cell in (results.get("by_answer_type") or {}).items()]
    rows += [(f"language {lang}", cell) for lang, cell in (results.get("by_language") or {}).items()]
    if not rows:
        return []
    metric = results.get("open_metric")
    lines = ["## Closed and open questions", ""]
    if metric:
        lines += [f"Open answers scored by `{metric}` (accuracy reward's `open_metric`).", ""]
    lines += ["| questions | n | correct | accuracy | 95% CI | mean score |", "| --- | ---: | ---: | ---: | --- | ---: |"]
    for name, cell in rows:
        lines.append(f"| {name} | {cell['n']} | {cell['correct']} | {percent_text(cell['accuracy'])} | "
                     f"{ci95_text(cell)} | {percent_text(cell.get('mean_score'))} |")
    return lines + [""]


def write_results(output_dir: str | Path, results: Mapping[str, Any], *, plot: bool = True) -> dict[str, Path]:
    """Write ``results.json``, ``results.md`` and (with ``plot``) ``heatmap.png``; return their paths."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / RESULTS_JSON, "md": out / RESULTS_MD}
    paths["json"].write_text(json.dumps(results, indent=2) + "\n")
    paths["md"].write_text(results_markdown(results))
    if plot and results["overall"]["n"]:
        from ..report.plots import plot_modality_task

        paths["heatmap"] = plot_modality_task(results, out / HEATMAP_PNG)
    return paths
