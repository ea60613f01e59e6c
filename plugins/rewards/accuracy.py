"""The ``accuracy`` reward: is the committed answer the correct one?"""

from __future__ import annotations

import math
import re

from pydantic import BaseModel, ConfigDict, Field

from medr1_core import reward
from medr1_core.parsing import extract_letters


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


_PUNCT = re.compile(r"[^\w\s.]|(?<!\d)\.|\.(?!\d)|_")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_LEADS = re.compile(r"^(?:(?:the\s+)?(?:final\s+)?answer\s+is|answer|it\s+is|this\s+is|it's)\s+")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}
_NEGATIONS = frozenset("no not without absent negative none never".split())
_YES = frozenset("yes y true present positive correct".split())
_NO = frozenset("no n false absent negative incorrect".split())


def normalise(text: str) -> str:
    """Lower-case, drop punctuation (not decimal points), articles and extra spaces.

    >>> normalise("The  Left kidney.")
    'left kidney'
    """
    text = _PUNCT.sub(" ", text.lower())
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _polarity(words: list[str]) -> str | None:
    if words and words[0] in _YES:
        return "yes"
    if words and words[0] in _NO:
        return "no"
    return None


def open_match(answer: str, reference: str, params: AccuracyParams) -> bool:
    """Whether a free-text answer matches the reference text.

    Yes/no references compare the answer's first word (``"Yes, there is…"`` is
    yes); numeric references compare the answer's single number (digits or a
    word up to twenty) within
    ``number_rel_tol``; other text must be ``open_threshold`` similar, with the
    same polarity (``"no pneumonia"`` never matches ``"pneumonia"``).
    """
    from rapidfuzz import fuzz

    ref = normalise(reference)
    ans = _LEADS.sub("", normalise(answer))
    if not ref or not ans:
        return False
    ref_words, ans_words = ref.split(), ans.split()
    ref_pol = _polarity(ref_words) if len(ref_words) == 1 else None
    if ref_pol is not None:
        return _polarity(ans_words) == ref_pol
    ref_numbers = _NUMBER.findall(ref)
    if ref_numbers and _NUMBER.fullmatch(ref_words[0]):
        ans = " ".join(_NUMBER_WORDS.get(w, w) for w in ans_words)
        ans_numbers = {float(x) for x in _NUMBER.findall(ans)}
        if len(ans_numbers) != 1:
            return False
        got, want = next(iter(ans_numbers)), float(ref_numbers[0])
        return math.isclose(got, want, rel_tol=params.number_rel_tol, abs_tol=1e-9)
    if (_NEGATIONS.isdisjoint(ref_words)) != (_NEGATIONS.isdisjoint(ans_words)):
        return False
    return ans == ref or fuzz.ratio(ans, ref) >= params.open_threshold


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
    only outside the answer tags. Open questions: see :func:`open_match`.
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
        return 1.0 if open_match(answer, truth, params) else 0.0
    if not letters:
        letter = fuzzy_option(answer, options, params.option_threshold)
        letters = (letter,) if letter else ()
    return 1.0 if len(letters) == 1 and letters[0] == truth.upper() else 0.0
