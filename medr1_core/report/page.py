"""One self-contained HTML page: medr1's report pages are built from these pieces.

A report is a single static file that works offline and from disk: the CSS
and the script (``report.css``, ``report.js`` beside this module) are inlined,
images are data URIs (:mod:`.thumbnails`), charts are inline SVG
(:mod:`.charts`), and nothing is fetched from anywhere. The page's data (the
images, once each) travels in ``<script type="application/json">`` blocks
the script reads.

The script shows any error it meets in a red banner at the top of the page
(and counts it in ``<body data-script-errors>``), fills in the thumbnails,
and runs the filters; when it is done it sets ``<body data-rendered>`` and
says how many images it shows in the page's footer.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any

from .._version import __version__


def esc(value: Any) -> str:
    """``value`` as HTML text (quotes escaped too)."""
    return html.escape("" if value is None else str(value), quote=True)


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def json_script(element_id: str, data: Any) -> str:
    """``data`` as a ``<script type="application/json">`` block the page's script can read safely."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False).replace("</", "<\\/")
    return f'<script type="application/json" id="{esc(element_id)}">{text}</script>'


def page(title: str, body: str, *, images: Mapping[str, str] | None = None, subtitle: str = "") -> str:
    """The whole HTML document: ``body`` (HTML) under a header, with the inlined CSS and script."""
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="medr1 {esc(__version__)}">',
        f"<title>{esc(title)}</title>",
        f"<style>{_asset('report.css')}</style>",
        "</head><body>",
        '<div id="medr1-errors" class="errors" hidden></div>',
        f"<header><h1>{esc(title)}</h1>" + (f'<p class="sub">{subtitle}</p>' if subtitle else "") + "</header>",
        f"<main>{body}</main>",
        f'<footer>Written by medr1 {esc(__version__)}. <span id="medr1-status">The page script has not run '
        "(is JavaScript off?): filters and thumbnails need it.</span></footer>",
        json_script("medr1-images", dict(images or {})),
        f"<script>{_asset('report.js')}</script>",
        "</body></html>",
    ])


def section(title: str, body: str, *, section_id: str = "", note: str = "") -> str:
    """A titled section (``note``: a sentence under the title, HTML)."""
    anchor = f' id="{esc(section_id)}"' if section_id else ""
    return f"<section{anchor}><h2>{esc(title)}</h2>" + (f'<p class="note">{note}</p>' if note else "") + f"{body}</section>"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, classes: str = "") -> str:
    """An HTML table; cells are escaped unless given as :class:`Raw`."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f'<table class="{esc(classes)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


class Raw(str):
    """HTML that :func:`table` and :func:`value_html` put in as it is (already escaped)."""


def _cell(value: Any) -> str:
    if isinstance(value, Raw):
        return f"<td>{value}</td>"
    if isinstance(value, float):
        return f'<td class="num">{value:.3f}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    return f"<td>{esc(value)}</td>"


def value_html(value: Any, depth: int = 0) -> str:
    """Any JSON value as compact HTML: mappings as definition lists (empty entries left out), lists
    of small flat mappings as tables, lists of scalars comma-separated, numbers to 3 decimals."""
    if isinstance(value, Raw):
        return value
    if isinstance(value, Mapping):
        items = [(k, v) for k, v in value.items() if v not in (None, "", [], {})]
        if not items:
            return '<span class="muted">-</span>'
        return '<dl class="kv">' + "".join(
            f"<dt>{esc(k)}</dt><dd>{value_html(v, depth + 1)}</dd>" for k, v in items) + "</dl>"
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, Mapping) for v in value):
            keys = list(dict.fromkeys(k for v in value for k in v))
            flat = all(not isinstance(x, (Mapping, list, tuple)) for v in value for x in v.values())
            if flat and len(keys) <= 6:  # small records (a path's nodes, the findings): a table
                return table(keys, [[Raw(value_html(v.get(k), depth + 1)) for k in keys] for v in value],
                             classes="inner")
        return esc(", ".join(_scalar(v) for v in value)) if all(not isinstance(v, (Mapping, list)) for v in value) \
            else "<ul>" + "".join(f"<li>{value_html(v, depth + 1)}</li>" for v in value) + "</ul>"
    return esc(_scalar(value))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return "-" if value is None else str(value)


def select(name: str, label: str, options: Sequence[tuple[str, str]], *, all_label: str = "all") -> str:
    """A filter: ``<select data-filter=name>`` with an "all" choice and ``(value, label)`` options."""
    opts = f'<option value="">{esc(all_label)}</option>' + "".join(
        f'<option value="{esc(v)}">{esc(t)}</option>' for v, t in options)
    return f'<label>{esc(label)} <select data-filter="{esc(name)}">{opts}</select></label>'


def score_class(score: float | None, low: float = 0.0, high: float = 1.0) -> str:
    """The CSS class of a score chip: ``full`` (at the top of its range), ``zero``, ``partial``, ``na``."""
    if score is None:
        return "na"
    if score >= high - 1e-9:
        return "full"
    if score <= low + 1e-9:
        return "zero"
    return "partial"


def thumbs(keys: Sequence[str | None], labels: Sequence[str]) -> str:
    """``<img>`` elements the script fills from the page's image table (one per image; a missing
    image shows as a grey box saying why)."""
    out = []
    for key, label in zip(keys, labels):
        if key is None:
            out.append(f'<span class="thumb missing" title="{esc(label)}">no image</span>')
        else:
            out.append(f'<img class="thumb" data-image="{esc(key)}" alt="{esc(label)}" title="{esc(label)}">')
    return "".join(out)


def write_page(path: str | os.PathLike, text: str):
    """Write a report page whole: to a temporary file beside it, then renamed over it, so a page
    open in a browser while a run rewrites it is never half written."""
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
