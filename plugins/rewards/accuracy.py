"""The ``accuracy`` reward: is the committed answer the correct one?"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from medr1_core import reward
from medr1_core.parsing import extract_letters

from .answer_match import OPEN_METRICS, closed_match, fuzzy_match, normalise, open_score

__all__ = ["AccuracyParams", "accuracy_reward", "free_text_score", "open_match", "fuzzy_option", "normalise"]


class AccuracyParams(BaseModel):
    """Parameters of the ``accuracy`` reward."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    require_tags: bool = True
    """Only an ``<answer>`` block counts. If false, a completion with no answer
    block is read from its text after the last ``</think>``."""
    option_threshold: float = Field(90.0, ge=0, le=100)
    """When the answer names no letter and no exact option text, the option
    whose text is at least this similar (rapidfuzz ``ratio`` on normalised text,
    0-100) is taken, if exactly one is. 100 turns the fuzzy fallback off."""
    open_threshold: float = Field(90.0, ge=0, le=100)
    """Open questions: normalised answer and reference must be at least this
    similar (rapidfuzz ``ratio``, 0-100)."""
    number_rel_tol: float = Field(0.01, ge=0)
    """Open questions with a numeric reference: the answer's single number may
    differ by this fraction of the reference."""
    open_metric: Literal["auto", "fuzzy", "exact", "contains", "recall", "f1"] = "auto"
    """How an open question's answer is scored against its reference(s):
    ``fuzzy`` (medr1's rule: ``open_threshold`` similar, same polarity, numbers
    within ``number_rel_tol``), ``exact`` (equal after normalisation),
    ``contains`` (MMMU's rule: the reference appears in the answer), ``recall``
    (share of the reference's tokens in the answer: LLaVA-Med's open accuracy on
    VQA-RAD, SLAKE and PathVQA) or ``f1`` (token F1); recall and f1 score 0..1.
    ``auto``: the metric the sample's data format names for its benchmark
    (``extras["open_metric"]``), else ``fuzzy``. See
    :mod:`medr1_plugins.rewards.answer_match`."""


def open_match(answer: str, reference: str, params: AccuracyParams) -> bool:
    """Whether a free-text answer matches the reference text by medr1's ``fuzzy`` rule
    (:func:`~medr1_plugins.rewards.answer_match.fuzzy_match` with the reward's thresholds)."""
    return fuzzy_match(answer, reference, threshold=params.open_threshold, rel_tol=params.number_rel_tol)


def free_text_score(sample, answer: str, params: AccuracyParams) -> float:
    """The score of a free-text answer to a question without options (see the reward's docstring)."""
    references = [r for r in sample.references if r and r.strip()]
    if sample.answer_type == "closed":
        return 1.0 if any(closed_match(answer, ref) for ref in references) else 0.0
    metric = params.open_metric
    if metric == "auto":
        declared = sample.extras.get("open_metric")
        metric = declared if declared in OPEN_METRICS else "fuzzy"
    return max(
        open_score(metric, answer, ref, threshold=params.open_threshold, rel_tol=params.number_rel_tol)
        for ref in references
    )


def fuzzy_option(answer: str, options: dict[str, str], threshold: float) -> str | None:
    """The one option whose text is ``threshold``-similar to ``answer``, or None."""
    if threshold >= 100:
        return None
    from rapidfuzz import fuzz

    ans = normalise(answer)
    if not ans:
        return None
    scores = {letter: fuzz.ratio(ans, normalise(text)) for letter, text in options.items()}
    best = [letter for letter, s in scores.items() if s >= threshold]
    return best[0].upper() if len(best) == 1 else None


@reward(name="accuracy", params=AccuracyParams)
def accuracy_reward(rollout, params: AccuracyParams) -> float | None:
    """1 if the completion's one committed answer is correct, else 0.

    Multiple choice: the answer block must name exactly one option, by letter
    (``C``, ``(C)``, ``C)``, ``C. CT``, ``The answer is C``) or by its text
    (``CT``); naming several (``A or B``), a letter that is not an option
    (``E``), or disagreeing answer blocks scores 0, as does a letter written
    only outside the answer tags. Questions without options: a *closed* one
    (``sample.answer_type``, e.g. SLAKE's and VQA-RAD's CLOSED) scores 1 for
    the same yes/no (first word) or, for other references, the same text after
    normalisation; an *open* one is scored by ``open_metric``. Several
    acceptable references (``extras["answers"]``): the best score counts.
    ``None`` when the sample has no usable reference (no answer, or an answer
    letter that is not among its options).

    Example: options ``{"A": "MRI", "B": "X-ray", "C": "CT"}``, answer ``C``:
    ``"<think>…</think><answer>CT</answer>"`` scores 1,
    ``"<think>…</think><answer>B or C</answer>"`` scores 0.
    """
    sample, completion = rollout.sample, rollout.completion
    options = sample.options
    truth = (sample.answer or "").strip()
    if not truth:
        return None
    if options is not None and truth.upper() not in options and truth.upper() not in {str(k).upper() for k in options}:
        return None

    answer = completion.answer
    letters = completion.letters
    if answer is None:
        if completion.answers or params.require_tags:
            return 0.0  # no answer block, or several that disagree
        text = completion.text
        answer = text[text.rfind("</think>") + 8 :] if "</think>" in text else text
        letters = extract_letters(answer, options)

    if options is None:
        return free_text_score(sample, answer, params)
    if not letters:
        letter = fuzzy_option(answer, options, params.option_threshold)
        letters = (letter,) if letter else ()
    return 1.0 if len(letters) == 1 and letters[0] == truth.upper() else 0.0
