"""The data model every part of medr1 shares: Sample, Completion, Rollout.

A :class:`Sample` is one question about one or more images. A
:class:`Completion` is what a model wrote, parsed once (see
:func:`medr1_core.parsing.parse_completion`). A :class:`Rollout` pairs them: it is
what a reward scores. No reward re-parses ``completion.text``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

VARIANTS = ("think", "nothink", "think_after")
"""Prompt variants: reason then answer, answer only, answer then reason."""

ANSWER_TYPES = ("closed", "open")
"""How benchmarks split their questions: closed (yes/no, or one of given choices) and open (free text)."""


def check_variant(variant: str, where: str = "prompt variant") -> str:
    """``variant`` if it is one of :data:`VARIANTS`, else a ConfigError naming ``where``."""
    if variant not in VARIANTS:
        from .errors import ConfigError

        raise ConfigError(f"{where}: unknown prompt variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    return variant


@dataclass(slots=True)
class Sample:
    """One visual question.

    ``options`` maps option letters to their texts (``{"A": "CT", ...}``) for a
    multiple-choice question, and is ``None`` for an open one. ``answer`` is the
    correct letter for a multiple-choice question and the reference text for an
    open one. ``modality`` and ``task`` are canonical ids (``"ct"``,
    ``"disease_diagnosis"``) once resolved through the plugins' aliases.

    Keys of ``extras`` that medr1 itself reads: ``image_root`` (the folder
    relative image paths are in), ``source`` (file#index), ``answer_type``
    (``"closed"``/``"open"``, see :attr:`answer_type`), ``language``,
    ``answers`` (every acceptable reference, when a benchmark has several),
    ``open_metric`` (how the benchmark scores open answers, see the
    ``accuracy`` reward), ``unmapped`` (dataset labels no plugin knows, by
    kind) and the volume settings ``slices``, ``slice_sampling``, ``window``
    (see :mod:`medr1_core.data.volumes`).
    """

    id: str
    question: str
    answer: str
    options: dict[str, str] | None = None
    images: tuple[str, ...] = ()
    modality: str | None = None
    task: str | None = None
    dataset: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def answer_text(self) -> str:
        """The text of the correct answer (the option's text for a choice question)."""
        if self.options and self.answer in self.options:
            return self.options[self.answer]
        return self.answer

    @property
    def answer_type(self) -> str:
        """``"closed"`` or ``"open"``: as the dataset labels the question (``extras["answer_type"]``),
        else closed for a question with options and open for one without."""
        kind = self.extras.get("answer_type")
        if kind in ANSWER_TYPES:
            return kind
        return "closed" if self.options else "open"

    @property
    def language(self) -> str | None:
        """The question's language code (``"en"``, ``"zh"``) when the dataset says it."""
        language = self.extras.get("language")
        return str(language) if language else None

    @property
    def references(self) -> tuple[str, ...]:
        """Every acceptable answer: ``extras["answers"]`` when the dataset lists several, else the answer."""
        answers = self.extras.get("answers")
        if isinstance(answers, (list, tuple)) and answers:
            return tuple(str(a) for a in answers)
        return (self.answer,)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict in the JSONL sample shape."""
        return {
            "id": self.id,
            "images": list(self.images),
            "question": self.question,
            "options": self.options,
            "answer": self.answer,
            "modality": self.modality,
            "task": self.task,
            "dataset": self.dataset,
            "extras": self.extras,
        }

    def to_row(self) -> dict[str, Any]:
        """Flat columns for a ``datasets.Dataset`` row (options as JSON text).

        TRL hands these columns back to reward functions as keyword arguments;
        :meth:`from_row` rebuilds the Sample from them.
        """
        return {
            "id": self.id,
            "question": self.question,
            "options": json.dumps(self.options) if self.options is not None else None,
            "answer": self.answer,
            "modality": self.modality,
            "task": self.task,
            "dataset": self.dataset,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Sample":
        """Inverse of :meth:`to_row` (also accepts options as a dict)."""
        options = row.get("options")
        if isinstance(options, str):
            options = json.loads(options)
        return cls(
            id=str(row.get("id", "")),
            question=row.get("question") or "",
            answer=row.get("answer") or "",
            options=options or None,
            modality=row.get("modality"),
            task=row.get("task"),
            dataset=row.get("dataset"),
        )


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's output, parsed once for every reward.

    - ``think``: the text of the think block (``None`` if there is none).
    - ``answers``: the text of every answer block, in order.
    - ``answer``: the answer the completion commits to: the single answer
      block's text, or ``None`` when there is no answer block or several that
      disagree.
    - ``letters``: the distinct option letters the answer names (empty for an
      open question or when none is named; more than one is a hedge).
    - ``well_formed``: the tags follow the variant's structure exactly
      (one block of each kind, in order, non-empty, nothing but whitespace
      outside them).
    - ``problems``: the names of the structural checks it fails (see
      :data:`medr1_core.parsing.CHECKS`); empty when ``well_formed``.
    """

    text: str
    variant: str = "think"
    think: str | None = None
    answers: tuple[str, ...] = ()
    answer: str | None = None
    letters: tuple[str, ...] = ()
    well_formed: bool = False
    problems: tuple[str, ...] = ()

    @property
    def letter(self) -> str | None:
        """The single option letter chosen, or ``None`` (none, or a hedge)."""
        return self.letters[0] if len(self.letters) == 1 else None


@dataclass(frozen=True, slots=True)
class Rollout:
    """A sample with one completion: what a reward scores."""

    sample: Sample
    completion: Completion
