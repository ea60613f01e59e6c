"""Finding terms in reasoning text: fuzzy, multi-word, negation-aware.

A :class:`TermMatcher` is built once from every term of every loaded decision
tree. :meth:`TermMatcher.match` tokenises a text once and reports, for each
term it contains, whether some mention is *affirmed* and whether some is
*negated*.

Matching, cheapest first:

- Text and terms are lower-cased and split into words (``ground-glass`` is
  ``ground glass``); British ``ae``/``oe`` spellings and plurals are folded
  (``haemorrhages`` is ``hemorrhage``, ``opacities`` is ``opacity``).
- A text word that *is* a term word matches it exactly (a dict lookup).
- Otherwise, for words of 5+ letters, rapidfuzz ``ratio`` against term words
  with the same first letter (threshold ``fuzzy_threshold``, default 90:
  ``consolidaton`` matches, ``abnormal`` does not match ``normal`` and
  ``asymmetry`` does not match ``symmetry``). Results are memoised per word, so
  a vocabulary seen once costs a lookup afterwards.
- A multi-word term matches consecutive words. A mention inside a longer
  one counts only for the longer term (``doubtful joint space narrowing`` is
  not also ``joint space narrowing``): list a phrase under every finding it
  supports.

Negation, NegEx-style (Chapman et al., J Biomed Inform 2001;34:301-10): a
mention is negated when a cue precedes it within ``window`` words in the same
clause (``no``, ``not``, ``without``, ``absence of``, ``negative for``, ``free
of``, ``rules out``, ``rather than``, ``unlike``, ``doesn't``...; ``non``
right before it) or follows it within the
same clause (``is absent``, ``not seen``, ``was excluded``, ``is not``,
``unlikely``, ``negative``). Clauses end at ``. ; : ! ?``, a new line, contrast words
(``but``, ``however``, ``although``...) and, before a new clause (``, there``,
``, the``...), at a comma; a following cue also stops at any comma. Pseudo-
negations (``not only``, ``no change``, ``cannot rule out``, ``cannot be
excluded``) and an interjection ``No,`` are not cues.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from itertools import compress
from typing import NamedTuple

# Tokenising: punctuation other than ' and clause marks becomes a space (a
# byte table for ASCII text, a regex otherwise), clause marks become tokens.
_ASCII_TABLE = bytes(32 if chr(i) in string.punctuation and chr(i) not in "'.,;:!?" else i for i in range(256))
_OTHER = re.compile(r"[^\w\s'.,;:!?]+|_+")
_CLAUSE_MARKS = ".,;:!?"
_SENTENCE_END = frozenset(".;:!?")
_TERMINATORS = frozenset(
    "but however although though except whereas while yet nevertheless nonetheless apart aside which".split()
)
_CLAUSE_STARTERS = frozenset(
    "there it its it's this these that the we i findings finding suggesting consistent indicating "
    "so thus therefore hence overall".split()
)
_PRE_CUES = frozenset(
    "no not without absent denies denied neither nor lacks lacking excluding never unlike "
    "isn't aren't wasn't weren't doesn't don't didn't cannot can't hasn't haven't".split()
)
_PRE_BIGRAMS = frozenset(
    [("absence", "of"), ("negative", "for"), ("free", "of"), ("rules", "out"), ("ruled", "out"),
     ("rule", "out"), ("lack", "of"), ("rather", "than"), ("instead", "of"), ("no", "evidence")]
)
_POST_CUES = frozenset("absent excluded unlikely resolved negative".split())
_POST_NOT = frozenset("not isn't aren't wasn't weren't cannot can't".split())
_PSEUDO = (
    ("not", "only"), ("no", "change"), ("no", "significant", "change"), ("no", "increase"),
    ("not", "rule", "out"), ("cannot", "rule", "out"), ("can't", "rule", "out"), ("not", "ruled", "out"),
    ("cannot", "be", "excluded"), ("not", "be", "excluded"), ("not", "excluded"), ("cannot", "exclude"),
    ("can't", "exclude"), ("not", "exclude"), ("no", "doubt"), ("without", "doubt"),
)
_PSEUDO_AFTER_NOT = frozenset("only excluded exclude rule ruled".split())


def canonical_word(word: str) -> str:
    """Fold British spellings and plurals: ``haemorrhages`` -> ``hemorrhage``."""
    if "ae" in word:
        word = word.replace("ae", "e")
    if "oe" in word:
        word = word.replace("oe", "e")
    if len(word) > 4:
        if word.endswith("ies"):
            return word[:-3] + "y"
        if word.endswith("s") and not word.endswith(("ss", "us", "is")):
            return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lower-case words (with inner apostrophes) and clause punctuation; a new line is ``.``."""
    low = text.lower()
    if low.isascii():
        low = low.encode("ascii").translate(_ASCII_TABLE).decode("ascii")
    else:
        low = _OTHER.sub(" ", low.replace("\u2019", "'"))
    for mark in _CLAUSE_MARKS:
        if mark in low:
            low = low.replace(mark, f" {mark} ")
    if "\n" in low:
        low = low.replace("\n", " . ")
    return low.split()


