"""Accuracy statistics of predictions: tables with honest uncertainty, paired tests.

Pure Python, no model: everything here works on plain lists of prediction
dicts (as in ``predictions.jsonl``: ``id``, ``modality``, ``task``,
``correct``, ``answer``, ``well_formed``).

- :func:`wilson_interval`, :func:`accuracy_cell`: one proportion with its 95%
  Wilson interval;
- :func:`summarize`: accuracy per modality, per task, per modality x task and
  overall, with counts and the parse-failure rate;
- :func:`mcnemar_exact`, :func:`compare_predictions`, :func:`holm_adjust`: two
  runs compared on the question ids both answered, cell by cell.

"Correct" is decided upstream, by the ``accuracy`` reward (see
:mod:`medr1_core.eval.run`); this module only counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: z for a two-sided 95% interval.
Z95 = 1.959963984540054

#: Label used for questions whose modality or task is not known.
UNKNOWN = "unknown"

# ---------------------------------------------------------------------------
# Accuracy tables
# ---------------------------------------------------------------------------


def wilson_interval(correct: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion ``correct / n`` (``None`` when ``n == 0``).

    Unlike the normal ("Wald") interval it stays inside [0, 1] and is sensible
    for small cells and accuracies near 0 or 1, which per modality x task
    cells often are.

    >>> [round(x, 4) for x in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    """
    if n < 0 or correct < 0 or correct > n:
        raise ValueError(f"wilson_interval: need 0 <= correct <= n, got correct={correct}, n={n}")
    if n == 0:
        return None
    p = correct / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Cell:
    """Accuracy of one group of questions: counts, proportion and 95% interval."""

    n: int
    correct: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n if self.n else None

    @property
    def ci95(self) -> tuple[float, float] | None:
        return wilson_interval(self.correct, self.n)

    def to_dict(self) -> dict[str, Any]:
        ci = self.ci95
        return {
            "n": self.n,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "ci95": list(ci) if ci else None,
        }


def accuracy_cell(correct_flags: Iterable[bool]) -> Cell:
    """The :class:`Cell` of a sequence of correct/incorrect flags."""
    flags = list(correct_flags)
    return Cell(n=len(flags), correct=sum(1 for f in flags if f))


def group_name(value: Any) -> str:
    """The group a prediction's modality or task value falls in: the value, or :data:`UNKNOWN` when missing."""
    return str(value) if value else UNKNOWN


def ordered_names(names: Iterable[str], order: Sequence[str] | None) -> list[str]:
    """``names`` in ``order`` first (registry order), then the rest sorted."""
    names = set(names)
    first = [n for n in (order or ()) if n in names]
    return first + sorted(names - set(first))


def is_parse_failure(prediction: Mapping[str, Any]) -> bool:
    """A prediction whose completion commits to no answer (no answer block, or several that disagree)."""
    return prediction.get("answer") is None


