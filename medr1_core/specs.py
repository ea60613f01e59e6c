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

    id: str = field(metadata={"doc": "canonical id: what samples, `scope.modalities` and `--modality` use"})
    name: str = field(metadata={"doc": "display name"})
    aliases: tuple[str, ...] = field(default=(), metadata={
        "doc": "labels datasets use for it, matched ignoring case and punctuation"})
    image_mode: str = field(default="RGB", metadata={"doc": "PIL mode images are converted to"})
    min_pixels: int = field(default=56 * 56, metadata={
        "doc": "smallest image area (pixels); smaller images grow, keeping the aspect ratio"})
    max_pixels: int = field(default=384 * 384, metadata={
        "doc": "largest image area (pixels); larger images shrink, keeping the aspect ratio"})
    dicom_window: bool = field(default=False, metadata={"doc": "apply a DICOM header's window centre/width"})
    default_trees: tuple[str, ...] = field(default=(), metadata={
        "doc": "names of registered decision trees (`medr1 rules list`) that apply to it"})
    prepare: Callable[["PILImage"], "PILImage"] | None = field(default=None, metadata={
        "doc": "its own image preparation, `prepare(image) -> image`, run before medr1's steps "
                "(see [Image preparation of a modality](#image-preparation-of-a-modality))"})


@dataclass(frozen=True)
class Task:
    """A question type.

    ``prompts`` maps each prompt variant (``think``, ``nothink``,
    ``think_after``) to a template with ``{question}`` and ``{options}``
    fields. ``answer_kind`` is ``"choice"`` (answer with an option letter) or
    ``"open"`` (free text).
    """

    id: str = field(metadata={"doc": "canonical id: what samples, `scope.tasks` and `--task` use"})
    name: str = field(metadata={"doc": "display name"})
    aliases: tuple[str, ...] = field(default=(), metadata={
        "doc": "labels datasets use for it, matched ignoring case and punctuation"})
    prompts: Mapping[str, str] = field(default_factory=dict, metadata={
        "doc": "prompt variant (`think`, `nothink`, `think_after`) -> template with `{question}` and `{options}`; "
               "a run with a variant it lacks stops naming it; questions without options use medr1's open template"})
    answer_kind: Literal["choice", "open"] = field(default="choice", metadata={
        "doc": "`choice`: answered with an option letter; `open`: free text"})


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

    name: str = field(metadata={"doc": "what it is found by: `only:`, `default_trees`, `medr1 rules explain NAME`"})
    path: Path | None = field(default=None, metadata={"doc": "the tree file (YAML or JSON)"})
    data: Mapping | None = field(default=None, metadata={"doc": "or the parsed tree"})

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

    name: str = field(metadata={"doc": "what `--format` takes"})
    description: str = field(metadata={"doc": "one line for `medr1 plugins` and `medr1 data inspect`"})
    detect: Callable[[Path], bool] = field(metadata={
        "doc": "`detect(path)`: whether `path` is in this format, cheaply; `path` is what the user gave, a file "
               "or a folder, so check which"})
    read: Callable[[Path, LabelResolver], Iterable["Sample | BadRecord"]] = field(metadata={
        "doc": "`read(path, labels)`: yields a `Sample` per good record and a `BadRecord` per bad one, never "
               "raising for one record; `labels.modality(label)` / `labels.task(label)` give canonical ids or None"})