def term_words(term: str) -> tuple[str, ...]:
    """The canonical words of a term: ``"Ground-glass opacities"`` -> ``("ground", "glass", "opacity")``."""
    return tuple(canonical_word(t.strip("'")) for t in tokenize(term) if t not in _CLAUSE_MARKS and t.strip("'"))


class Mention(NamedTuple):
    """One occurrence of a term: token span, and the negation cue if negated."""

    term: int
    start: int
    end: int
    cue: str | None = None


class TermMatcher:
    """Every term of a set of trees, matched against texts in one pass each."""

    def __init__(self, terms: Iterable[str], *, fuzzy_threshold: float = 90.0, window: int = 6):
        self.terms: list[str] = []
        self._term_ids: dict[tuple[str, ...], int] = {}
        self.term_words: list[tuple[int, ...]] = []
        self._vocab: dict[str, int] = {}
        self._by_first: dict[int, list[int]] = {}
        self.fuzzy_threshold = fuzzy_threshold
        self.window = window
        self._memo: dict[str, tuple[int, ...]] = {}  # token -> its word ids
        # token -> () or (one-word terms it matches, {second word id: longer terms starting with it})
        self._starts: dict[str, tuple] = {}
        for term in terms:
            self.add(term)
        self._buckets: dict[str, list[str]] | None = None

    def add(self, term: str) -> int:
        """Register ``term`` (idempotent); its id."""
        words = term_words(term)
        if not words:
            raise ValueError(f"term {term!r} has no words")
        tid = self._term_ids.get(words)
        if tid is not None:
            return tid
        tid = len(self.terms)
        self._term_ids[words] = tid
        self.terms.append(term)
        ids = tuple(self._vocab.setdefault(w, len(self._vocab)) for w in words)
        self.term_words.append(ids)
        self._by_first.setdefault(ids[0], []).append(tid)
        self._memo.clear()
        self._starts.clear()
        self._buckets = None
        return tid

    def term_id(self, term: str) -> int:
        return self._term_ids[term_words(term)]

    # -- words ---------------------------------------------------------------

    def _word_ids(self, token: str) -> tuple[int, ...]:
        word = canonical_word(token.strip("'"))
        exact = self._vocab.get(word)
        if exact is not None:
            return (exact,)
        if len(word) < 5 or self.fuzzy_threshold >= 100:
            return ()
        from rapidfuzz import fuzz, process

        if self._buckets is None:
            buckets: dict[str, list[str]] = {}
            for w in self._vocab:
                if len(w) >= 5:
                    buckets.setdefault(w[0], []).append(w)
            self._buckets = buckets
        candidates = self._buckets.get(word[0])
        if not candidates:
            return ()
        hits = process.extract(word, candidates, scorer=fuzz.ratio, score_cutoff=self.fuzzy_threshold, limit=None)
        return tuple(self._vocab[w] for w, _score, _i in hits)

    def _learn(self, token: str) -> None:
        """Memoise a token's word ids and the terms that can start at it."""
        ids = () if token in _CLAUSE_MARKS else self._word_ids(token)
        self._memo[token] = ids
        singles: list[int] = []
        multi: dict[int, list[int]] = {}
        for wid in ids:
            for tid in self._by_first.get(wid, ()):
                words = self.term_words[tid]
                if len(words) == 1:
                    singles.append(tid)
                else:
                    multi.setdefault(words[1], []).append(tid)
        self._starts[token] = (
            (tuple(singles), {k: tuple(v) for k, v in multi.items()}) if singles or multi else ()
        )

    # -- mentions ------------------------------------------------------------

    def _spans(self, tokens: list[str]) -> list[tuple[int, int, int]]:
        """``(term id, start, end)`` of every term occurrence, the longest where they nest."""
        starts_get = self._starts.get
        starts = list(map(starts_get, tokens))
        if None in starts:
            if len(self._starts) > 200_000:
                self._memo.clear()
                self._starts.clear()
            for tok in set(tokens):
                if tok not in self._starts:
                    self._learn(tok)
            starts = list(map(starts_get, tokens))
        found: list[tuple[int, int, int]] = []
        n = len(tokens)
        ids = None
        term_words = self.term_words
        for i in compress(range(n), starts):
            singles, multi = starts[i]
            for tid in singles:
                found.append((tid, i, i + 1))
            if multi and i + 1 < n:
                if ids is None:
                    ids = list(map(self._memo.__getitem__, tokens))
                for second in ids[i + 1]:
                    for tid in multi.get(second, ()):
                        words = term_words[tid]
                        k = len(words)
                        if i + k > n:
                            continue
                        j = 2
                        while j < k and words[j] in ids[i + j]:
                            j += 1
                        if j == k:
                            found.append((tid, i, i + k))
        if len(found) > 1:
            found = _longest(found)
        return found

    def mentions(self, text: str) -> tuple[list[str], list[Mention]]:
        """The tokens of ``text`` and every term mention in it, negated ones with their cue."""
        tokens = tokenize(text)
        return tokens, [Mention(t, s, e, self._negation(tokens, s, e)) for t, s, e in self._spans(tokens)]

    def match(self, text: str) -> dict[int, tuple[bool, bool]]:
        """``{term id: (affirmed somewhere, negated somewhere)}`` for the terms in ``text``."""
        return self.match_tokens(tokenize(text))

    def match_tokens(self, tokens: list[str]) -> dict[int, tuple[bool, bool]]:
        """:meth:`match` for an already tokenised text."""
        status: dict[int, tuple[bool, bool]] = {}
        for tid, s, e in self._spans(tokens):
            aff, neg = status.get(tid, (False, False))
            if self._negation(tokens, s, e) is None:
                aff = True
            else:
                neg = True
            status[tid] = (aff, neg)
        return status

    # -- negation ------------------------------------------------------------

    def _negation(self, tokens: list[str], start: int, end: int) -> str | None:
        """The cue negating the mention ``tokens[start:end]``, or None."""
        if start and tokens[start - 1] == "non":
            return "non"  # "non-proliferative"
        size = len(tokens)
        i = start - 1
        lo = max(0, start - self.window)
        hi = min(size, end + self.window)
        if _PRE_ANY.isdisjoint(tokens[lo:start]) and _POST_ANY.isdisjoint(tokens[end:hi]):
            return None  # no cue anywhere near: the common case
        while i >= lo:
            tok = tokens[i]
            if tok in _SENTENCE_END or tok in _TERMINATORS:
                break
            if tok == ",":
                if i + 1 < size and tokens[i + 1] in _CLAUSE_STARTERS:
                    break
            elif tok in _PRE_CUES:
                if not _is_pseudo(tokens, i) and not (tok == "no" and i + 1 < size and tokens[i + 1] in _CLAUSE_MARKS):
                    return tok
            elif tok in _PRE_BIGRAM_FIRST and i + 1 < start and (tok, tokens[i + 1]) in _PRE_BIGRAMS:
                if not _is_pseudo(tokens, i):
                    return f"{tok} {tokens[i + 1]}"
            i -= 1
        for j in range(end, hi):
            tok = tokens[j]
            if tok in _SENTENCE_END or tok == "," or tok in _TERMINATORS:
                break
            if tok in _POST_CUES:
                before = tokens[max(0, j - 2) : j]
                if before[-1:] and before[-1] in _POST_NOT or before[-1:] == ["be"] and before[0] in _POST_NOT:
                    continue  # "not excluded", "cannot be excluded": still possible
                return tok
            if tok in _POST_NOT:
                after = tokens[j + 1 : j + 3]
                if after[:1] and after[0] in _PSEUDO_AFTER_NOT or after[:2] and after[0] == "be" and (
                    len(after) > 1 and after[1] in _PSEUDO_AFTER_NOT
                ):
                    continue
                return tok
            if tok == "ruled" and j + 1 < size and tokens[j + 1] == "out" and tokens[j - 1] not in _POST_NOT:
                return "ruled out"
        return None


