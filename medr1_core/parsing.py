"""Parse a model's completion once: think text, answer text, chosen letters, format.

:func:`parse_completion` is the only place medr1 reads ``<think>`` and
``<answer>`` tags. Every reward reads the :class:`~medr1_core.samples.Completion`
it returns, so a batch is parsed once however many rewards score it::

    >>> from medr1_core.parsing import parse_completion
    >>> c = parse_completion("<think>A CT scan.</think><answer>C) CT</answer>",
    ...                      options={"A": "MRI", "B": "X-ray", "C": "CT"})
    >>> c.letter, c.well_formed
    ('C', True)

How letters are read from the answer text (see :func:`extract_letters`):

1. The whole answer is one letter, in any case, with or without brackets and
   punctuation (``c``, ``(C)``, ``C)``, ``**C.**``): that letter.
2. Otherwise option *texts* are found first (case-insensitive, whole words,
   the longest option wins where texts overlap: ``MRI with contrast`` is not also
   ``MRI``), then letter-like patterns outside those texts: ``(C)``, ``C)``,
   ``C.``/``C:`` at the start, ``answer is C`` / ``option C``, and standalone
   capital letters that are option letters (``A or B``, ``A/B``). ``A`` and
   ``I`` followed by an ordinary word are English words, not letters
   (``A CT scan``); lower-case letters count only in the patterns above.

Letters that are not options (``E`` when the options are A-D) are kept when
written in a letter pattern (so ``<answer>E</answer>`` is wrong, not empty), and
every distinct letter named is kept (so ``A or B`` is a hedge, not ``A``).

Nothing here raises on any text: unicode, empty, or megabytes long.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .samples import Completion, Rollout, Sample, check_variant

#: The structural checks of each prompt variant. ``Completion.problems`` lists
#: the ones a completion fails; the format reward's partial credit is the
#: fraction passed.
CHECKS: dict[str, tuple[str, ...]] = {
    "think": ("think_count", "answer_count", "order", "non_empty", "outside_text", "tags"),
    "think_after": ("think_count", "answer_count", "order", "non_empty", "outside_text", "tags"),
    "nothink": ("think_count", "answer_count", "non_empty", "outside_text", "tags"),
}
"""Check names:

