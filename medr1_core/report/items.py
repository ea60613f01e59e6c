"""The filterable lists of a report: one card per question, with its images, options and answers.

A run report lists each logged step's sampled completions, grouped by
question; an evaluation report lists each question answered. Both use
:func:`item_list` (filters, a count, paging) and :func:`question_card`
(the image thumbnails, the question, its options with the expected one and
the chosen one marked). The page's script filters on the cards' ``data-``
attributes and on the ``data-outcomes`` tokens of their entries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .page import esc, select, thumbs


def item_list(filters: Sequence[str], items: Sequence[str]) -> str:
    """The filter bar, the count, the cards and a "show more" button."""
    if not items:
        return '<p class="muted">nothing recorded yet</p>'
    return (f'<div class="filters">{"".join(filters)}<span class="count"></span></div>'
            f'<div class="items">{"".join(items)}</div><button class="more" type="button" hidden>more</button>')


def label_filter(name: str, label: str, values: Sequence[Any]) -> str:
    """A filter over the distinct values of a card attribute (modality, task, step)."""
    distinct = list(dict.fromkeys(str(v) for v in values if v not in (None, "")))
    return select(name, label, [(v, v) for v in distinct])


def question_card(record: Mapping[str, Any], image_keys: Sequence[str | None], body: str, *, expected: str | None,
                  attrs: Mapping[str, Any], meta: Sequence[str] = (), chosen: str | None = None) -> str:
    """One card: thumbnails and labels on the left; question, options and ``body`` (HTML) on the right."""
    data = " ".join(f'data-{esc(k)}="{esc(v)}"' for k, v in attrs.items() if v not in (None, ""))
    images = record.get("images") or []
    left = thumbs(image_keys, [f"{p}" for p in images]) if images else '<span class="thumb missing">no image</span>'
    labels = " · ".join(esc(m) for m in meta if m)
    options = record.get("options") or {}
    def option(letter: str, text: str) -> str:
        classes = " ".join(c for c, on in (("expected", letter == expected), ("chosen", letter == chosen)) if on)
        return (f'<li class="{classes}">' if classes else "<li>") + f"{esc(letter)}. {esc(text)}</li>"

    opts = "".join(option(letter, text) for letter, text in options.items())
    question = esc(record.get("question") or "")
    return (f'<div class="item" {data}><div>{left}<div class="meta">{labels}</div>'
            f'<div class="meta">{esc(record.get("id", ""))}</div></div>'
            f'<div><div class="question">{question}</div>' + (f'<ul class="options">{opts}</ul>' if opts else "")
            + f'<div class="meta">expected answer: <b>{esc(expected)}</b></div>{body}</div></div>')


def completion_html(text: str | None) -> str:
    """A completion as written (tags shown as text); an empty or whitespace-only one says so."""
    text = text or ""
    if not text.strip():
        return f'<pre class="muted">(empty: {len(text)} whitespace character(s))</pre>' if text else \
            '<pre class="muted">(empty)</pre>'
    return f"<pre>{esc(text)}</pre>"
