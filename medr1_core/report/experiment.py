"""``report.html`` of an experiment directory (``medr1 experiment``): its grid, tables and figures.

Rendered from the experiment's own files only:

- ``experiment.json``: ``cells``, each with ``id``, ``method``, ``variant``,
  ``train_subset`` (a name or a list), ``run_dir`` and ``eval_dirs`` (test
  subset -> evaluation directory; paths relative to the experiment directory
  or absolute); ``tables`` (any JSON: shown as tables); ``figures`` (PNG
  paths relative to the directory: a list, or name -> path);
- ``summary.md``, shown as it reads;
- each cell's evaluation ``results.json``, for the grid: per method and
  prompt variant, accuracy of each train subset (rows) on each test subset
  (columns), linking to each evaluation's and run's own report.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import REPORT_FILE, ReportError, read_json_object
from .charts import heat_style
from .page import Raw, esc, page, section, table, value_html, write_page

EXPERIMENT_JSON = "experiment.json"
SUMMARY_MD = "summary.md"


def _label(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "+".join(str(v) for v in value)
    return "" if value is None else str(value)


def _resolve(root: Path, path: Any) -> Path | None:
    if not isinstance(path, str) or not path:
        return None
    p = Path(path)
    return p if p.is_absolute() else root / p


def _link(base: Path, target: Path | None, text: str, style: str = "") -> str:
    """A link to ``target``'s report (else its folder) relative to ``base`` (the page's folder), as a
    page opened from disk follows it."""
    if target is None:
        return esc(text)
    page_path = target / REPORT_FILE if (target / REPORT_FILE).is_file() else target
    styled = f' style="{style}"' if style else ""
    return f'<a href="{esc(os.path.relpath(page_path, base))}"{styled}>{esc(text)}</a>'


def grid_section(root: Path, cells: Sequence[Mapping[str, Any]], base: Path) -> str:
    """Per (method, variant), the train-subset x test-subset accuracy grid from each evaluation's results.json."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for cell in cells:
        groups.setdefault((_label(cell.get("method")), _label(cell.get("variant"))), []).append(cell)
    parts = []
    for (method, variant), members in groups.items():
        tests = list(dict.fromkeys(t for c in members for t in (c.get("eval_dirs") or {})))
        head = "<tr><th>trained on \\ tested on</th>" + "".join(f"<th>{esc(t)}</th>" for t in tests) + "</tr>"
        rows = []
        for c in members:
            train = _label(c.get("train_subset")) or "-"
            row = [f"<th>{_link(base, _resolve(root, c.get('run_dir')), train)}</th>"]
            for t in tests:
                target = _resolve(root, (c.get("eval_dirs") or {}).get(t))
                overall = read_json_object(target / "results.json").get("overall") if target else None
                if not overall:
                    row.append(f'<td style="{heat_style(None)}">{"not run" if target else ""}</td>')
                    continue
                acc = overall.get("accuracy")
                text = "n/a" if acc is None else f"{100 * acc:.1f}"
                link = _link(base, target, text, style="color:inherit")
                if train == t:  # in-domain
                    link = f"<b>{link}</b>"
                row.append(f'<td style="{heat_style(acc)}" title="{overall.get("n", "?")} questions">{link}</td>')
            rows.append("<tr>" + "".join(row) + "</tr>")
        parts.append(f"<h3>{esc(method)} · {esc(variant)}</h3>"
                     f'<table class="heat"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>')
    note = ("Accuracy (%) of each cell's model on each test subset, from its evaluation's results.json; "
            "in-domain cells in bold. A cell links to that evaluation's report, a row name to the run's.")
    return section("Grid", "".join(parts) or '<p class="muted">no cells</p>', section_id="grid", note=note)


def cells_section(root: Path, cells: Sequence[Mapping[str, Any]], base: Path) -> str:
    rows = []
    for c in cells:
        evals = ", ".join(_link(base, _resolve(root, d), str(t)) for t, d in (c.get("eval_dirs") or {}).items())
        run = _resolve(root, c.get("run_dir"))
        rows.append([c.get("id", ""), _label(c.get("method")), _label(c.get("variant")), _label(c.get("train_subset")),
                     Raw(_link(base, run, c.get("run_dir") or "-") if run else "-"), Raw(evals or "-")])
    return section("Cells", table(["id", "method", "variant", "train subset", "run", "evaluations"], rows),
                   section_id="cells")


def figures_section(root: Path, figures: Any) -> tuple[str, list[str]]:
    """The figures as embedded PNGs; and the ones that could not be read."""
    named = list(figures.items()) if isinstance(figures, Mapping) else [(str(f), f) for f in figures or []]
    parts, missing = [], []
    for name, rel in named:
        path = _resolve(root, rel)
        try:
            data = path.read_bytes() if path else b""
        except OSError as exc:
            missing.append(f"figure {rel}: {exc.strerror or exc}")
            continue
        kind = "svg+xml" if str(rel).lower().endswith(".svg") else "png"
        parts.append(f'<figure class="png"><figcaption>{esc(name)}</figcaption>'
                     f'<img src="data:image/{kind};base64,{base64.b64encode(data).decode("ascii")}" alt="{esc(name)}">'
                     "</figure>")
    return (section("Figures", f'<div class="charts">{"".join(parts)}</div>', section_id="figures") if parts else ""), missing


def markdown_html(text: str) -> str:
    """``summary.md`` as HTML (Python-Markdown, with tables)."""
    import markdown

    return markdown.markdown(text, extensions=["tables", "fenced_code"])


def build_experiment_report(directory: str | Path, base: str | Path | None = None) -> str:
    """The HTML of the experiment directory's report; links are relative to ``base`` (default: the directory)."""
    root = Path(directory)
    base = Path(base) if base is not None else root
    spec = read_json_object(root / EXPERIMENT_JSON)
    if not spec:
        raise ReportError(f"{root / EXPERIMENT_JSON}: not a JSON object medr1 can read")
    cells = [c for c in spec.get("cells") or [] if isinstance(c, Mapping)]
    body = []
    summary = root / SUMMARY_MD
    if summary.is_file():
        body.append(section("Summary", markdown_html(summary.read_text(encoding="utf-8", errors="replace")),
                            section_id="summary"))
    body.append(grid_section(root, cells, base))
    figures, missing = figures_section(root, spec.get("figures"))
    body.append(figures)
    if spec.get("tables"):
        body.append(section("Tables", value_html(spec["tables"]), section_id="tables"))
    body.append(cells_section(root, cells, base))
    if missing:
        body.insert(0, section("Could not show everything", "<ul>" + "".join(f"<li>{esc(m)}</li>" for m in missing)
                               + "</ul>"))
    name = spec.get("name") or root.name
    subtitle = f"{len(cells)} cell(s) · {esc(root.resolve())}"
    return page(f"medr1 experiment {name}", "".join(body), subtitle=subtitle)


def write_experiment_report(directory: str | Path, output: str | Path | None = None) -> Path:
    """Write the experiment directory's ``report.html`` (or ``output``); returns its path."""
    path = Path(output) if output is not None else Path(directory) / REPORT_FILE
    return write_page(path, build_experiment_report(directory, base=path.parent))
