"""JSONL in medr1's Sample shape: one JSON object per line, for your own data::

    {"id": "q1", "images": ["img/0001.png"], "question": "Which modality?",
     "options": {"A": "CT", "B": "MRI"}, "answer": "B",
     "modality": "MRI", "task": "Modality Recognition", "dataset": "mine"}

- ``images`` is a list of paths (``image``, one path, is accepted too),
  relative to the file's folder unless absolute (or ``extras.image_root``
  names another folder).
- ``options`` is an object of letter -> text, or a list of texts (lettered
  A, B, ...), or null/absent for an open question.
- ``answer`` is the correct option's letter, or its text (turned into the
  letter); for an open question, the reference answer.
- ``modality`` and ``task`` are ids or any alias (optional); ``id`` defaults to
  ``<file stem>#<line index>``.

A folder of ``.jsonl`` files is one dataset. Lines are read one by one with
:func:`medr1_core.files.iter_jsonl`: a line that is not UTF-8 or not JSON is a
bad record with its ``file:line`` (``BadRecord.line``, from 1) and the rest of
the file is read; a UTF-8 byte-order mark is fine. ``BadRecord.index`` and the
default id count lines from 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medr1_core.files import BadLine, iter_jsonl
from medr1_core.samples import Sample
from medr1_core.specs import BadRecord

from ._common import CachedLabels, json_files, unknown_label

NAME = "jsonl"
DESCRIPTION = "JSONL, one sample per line: id, images, question, options, answer, modality, task, dataset, extras"

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_record_model = None


def _model():
    """The pydantic model of one line (built on first use: pydantic is not imported at start-up)."""
    global _record_model
    if _record_model is None:
        from pydantic import BaseModel, ConfigDict, Field, field_validator

        class JsonlRecord(BaseModel):
            model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

            id: str | None = None
            question: str = Field(min_length=1)
            answer: str = Field(min_length=1)
            options: dict[str, str] | list[str] | None = None
            images: list[str] | None = None
            image: str | None = None
            modality: str | None = None
            task: str | None = None
            dataset: str | None = None
            extras: dict[str, Any] = Field(default_factory=dict)

            @field_validator("options")
            @classmethod
            def _letters(cls, value):
                if isinstance(value, list):
                    if len(value) > len(_LETTERS):
                        raise ValueError(f"at most {len(_LETTERS)} options")
                    value = {_LETTERS[i]: text for i, text in enumerate(value)}
                if value is not None:
                    bad = [k for k in value if len(k) != 1 or not k.isalpha() or not k.isupper()]
                    if bad:
                        raise ValueError(f"option keys must be capital letters, got {bad}")
                    if len(value) < 2:
                        raise ValueError("a choice question needs at least 2 options")
                return value

        _record_model = JsonlRecord
    return _record_model


def detect(path: Path) -> bool:
    """A ``.jsonl`` file, or a folder holding ``.jsonl`` files."""
    if path.is_dir():
        return bool(json_files(path, suffix=".jsonl"))
    return path.suffix == ".jsonl"


def read(path: Path, labels) -> Iterator[Sample | BadRecord]:
    """Yield a Sample per valid line and a BadRecord naming the field for every other."""
    from pydantic import ValidationError

    labels = CachedLabels(labels)
    model = _model()
    for file in json_files(path, suffix=".jsonl"):
        image_root = str(file.parent)
        source = str(file)
        try:
            for item in iter_jsonl(file):
                index = item.line - 1
                if isinstance(item, BadLine):
                    yield BadRecord(source, index, item.reason, line=item.line)
                    continue
                try:
                    record = model.model_validate(item.value)
                except ValidationError as exc:
                    yield BadRecord(source, index, _explain(exc), line=item.line)
                    continue
                result = _sample(record, file, index, labels)
                if isinstance(result, str):
                    yield BadRecord(source, index, result, line=item.line)
                else:
                    result.extras = {"image_root": image_root, **record.extras, "source": f"{source}#{index}"}
                    yield result
        except OSError as exc:
            yield BadRecord(source, -1, f"file skipped: cannot be read: {exc.strerror or exc}")


def _explain(exc) -> str:
    """pydantic's errors as ``field: problem`` (the alternatives of a union joined with 'or')."""
    by_field: dict[str, list[str]] = {}
    for error in exc.errors():
        parts = [str(p) for p in error["loc"] if not (isinstance(p, str) and ("[" in p or p in _TYPE_TAGS))]
        messages = by_field.setdefault(".".join(parts) or "record", [])
        message = error["msg"]
        if messages and message.startswith("Input should be "):
            message = message.removeprefix("Input should be ")
        if message not in messages:
            messages.append(message)
    return "; ".join(f"{field}: {' or '.join(messages)}" for field, messages in by_field.items())


_TYPE_TAGS = {"str", "int", "float", "bool", "list", "dict", "none"}


def _sample(record, file: Path, index: int, labels) -> Sample | str:
    options = record.options
    answer = record.answer.strip()
    if options is not None:
        if answer not in options:
            matches = [k for k, text in options.items() if text.strip().casefold() == answer.casefold()]
            if len(matches) != 1:
                return f"answer {record.answer!r} is neither an option letter nor the text of one option ({', '.join(options)})"
            answer = matches[0]
    modality = task = None
    if record.modality is not None:
        modality = labels.modality(record.modality)
        if modality is None:
            return unknown_label("modality", record.modality)
    if record.task is not None:
        task = labels.task(record.task)
        if task is None:
            return unknown_label("task", record.task)
    images = tuple(record.images or ()) + ((record.image,) if record.image else ())
    return Sample(
        id=record.id if record.id else f"{file.stem}#{index}",
        question=record.question,
        answer=answer,
        options=options,
        images=images,
        modality=modality,
        task=task,
        dataset=record.dataset or file.stem,
    )
