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
    """A record a data format could not turn into a Sample, and why."""

    file: str
    index: int
    reason: str


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
