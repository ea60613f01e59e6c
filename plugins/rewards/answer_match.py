"""How a free-text answer is compared with its reference, as the medical VQA benchmarks compare them.

The ``accuracy`` reward uses these for questions without options:

- closed questions (``answer_type == "closed"``: yes/no, or one of the
  choices the question names): :func:`closed_match`: yes/no by the answer's
  first word (``"Yes, there is..."`` is yes; ``是``/``否`` for SLAKE's Chinese
  questions), anything else equal after :func:`normalise`;
- open questions, by the metric chosen (:data:`OPEN_METRICS`):

  ========== ==============================================================
  ``fuzzy``   medr1's own: rapidfuzz similarity of the normalised texts,
              same polarity, numbers within a tolerance (:func:`fuzzy_match`)
  ``exact``   equal after :func:`normalise` (MedVLM-R1, Lingshu's kit)
  ``contains`` the normalised reference is a whole-word part of the answer,
              or the answer's numbers hold the reference's (MMMU's
              ``eval_open``)
  ``recall``  share of the reference's tokens found in the answer
              (LLaVA-Med's "open" accuracy on VQA-RAD, SLAKE, PathVQA)
  ``f1``      token F1 of answer and reference
  ========== ==============================================================

``recall`` and ``f1`` are fractions in 0..1; the others are 0 or 1. Tokens are
the words of :func:`normalise`, and each CJK character on its own.
"""

from __future__ import annotations

import math
import re
from collections import Counter

OPEN_METRICS = ("fuzzy", "exact", "contains", "recall", "f1")

_PUNCT = re.compile(r"[^\w\s.]|(?<!\d)\.|\.(?!\d)|_")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_LEADS = re.compile(r"^(?:(?:the\s+)?(?:final\s+)?answer\s+is|answer|it\s+is|this\s+is|it's)\s+")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_CJK = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])")
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}
_NEGATIONS = frozenset("no not without absent negative none never".split())
_YES = frozenset("yes y true present positive correct 是 有 对".split())
_NO = frozenset("no n false absent negative incorrect 否 不 无 没 没有 不是".split())


def normalise(text: str) -> str:
    """Lower-case, drop punctuation (not decimal points), articles and extra spaces.

    >>> normalise("The  Left kidney.")
    'left kidney'
    """
    text = _PUNCT.sub(" ", text.lower())
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    """The words of :func:`normalise`, each CJK character a token of its own.

    >>> tokens("The left lung, 左肺")
    ['left', 'lung', '左', '肺']
    """
    return _CJK.sub(r" \1 ", normalise(text)).split()


def _answer_words(answer: str) -> list[str]:
    return tokens(_LEADS.sub("", normalise(answer)))


def polarity(words: list[str]) -> str | None:
    """``"yes"`` or ``"no"`` from the first word (or CJK character) of a tokenised answer, else None."""
    if not words:
        return None
    if words[0] in _YES:
        return "yes"
    if words[0] in _NO or "".join(words[:2]) in _NO:
        return "no"
    return None


def is_yes_no(reference: str) -> bool:
    """Whether a reference answer is a bare yes or no (``"Yes"``, ``"no."``, ``"是"``)."""
    words = tokens(reference)
    return 0 < len(words) <= 2 and polarity(words) is not None and "".join(words) in _YES | _NO


def closed_match(answer: str, reference: str) -> bool:
    """A closed question: yes/no references compare polarity, others exact equality after :func:`normalise`."""
    if is_yes_no(reference):
        return polarity(_answer_words(answer)) == polarity(tokens(reference))
    ans = " ".join(_answer_words(answer))
    return bool(ans) and ans == " ".join(tokens(reference))


def exact_match(answer: str, reference: str) -> bool:
    """Equal after :func:`normalise` (a leading "the answer is" dropped)."""
    ans = " ".join(_answer_words(answer))
    return bool(ans) and ans == " ".join(tokens(reference))