- ``think_count``: exactly one think block (``nothink``: none).
- ``answer_count``: exactly one answer block.
- ``order``: think then answer (``think_after``: answer then think).
- ``non_empty``: no block is empty or whitespace.
- ``outside_text``: nothing but whitespace outside the blocks.
- ``tags``: no stray, unclosed or nested tag.
"""

_TAG = re.compile(r"<(/?)(think|answer)>")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_DECORATION = " \t\r\n*_`'\"()[]{}.:;,!-"

# Letter-like patterns, one pass. Groups: p "(C)", c "C)", k/kl "answer is C",
# u standalone capital (with the word after it, nw, to tell "A CT" from "A or B").
_LETTER_PATTERNS = re.compile(
    r"""
      [(\[]\s{0,2}(?P<p>[A-Za-z])\s{0,2}[)\]]
    | (?<![\w'’\-])(?P<c>[A-Za-z])\)
    | (?i:\b(?:answer|option|choice)s?)(?:\s{1,3}(?i:is|was|would\s{1,3}be|should\s{1,3}be|will\s{1,3}be|must\s{1,3}be))?
      \s{0,3}[:=]?\s{0,3}(?:(?P<k>[A-Z])(?![\w'’\-])|(?P<kl>[a-z])(?=\s{0,3}(?:$|[.,;:!?)\]])))
    | (?<![\w'’\-])(?P<u>[A-Z])(?![\w'’\-])(?=(?:\s{1,3}(?P<nw>[A-Za-z]+))?)
    """,
    re.VERBOSE,
)
# "C. CT", "c: CT", "C - CT" at the very start of the answer.
_LEAD_LETTER = re.compile(r"\s{0,3}[*_]{0,2}(?P<l>[A-Za-z])[*_]{0,2}\s{0,2}(?:[.:]|\s-)(?:\s|$)")
# Words after a capital "A" or "I" that make it a letter rather than a word.
_LETTER_FOLLOWERS = frozenset(
    "or and nor vs versus is was seems appears looks would should must might could "
    "because since as then than".split()
)
_ARTICLE_LIKE = frozenset("AI")
_SPACES = re.compile(r"\s+")

# Per options dict: (needles, valid letters). A needle is an option text
# lower-cased, whitespace collapsed, trailing punctuation dropped.
_OPTION_CACHE: dict[tuple, tuple[tuple[tuple[str, str], ...], frozenset[str]]] = {}
_OPTION_CACHE_MAX = 8192


def _option_info(options: Mapping[str, str]) -> tuple[tuple[tuple[str, str], ...], frozenset[str]]:
    """``(needle, letter)`` pairs, longest needle first, and the option letters."""
    key = tuple(options.items())
    try:
        info = _OPTION_CACHE.get(key)
    except TypeError:  # unhashable option values: no caching
        info, key = None, None
    if info is None:
        pairs = []
        for letter, text in key:
            needle = _SPACES.sub(" ", str(text).lower()).strip().rstrip(".,;:!? ").strip()
            if len(needle) >= 2:
                pairs.append((needle, str(letter).upper()))
        needles = tuple(sorted(pairs, key=lambda p: -len(p[0])))
        info = (needles, frozenset(str(k).upper() for k in options))
        if key is not None:
            if len(_OPTION_CACHE) >= _OPTION_CACHE_MAX:
                _OPTION_CACHE.clear()
            _OPTION_CACHE[key] = info
    return info


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def extract_letters(answer: str, options: Mapping[str, str] | None) -> tuple[str, ...]:
    """The distinct option letters an answer text names (option texts first).

    Empty for an open question (``options`` is ``None``) or when nothing is
    named. See the module docstring for the rules.

    >>> extract_letters("The answer is C", {"A": "MRI", "B": "X-ray", "C": "CT"})
    ('C',)
    >>> extract_letters("A or B", {"A": "MRI", "B": "X-ray", "C": "CT"})
    ('A', 'B')
    """
    if not options or not answer:
        return ()
    stripped = answer.strip(_DECORATION)
    if len(stripped) <= 1:
        return (stripped.upper(),) if stripped in _LETTERS and stripped else ()
    needles, valid = _option_info(options)
    text = answer.strip()
    if "  " in text or "\n" in text or "\t" in text or "\r" in text:
        text = _SPACES.sub(" ", text)

    # 1. option texts, longest first; the characters they cover hide letters
    found: list[str] = []
    low = text.lower()
    size = len(low)
    covered = bytearray(size)  # 1 where an option text was matched
    for needle, letter in needles:
        start = low.find(needle)
        while start != -1:
            end = start + len(needle)
            if (start == 0 or not _is_word_char(low[start - 1])) and (end == size or not _is_word_char(low[end])):
                if covered.find(0, start, end) != -1:  # not inside a longer option's text
                    covered[start:end] = b"\x01" * (end - start)
                    if letter not in found:
                        found.append(letter)
            start = low.find(needle, start + 1)

    # 2. letter patterns outside those texts
    lead = _LEAD_LETTER.match(text)
    if lead:
        pos = lead.start("l")
        letter = lead.group("l").upper()
        if letter not in found and not covered[pos]:
            found.append(letter)
    for m in _LETTER_PATTERNS.finditer(text):
        kind = m.lastgroup
        if kind == "u" or kind == "nw":
            letter = m.group("u")
            if letter not in valid:
                continue
            if letter in _ARTICLE_LIKE:
                nxt = m.group("nw")
                if nxt is not None and nxt.lower() not in _LETTER_FOLLOWERS:
                    continue
            pos = m.start("u")
        else:
            letter = m.group(kind).upper()
            pos = m.start(kind)
        if letter not in found and not covered[pos]:
            found.append(letter)
    return tuple(found)


def _agree(blocks: Sequence[str], options: Mapping[str, str] | None) -> tuple[bool, tuple[str, ...]]:
    """Whether several answer blocks say the same thing, and their letters."""
    if options:
        letter_sets = [extract_letters(b, options) for b in blocks]
        first = letter_sets[0]
        return all(set(s) == set(first) for s in letter_sets) and bool(first), first
    norm = {_SPACES.sub(" ", b).strip().lower() for b in blocks}
    return len(norm) == 1, ()


def _scan_tags(text: str) -> tuple[list[str], list[str], list[str], bool, bool]:
    """``(think blocks, answer blocks, block kinds in order, outside text?, bad tags?)``.

    One ``re.split`` on the tags, then a walk over the pieces: a tag inside an
    open block is text of that block; a stray closing tag or an unclosed block
    is text outside the blocks (and a bad tag).
    """
    pieces = _TAG.split(text)  # [text, closing, kind, text, closing, kind, text, ...]
    thinks: list[str] = []
    answers: list[str] = []
    order: list[str] = []
    first = pieces[0]
    outside = bool(first) and not first.isspace()
    bad_tags = False
    open_kind: str | None = None
    inner: list[str] = []
    for i in range(1, len(pieces), 3):
        closing, kind, segment = pieces[i], pieces[i + 1], pieces[i + 2]
        if open_kind is None:
            if not closing:
                open_kind, inner = kind, [segment]
                continue
            bad_tags = outside = True  # stray closing tag
        elif closing and kind == open_kind:
            (thinks if kind == "think" else answers).append(inner[0] if len(inner) == 1 else "".join(inner))
            order.append(kind)
            open_kind = None
        else:  # nested tag: part of the open block's text
            bad_tags = True
            inner += (f"<{closing}{kind}>", segment)
            continue
        if segment and not outside and not segment.isspace():
            outside = True
    if open_kind is not None:  # unclosed block: not a block
        bad_tags = outside = True
    return thinks, answers, order, outside, bad_tags


_EXPECTED = {"think": ["think", "answer"], "think_after": ["answer", "think"], "nothink": ["answer"]}


def _problems(variant: str, thinks: list[str], answers: list[str], order: list[str], outside: bool,
              bad_tags: bool) -> list[str]:
    """The failed checks of :data:`CHECKS` for a scanned completion."""
    problems: list[str] = []
    n_think, n_answer = len(thinks), len(answers)
    if n_think != (0 if variant == "nothink" else 1):
        problems.append("think_count")
    if n_answer != 1:
        problems.append("answer_count")
    if variant != "nothink":
        first = "think" if variant == "think" else "answer"
        # both kinds present, every `first` block before every other block
        k = order.count(first)
        if not (0 < k < len(order) and all(kind == first for kind in order[:k])):
            problems.append("order")
    if not order or not all(map(str.strip, thinks)) or not all(map(str.strip, answers)):
        problems.append("non_empty")
    if outside:
        problems.append("outside_text")
    if bad_tags:
        problems.append("tags")
    return problems


def parse_completion(text: str, *, options: Mapping[str, str] | None = None, variant: str = "think") -> Completion:
    """Parse ``text`` once into a :class:`~medr1_core.samples.Completion`.

    ``options`` (the sample's ``{"A": "CT", ...}``) lets option texts map to
    letters; ``variant`` (``think``, ``nothink``, ``think_after``) decides which
    structure is well-formed. Tags are exact and lower-case (``<think>``,
    ``</think>``, ``<answer>``, ``</answer>``); a tag inside an open block is
    text of that block (and a ``tags`` problem), so an answer hidden inside the
    reasoning does not count. Unclosed blocks are not blocks.
    """
    if variant not in CHECKS:
        check_variant(variant)
    if not isinstance(text, str):
        text = "" if text is None else str(text)

    thinks, answers, order, outside, bad_tags = _scan_tags(text)

    if order == _EXPECTED[variant] and not outside and not bad_tags and all(map(str.strip, thinks + answers)):
        problems: tuple[str, ...] | list[str] = ()  # the common, well-formed case
    else:
        problems = _problems(variant, thinks, answers, order, outside, bad_tags)

    answer: str | None
    letters: tuple[str, ...]
    if not answers:
        answer, letters = None, ()
    elif len(answers) == 1:
        answer = answers[0].strip()
        letters = extract_letters(answer, options)
    else:
        same, letters = _agree(answers, options)
        answer = answers[0].strip() if same else None
        if not same:
            letters = ()
    think = (thinks[0] if len(thinks) == 1 else "\n".join(thinks)) if thinks else None
    return Completion(
        text=text,
        variant=variant,
        think=think,
        answers=tuple(answers),
        answer=answer,
        letters=letters,
        well_formed=not problems,
        problems=tuple(problems),
    )


def completion_text(completion) -> str:
    """The text of a TRL completion: a string, or a list of chat messages.

    Message ``content`` may be a string or a list of ``{"type": "text",
    "text": ...}`` parts; every text part of every message is joined.
    """
    if isinstance(completion, str):
        return completion
    if completion is None:
        return ""
    if isinstance(completion, Mapping):
        completion = [completion]
    parts: list[str] = []
    for message in completion:
        content = message.get("content") if isinstance(message, Mapping) else message
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and part.get("type", "text") == "text":
                    parts.append(str(part.get("text") or ""))
                elif isinstance(part, str):
                    parts.append(part)
    return "".join(parts)


def make_rollouts(samples: Sequence[Sample], texts: Sequence, variant: str = "think") -> list[Rollout]:
    """Parse each completion (string or chat messages) once against its sample."""
    if len(samples) != len(texts):
        raise ValueError(f"make_rollouts: {len(samples)} samples but {len(texts)} completions")
    return [
        Rollout(s, parse_completion(t if isinstance(t, str) else completion_text(t), options=s.options, variant=variant))
        for s, t in zip(samples, texts)
    ]