def score_cell(predictions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A cell of predictions with ``mean_score`` too (when they carry a ``score``): the mean of
    their scores (``None`` counts 0), what benchmarks report for metrics that give partial
    credit (token recall, F1)."""
    cell = accuracy_cell(bool(p.get("correct")) for p in predictions).to_dict()
    if any("score" in p for p in predictions):
        cell["mean_score"] = sum(float(p.get("score") or 0.0) for p in predictions) / len(predictions)
    return cell


def by_answer_type(predictions: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Closed and open questions apart, as the VQA benchmarks' tables report them (a prediction
    without ``answer_type`` is closed when it chose a letter-answer question, else open)."""
    groups: dict[str, list] = {}
    for p in predictions:
        kind = p.get("answer_type") or ("closed" if p.get("options") else "open")
        groups.setdefault(kind, []).append(p)
    return {kind: score_cell(groups[kind]) for kind in ("closed", "open") if kind in groups}


def summarize(
    predictions: Iterable[Mapping[str, Any]],
    *,
    modality_order: Sequence[str] | None = None,
    task_order: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Accuracy tables of a list of predictions (dicts as in ``predictions.jsonl``).

    Each prediction needs ``modality``, ``task``, ``correct`` (bool), and
    ``answer`` (the committed answer text or ``None``) and ``well_formed`` for
    the failure rates. Returns a JSON-ready dict::

        {"overall": cell, "by_answer_type": {"closed": cell, "open": cell},
         "by_language": {lang: cell}, "by_modality": {m: cell}, "by_task": {t: cell},
         "by_modality_task": {m: {t: cell}}, "parse_failures": k,
         "parse_failure_rate": r, "malformed": k, "malformed_rate": r}

    where a cell is ``{"n", "correct", "accuracy", "ci95": [lo, hi]}`` (overall,
    by answer type and by language also ``mean_score``, see :func:`score_cell`;
    ``by_language`` only for predictions that name their language).
    A *parse failure* is a completion with no committed answer (none, or
    several disagreeing answer blocks); it is scored wrong. *Malformed* is
    the looser count of completions whose tags do not follow the prompt
    variant's structure (some of them still commit to an answer).
    """
    preds = list(predictions)
    by_m: dict[str, list[bool]] = {}
    by_t: dict[str, list[bool]] = {}
    by_mt: dict[tuple[str, str], list[bool]] = {}
    for p in preds:
        m, t, ok = group_name(p.get("modality")), group_name(p.get("task")), bool(p.get("correct"))
        by_m.setdefault(m, []).append(ok)
        by_t.setdefault(t, []).append(ok)
        by_mt.setdefault((m, t), []).append(ok)
    modalities = ordered_names(by_m, modality_order)
    tasks = ordered_names(by_t, task_order)
    n = len(preds)
    parse_failures = sum(1 for p in preds if is_parse_failure(p))
    malformed = sum(1 for p in preds if not p.get("well_formed", False))
    languages: dict[str, list] = {}
    for p in preds:
        if p.get("language"):
            languages.setdefault(str(p["language"]), []).append(p)
    return {
        "overall": score_cell(preds),
        "by_answer_type": by_answer_type(preds),
        "by_language": {lang: score_cell(group) for lang, group in sorted(languages.items())},
        "by_modality": {m: accuracy_cell(by_m[m]).to_dict() for m in modalities},
        "by_task": {t: accuracy_cell(by_t[t]).to_dict() for t in tasks},
        "by_modality_task": {
            m: {t: accuracy_cell(by_mt[(m, t)]).to_dict() for t in tasks if (m, t) in by_mt} for m in modalities
        },
        "parse_failures": parse_failures,
        "parse_failure_rate": parse_failures / n if n else None,
        "malformed": malformed,
        "malformed_rate": malformed / n if n else None,
    }


# ---------------------------------------------------------------------------
# Paired comparison
# ---------------------------------------------------------------------------


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts.

    ``b``: questions model A got right and B wrong; ``c``: the reverse. Under
    the null hypothesis (equal accuracy) each discordant question is a fair
    coin, so the p-value is the two-sided binomial test of ``b`` out of
    ``b + c`` at 0.5. Concordant questions carry no information.

    >>> round(mcnemar_exact(1, 9), 6)   # 2 * (1 + 10) / 2**10
    0.021484
    """
    if b < 0 or c < 0:
        raise ValueError(f"mcnemar_exact: counts must be >= 0, got b={b}, c={c}")
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


@dataclass(frozen=True)
class PairedCell:
    """Two runs compared on the questions of one cell that both answered."""

    n: int
    correct_a: int
    correct_b: int
    a_only: int
    """Questions A got right and B got wrong."""
    b_only: int
    """Questions B got right and A got wrong."""
    alpha: float = 0.05

    @property
    def p_value(self) -> float:
        return mcnemar_exact(self.a_only, self.b_only)

    def to_dict(self) -> dict[str, Any]:
        acc_a = self.correct_a / self.n if self.n else None
        acc_b = self.correct_b / self.n if self.n else None
        p = self.p_value
        return {
            "n": self.n,
            "accuracy_a": acc_a,
            "accuracy_b": acc_b,
            "difference": (acc_b - acc_a) if self.n else None,
            "a_only": self.a_only,
            "b_only": self.b_only,
            "p_value": p,
            "significant": bool(self.n) and p < self.alpha,
        }


def paired_cell(pairs: Iterable[tuple[bool, bool]], alpha: float = 0.05) -> PairedCell:
    """The :class:`PairedCell` of ``(a_correct, b_correct)`` pairs."""
    n = ca = cb = a_only = b_only = 0
    for a, b in pairs:
        n += 1
        ca += a
        cb += b
        a_only += a and not b
        b_only += b and not a
    return PairedCell(n, ca, cb, a_only, b_only, alpha)


def compare_predictions(
    a: Iterable[Mapping[str, Any]],
    b: Iterable[Mapping[str, Any]],
    *,
    alpha: float = 0.05,
    modality_order: Sequence[str] | None = None,
    task_order: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Per-cell differences between two runs, on the question ids both answered.

    ``difference`` is B minus A. Each cell carries the exact McNemar p-value
    of the paired correct/incorrect outcomes and ``significant`` (p < alpha).
    The flag is per cell, uncorrected: with many cells some will be flagged
    by chance; ``p_holm`` gives Holm-adjusted p-values over all cells of the
    modality x task table for a family-wise reading.
    """
    index_a: dict[str, Mapping[str, Any]] = {}
    index_b: dict[str, Mapping[str, Any]] = {}
    for index, preds in ((index_a, a), (index_b, b)):
        for p in preds:
            index.setdefault(p["id"], p)  # the first record of an id, as read_predictions keeps
    shared = [i for i in index_a if i in index_b]
    groups: dict[str, dict] = {"overall": [], "by_modality": {}, "by_task": {}, "by_modality_task": {}}
    for i in shared:
        pa, pb = index_a[i], index_b[i]
        pair = (bool(pa.get("correct")), bool(pb.get("correct")))
        m, t = group_name(pa.get("modality")), group_name(pa.get("task"))
        groups["overall"].append(pair)
        groups["by_modality"].setdefault(m, []).append(pair)
        groups["by_task"].setdefault(t, []).append(pair)
        groups["by_modality_task"].setdefault(m, {}).setdefault(t, []).append(pair)
    modalities = ordered_names(groups["by_modality"], modality_order)
    tasks = ordered_names(groups["by_task"], task_order)
    result = {
        "shared": len(shared),
        "only_a": len(index_a) - len(shared),
        "only_b": len(index_b) - len(shared),
        "alpha": alpha,
        "overall": paired_cell(groups["overall"], alpha).to_dict(),
        "by_modality": {m: paired_cell(groups["by_modality"][m], alpha).to_dict() for m in modalities},
        "by_task": {t: paired_cell(groups["by_task"][t], alpha).to_dict() for t in tasks},
        "by_modality_task": {
            m: {
                t: paired_cell(groups["by_modality_task"][m][t], alpha).to_dict()
                for t in tasks
                if t in groups["by_modality_task"][m]
            }
            for m in modalities
        },
    }
    cells = [c for row in result["by_modality_task"].values() for c in row.values()]
    for cell, adjusted in zip(cells, holm_adjust([c["p_value"] for c in cells])):
        cell["p_holm"] = adjusted
    return result


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order.

    >>> holm_adjust([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


# ---------------------------------------------------------------------------
# Cells as text
# ---------------------------------------------------------------------------


def percent_text(value: float | None) -> str:
    """A proportion as a percentage with one decimal, without the sign (``"n/a"`` for ``None``).

    >>> percent_text(0.5964)
    '59.6'
    """
    return "n/a" if value is None else f"{100 * value:.1f}"


def ci95_text(cell: Mapping[str, Any]) -> str:
    """A cell's 95% interval in percent, ``"[lo, hi]"`` (``"n/a"`` for an empty cell).

    >>> ci95_text(accuracy_cell([True] * 8 + [False] * 2).to_dict())
    '[49.0, 94.3]'
    """
    ci = cell.get("ci95")
    return "n/a" if not ci else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"