def _numbers(text: str) -> list[float]:
    words = [_NUMBER_WORDS.get(w, w) for w in tokens(text)]
    return [float(x) for x in _NUMBER.findall(" ".join(words))]


def contains_match(answer: str, reference: str, rel_tol: float = 0.01) -> bool:
    """MMMU's open rule: a numeric reference is among the answer's numbers (within ``rel_tol``);
    a text reference appears in the answer as whole words."""
    ref_words, ans_words = tokens(reference), _answer_words(answer)
    if not ref_words or not ans_words:
        return False
    if len(ref_words) == 1 and _NUMBER.fullmatch(ref_words[0]):
        want = float(ref_words[0])
        return any(math.isclose(got, want, rel_tol=rel_tol, abs_tol=1e-9) for got in _numbers(answer))
    n = len(ref_words)
    return any(ans_words[i:i + n] == ref_words for i in range(len(ans_words) - n + 1))


def token_recall(answer: str, reference: str) -> float:
    """Share of the reference's tokens (with multiplicity) that the answer contains."""
    ref = Counter(tokens(reference))
    if not ref:
        return 0.0
    ans = Counter(_answer_words(answer))
    return sum(min(count, ans[word]) for word, count in ref.items()) / sum(ref.values())


def token_f1(answer: str, reference: str) -> float:
    """Token F1 (SQuAD-style) of the answer against the reference."""
    ref, ans = Counter(tokens(reference)), Counter(_answer_words(answer))
    common = sum((ref & ans).values())
    if not common:
        return 0.0
    precision, recall = common / sum(ans.values()), common / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def fuzzy_match(answer: str, reference: str, *, threshold: float = 90.0, rel_tol: float = 0.01) -> bool:
    """medr1's own open-answer match.

    Yes/no references compare the answer's first word; numeric references
    compare the answer's single number (digits or a word up to twenty) within
    ``rel_tol``; other text must be ``threshold``-similar (rapidfuzz ``ratio``,
    0-100), with the same polarity (``"no pneumonia"`` never matches
    ``"pneumonia"``).
    """
    from rapidfuzz import fuzz

    ref = normalise(reference)
    ans = _LEADS.sub("", normalise(answer))
    if not ref or not ans:
        return False
    ref_words, ans_words = ref.split(), ans.split()
    ref_pol = polarity(ref_words) if len(ref_words) == 1 else None
    if ref_pol is not None:
        return polarity(ans_words) == ref_pol
    ref_numbers = _NUMBER.findall(ref)
    if ref_numbers and _NUMBER.fullmatch(ref_words[0]):
        ans = " ".join(_NUMBER_WORDS.get(w, w) for w in ans_words)
        ans_numbers = {float(x) for x in _NUMBER.findall(ans)}
        if len(ans_numbers) != 1:
            return False
        got, want = next(iter(ans_numbers)), float(ref_numbers[0])
        return math.isclose(got, want, rel_tol=rel_tol, abs_tol=1e-9)
    if (_NEGATIONS.isdisjoint(ref_words)) != (_NEGATIONS.isdisjoint(ans_words)):
        return False
    return ans == ref or fuzz.ratio(ans, ref) >= threshold


def open_score(metric: str, answer: str, reference: str, *, threshold: float = 90.0, rel_tol: float = 0.01) -> float:
    """The score of ``answer`` against one reference by ``metric`` (one of :data:`OPEN_METRICS`)."""
    if metric == "fuzzy":
        return float(fuzzy_match(answer, reference, threshold=threshold, rel_tol=rel_tol))
    if metric == "exact":
        return float(exact_match(answer, reference))
    if metric == "contains":
        return float(contains_match(answer, reference, rel_tol))
    if metric == "recall":
        return token_recall(answer, reference)
    if metric == "f1":
        return token_f1(answer, reference)
    raise ValueError(f"unknown open metric {metric!r}; expected one of {', '.join(OPEN_METRICS)}")
