"""What modality, task and data-format plugins register.

These are plain frozen dataclasses: a plugin builds one and hands it to the
``register`` callback of its hook (see :mod:`medr1_core.hookspecs`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from .samples import Sample


@dataclass(frozen=True)
class Modality:
    """An imaging modality.

    ``aliases`` are the labels datasets use for it (OmniMedVQA's
    ``modality_type`` values, Med-R1 split file names, typos included); they are
    matched case- and punctuation-insensitively. Images are converted to
    ``image_mode`` and resized, keeping their aspect ratio, to lie within
    ``min_pixels``..``max_pixels``. ``dicom_window`` applies a DICOM header's
    window centre/width. ``default_trees`` names the decision trees (dtree file
    stems) that apply to this modality.
    """

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    image_mode: str = "RGB"
    min_pixels: int = 56 * 56
    max_pixels: int = 384 * 384
    dicom_window: bool = False
    default_trees: tuple[str, ...] = ()


@dataclass(frozen=True)
class Task:
    """A question type.

    ``prompts`` maps each prompt variant (``think``, ``nothink``,
    ``think_after``) to a template with ``{question}`` and ``{options}``
    fields. ``answer_kind`` is ``"choice"`` (answer with an option letter) or
    ``"open"`` (free text).
    """

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    prompts: Mapping[str, str] = field(default_factory=dict)
    answer_kind: Literal["choice", "open"] = "choice"


@dataclass(frozen=True)
class BadRecord:
    """A record a data format could not turn into a Sample, and why.

    ``index`` is the record's position in its file (-1: a problem with the
    whole file; a reason starting ``file skipped:`` means none of its records
    were read). ``line`` is its line number (from 1) where the format reads
    lines, as JSONL does.
    """

    file: str
    index: int
    reason: str
    line: int | None = None

    @property
    def where(self) -> str:
        """``file:line`` when the line is known, else ``file#index`` (``file`` for the whole file)."""
        if self.line is not None:
            return f"{self.file}:{self.line}"
        return self.file if self.index < 0 else f"{self.file}#{self.index}"

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"

    @property
    def lost_file(self) -> bool:
        """Whether none of the file's records could be read (a ``file skipped:`` problem)."""
        return self.index < 0 and self.reason.startswith("file skipped")


class LabelResolver(Protocol):
    """Maps dataset labels to canonical modality and task ids (or None)."""

    def modality(self, label: str | None) -> str | None: ...

    def task(self, label: str | None) -> str | None: ...


@dataclass(frozen=True)
class DataFormat:
    """A dataset layout medr1 can read.

    ``detect(path)`` says whether ``path`` (a file or directory) is in this
    format, cheaply. ``read(path, labels)`` yields a :class:`Sample` per good
    record and a :class:`BadRecord` per record it could not use; it never
    raises for one bad record.
    """

    name: str
    description: str
    detect: Callable[[Path], bool]
    read: Callable[[Path, LabelResolver], Iterable["Sample | BadRecord"]]