def _longest(found: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Drop spans strictly inside a longer one (``joint space narrowing`` in
    ``doubtful joint space narrowing``); equal spans of different terms stay."""
    found.sort(key=lambda f: (f[1], -f[2]))
    keep = []
    max_end, max_start = -1, -1
    for f in found:
        _tid, start, end = f
        if end < max_end or (end == max_end and max_start < start):
            continue
        keep.append(f)
        if end > max_end:
            max_end, max_start = end, start
    return keep


def _pseudo_index() -> dict[str, tuple[tuple[tuple[str, ...], int], ...]]:
    index: dict[str, list] = {}
    for phrase in _PSEUDO:
        for offset, word in enumerate(phrase):
            index.setdefault(word, []).append((phrase, offset))
    return {k: tuple(v) for k, v in index.items()}


_PSEUDO_INDEX = _pseudo_index()
_PRE_BIGRAM_FIRST = frozenset(a for a, _b in _PRE_BIGRAMS)
_PRE_ANY = _PRE_CUES | _PRE_BIGRAM_FIRST
_POST_ANY = _POST_CUES | _POST_NOT | {"ruled"}


def _is_pseudo(tokens: list[str], i: int) -> bool:
    """Whether ``tokens[i]`` belongs to a pseudo-negation such as ``cannot rule out``."""
    for phrase, offset in _PSEUDO_INDEX.get(tokens[i], ()):
        s = i - offset
        if s >= 0 and tuple(tokens[s : s + len(phrase)]) == phrase:
            return True
    return False
