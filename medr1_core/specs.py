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
    from PIL.Image import Image as PILImage

    from .samples import Sample


@dataclass(frozen=True)
class Modality:
    """An imaging modality.

    ``aliases`` are the labels datasets use for it (OmniMedVQA's
    ``modality_type`` values, Med-R1 split file names, typos included); they are
    matched case- and punctuation-insensitively. Images are converted to
    ``image_mode`` and resized, keeping their aspect ratio, to lie within
    ``min_pixels``..``max_pixels``. ``dicom_window`` applies a DICOM header's
    window centre/width. ``default_trees`` names the decision trees (registered
    rule files, ``medr1 rules list``) that apply to this modality.

    ``prepare``, if set, is the modality's own image preparation (crop an
    endoscope's black border, window a CT): a function from a PIL image to a PIL
    image, run on every image of the modality in training and evaluation alike,
    after decoding and before medr1's conversion to 8 bits, ``image_mode`` and
    the pixel bounds. It receives the image at its full depth (16-bit and float
    images as they are; a DICOM file as mode ``F`` holding the values after
    rescale slope/intercept, Hounsfield units for CT, with no window applied and
    ``dicom_window`` not used), and a volume's slices 8-bit, already windowed
    (their window is set per sample, see docs/data.md). Make it a module-level
    function, so it pickles.
    """

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    image_mode: str = "RGB"
    min_pixels: int = 56 * 56
    max_pixels: int = 384 * 384
    dicom_window: bool = False
    default_trees: tuple[str, ...] = ()
    prepare: Callable[["PILImage"], "PILImage"] | None = None


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


#: The file suffixes of decision-tree rule files.
RULE_FILE_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class RuleFile:
    """A decision-tree rule file a plugin ships, registered under ``name``.

    Made by the ``register`` callback of ``medr1_register_rules`` from a path
    (``name`` is the file's stem) or from an already parsed tree (a mapping;
    ``name`` is its ``id``). Exactly one of ``path`` and ``data`` is set. medr1
    only records it; the ``dtree`` reward reads, validates and compiles it when
    it is built, and a tree whose ``id`` differs from ``name`` is an error.
    """

    name: str
    path: Path | None = None
    data: Mapping | None = None

    @property
    def source(self) -> str:
        """Where the tree comes from, for messages: its path, or ``<name>`` for a tree given as data."""
        return str(self.path) if self.path is not None else f"<{self.name}>"


def rule_files(obj: "str | Path | Mapping | RuleFile") -> list[RuleFile]:
    """What ``register(obj)`` of ``medr1_register_rules`` records: one :class:`RuleFile` per tree.

    ``obj`` is a tree file, a folder (its ``*.yaml``, ``*.yml`` and ``*.json``,
    sorted), a parsed tree (a mapping with a string ``id``) or a RuleFile.
    Raises ``ValueError`` saying what is wrong (a missing path, a folder
    with no tree file, a mapping without ``id``).
    """
    if isinstance(obj, RuleFile):
        return [obj]
    if isinstance(obj, Mapping):
        name = obj.get("id")
        if not isinstance(name, str) or not name:
            raise ValueError("a tree registered as data (a mapping) needs a string 'id'")
        return [RuleFile(name=name, data=obj)]
    if not isinstance(obj, (str, Path)):
        raise TypeError(f"register() for rules takes a tree file or folder (str or Path), a parsed tree (a mapping) "
                        f"or a medr1_core.RuleFile, got {obj!r}")
    path = Path(obj)
    if path.is_dir():
        files = sorted(f for f in path.iterdir() if f.suffix in RULE_FILE_SUFFIXES and f.is_file())
        if not files:
            raise ValueError(f"rule folder {path} holds no tree file (*.yaml, *.yml, *.json)")
        return [RuleFile(name=f.stem, path=f) for f in files]
    if not path.is_file():
        raise ValueError(f"no such rule file or folder: {path} (is it listed as package data?)")
    if path.suffix not in RULE_FILE_SUFFIXES:
        raise ValueError(f"rule file {path} is not *.yaml, *.yml or *.json")
    return [RuleFile(name=path.stem, path=path)]


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
