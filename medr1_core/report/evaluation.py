"""``report.html`` of an evaluation directory (``medr1 eval``).

From the evaluation's own files (:mod:`medr1_core.eval.results`,
:mod:`medr1_core.eval.predictions`): the accuracy tables by modality and by
task with their 95% intervals, the modality x task heatmap, and each question
with its image, the model's answer and the expected one, filtered by
modality, task and outcome (correct, wrong, no answer).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import read_json_object
from .charts import heat_style
from .items import completion_html, item_list, label_filter, question_card
from .page import Raw, esc, page, section, select, table, value_html, write_page
from .thumbnails import Thumbnails

#: Questions a report lists at most; ``--max-items``.
MAX_QUESTIONS = 2000
OUTCOMES = (("correct", "correct"), ("wrong", "wrong answer"), ("no-answer", "no answer (parse failure)"))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def _ci(cell: Mapping[str, Any]) -> str:
    ci = cell.get("ci95")
    return f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else ""


def _bar(value: float | None) -> Raw:
    width = 0 if value is None else round(100 * value)
    return Raw(f'<span style="display:inline-block;width:{width}px;max-width:100px;height:9px;'
               f'background:#4e79a7;border-radius:2px"></span> {_pct(value)}')


def accuracy_section(results: Mapping[str, Any]) -> str:
    """Tables by modality and by task, and the modality x task heatmap (with the "all" margins)."""
    parts = []
    for title, key in (("By modality", "by_modality"), ("By task", "by_task")):
        rows = [[name, cell["n"], cell.get("correct", ""), _bar(cell.get("accuracy")), _ci(cell)]
                for name, cell in (results.get(key) or {}).items()]
        parts.append(f"<div><h3>{title}</h3>" + table(["", "n", "correct", "accuracy %", "95% CI"], rows) + "</div>")
    tables = f'<div class="charts">{"".join(parts)}</div>'
    return section("Accuracy", tables + "<h3>Modality x task</h3>" + heatmap_table(results), section_id="accuracy",
                   note="Accuracy in %, with 95% Wilson intervals; in the heatmap, the number of questions in brackets.")


def heatmap_table(results: Mapping[str, Any]) -> str:
    """The modality x task accuracies as a coloured table, with an "all" row and column."""
    tasks = list(results.get("by_task") or {})
    by_mt = results.get("by_modality_task") or {}

    def cell(c: Mapping[str, Any] | None) -> str:
        if not c:
            return f'<td style="{heat_style(None)}"></td>'
        return f'<td style="{heat_style(c.get("accuracy"))}" title="95% CI {_ci(c)}">{_pct(c.get("accuracy"))} ({c["n"]})</td>'

    head = "<tr><th>modality \\ task</th>" + "".join(f"<th>{esc(t)}</th>" for t in tasks) + "<th>all</th></tr>"
    rows = ["<tr><th>" + esc(m) + "</th>" + "".join(cell(by_mt.get(m, {}).get(t)) for t in tasks)
            + cell(results["by_modality"][m]) + "</tr>" for m in results.get("by_modality") or {}]
    rows.append("<tr><th>all</th>" + "".join(cell(results["by_task"][t]) for t in tasks)
                + cell(results.get("overall")) + "</tr>")
    return f'<table class="heat"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def outcome(prediction: Mapping[str, Any]) -> str:
    """``correct``, ``wrong`` or ``no-answer`` (no committed answer: a parse failure)."""
    if prediction.get("correct"):
        return "correct"
    return "wrong" if prediction.get("answer") is not None or prediction.get("letter") else "no-answer"


def questions_section(predictions: list[dict[str, Any]], thumbnails: Thumbnails, limit: int) -> str:
    shown = predictions[:limit]
    cards = []
    for p in shown:
        result = outcome(p)
        chip = {"correct": "full", "wrong": "zero", "no-answer": "na"}[result]
        answered = p.get("letter") or p.get("answer")
        body = (f'<div class="entry" data-outcomes="{result}"><span class="chip {chip}">{esc(result)}</span>'
                f'<span class="meta">model answered <b>{esc(answered if answered is not None else "nothing")}</b>'
                + (f" ({esc(p['answer'])})" if p.get("answer") and p.get("answer") != answered else "")
                + f'</span>{completion_html(p.get("completion"))}</div>')
        cards.append(question_card(p, thumbnails.keys(p.get("images") or []), body, expected=p.get("target"),
                                   chosen=p.get("letter"), attrs={"modality": p.get("modality"), "task": p.get("task"),
                                                                  "outcomes": result},
                                   meta=[p.get("modality") or "", p.get("task") or "", p.get("dataset") or ""]))
    filters = [label_filter("modality", "modality", sorted({p.get("modality") or "" for p in shown})),
               label_filter("task", "task", sorted({p.get("task") or "" for p in shown})),
               select("outcome", "outcome", OUTCOMES, all_label="any")]
    note = ("Each question with its image, the model's answer and the expected one (green; the model's choice "
            "underlined). Click a thumbnail to enlarge it."
            + (f" The first {len(shown)} of {len(predictions)} questions are listed (<code>medr1 report "
               "--max-items</code> lists more)." if len(shown) < len(predictions) else ""))
    return section("Questions", item_list(filters, cards), section_id="questions", note=note)


def build_eval_report(eval_dir: str | Path, *, max_items: int = MAX_QUESTIONS) -> str:
    """The HTML of ``eval_dir``'s report (see the module doc)."""
    from ..eval.predictions import PREDICTIONS_FILE, read_predictions
    from ..eval.results import RESULTS_JSON
    from ..eval.stats import summarize
    from .lookup import fill_from_data

    eval_dir = Path(eval_dir)
    found = read_predictions(eval_dir / PREDICTIONS_FILE)
    predictions = found.records
    results = read_json_object(eval_dir / RESULTS_JSON) or {"model": "?", "data": None, **summarize(predictions)}
    missing_note = fill_from_data(predictions, results.get("data"), format=results.get("format"))
    thumbnails = Thumbnails()
    o = results["overall"]
    subtitle = (f"model <code>{esc(results.get('model'))}</code> · data <code>{esc(results.get('data'))}</code> · "
                f"variant {esc(results.get('variant', '?'))} · accuracy <b>{_pct(o.get('accuracy'))}%</b> "
                f"{_ci(o)} over {o['n']} question(s)"
                + (f" · parse failures {_pct(results.get('parse_failure_rate'))}%"
                   if results.get("parse_failure_rate") is not None else "")
                + f" · {esc(eval_dir.resolve())}")
    body = [accuracy_section(results), questions_section(predictions, thumbnails, max_items)]
    problems = [f"{PREDICTIONS_FILE}:{line}: {why}" for line, why in found.bad_lines][:20] + ([missing_note] if missing_note else []) + \
        [f"{p}: {why}" for p, why in thumbnails.failed.items()][:20]
    if problems:
        body.insert(0, section("Could not show everything",
                               "<ul>" + "".join(f"<li>{esc(p)}</li>" for p in problems) + "</ul>"))
    settings = {k: results.get(k) for k in ("model", "model_source", "data", "format", "variant", "backend",
                                            "sampling", "filters", "counts")}
    body.append(section("Settings and counts", value_html(settings), section_id="settings"))
    return page(f"medr1 evaluation {eval_dir.name}", "".join(body), images=thumbnails.images, subtitle=subtitle)


def write_eval_report(eval_dir: str | Path, output: str | Path | None = None, *, max_items: int = MAX_QUESTIONS) -> Path:
    """Write ``eval_dir``'s ``report.html`` (or ``output``); returns its path."""
    from . import REPORT_FILE

    path = Path(output) if output is not None else Path(eval_dir) / REPORT_FILE
    return write_page(path, build_eval_report(eval_dir, max_items=max_items))
