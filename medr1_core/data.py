"""Datasets: load them through the format plugins, select, split, check images, feed training.

::

    from medr1_core.data import load_samples, split, check_images, training_dataset

    report = load_samples("path/to/OmniMedVQA", modalities=["ct", "MRI"])   # or "sample"
    print(report.summary())                        # counts and every bad record
    train, test = split(report.samples, test_fraction=0.2, seed=0)
    train = check_images(train, on_missing="skip").samples
    dataset = training_dataset(train, variant="think")   # images decoded lazily, per row

Nothing here imports torch or transformers; ``datasets`` is imported only by
:func:`training_dataset`.
"""

from __future__ import annotations

import os
import random
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .registry import normalise_label
from .samples import VARIANTS, Sample
from .specs import BadRecord

if TYPE_CHECKING:
    import datasets

    from .plugins import Plugins

#: The name ``load_samples`` and ``--data`` take for the bundled synthetic set.
SAMPLE_DATA = "sample"


class DataError(ValueError):
    """A dataset that cannot be read at all (no such path, unknown format); the message says why."""


class MissingImagesError(DataError):
    """Image files that do not exist, found before training starts."""


class DataWarning(UserWarning):
    """Something in the data worth knowing (skipped rows, images shared by train and test)."""


# --------------------------------------------------------------------------- loading


@dataclass
class LoadReport:
    """What :func:`load_samples` read: the samples, and every record it could not use.

    ``bad`` lists each unusable record as ``BadRecord(file, index, reason)``
    (index -1: a problem with the whole file). ``merged`` counts samples that
    were found in more than one file and merged (Med-R1's two groupings);
    ``excluded`` counts good samples left out by the selection.
    """

    path: str
    format: str
    samples: list[Sample] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)
    excluded: int = 0

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self):
        return iter(self.samples)

    @property
    def merged(self) -> int:
        return sum(1 for s in self.samples if s.extras.get("also_in"))

    def by_modality(self) -> dict[str, int]:
        return _count(s.modality for s in self.samples)

    def by_task(self) -> dict[str, int]:
        return _count(s.task for s in self.samples)

    def by_dataset(self) -> dict[str, int]:
        return _count(s.dataset for s in self.samples)

    def table(self) -> dict[str, dict[str, int]]:
        """Counts by modality, then task (``"none"`` where a sample has no label)."""
        out: dict[str, Counter] = {}
        for s in self.samples:
            out.setdefault(s.modality or "none", Counter())[s.task or "none"] += 1
        return {m: dict(sorted(c.items())) for m, c in sorted(out.items())}

    def option_counts(self) -> dict[str, int]:
        """How many questions have 2, 3, 4 ... options (``"open"``: none)."""
        return _count(str(len(s.options)) if s.options else "open" for s in self.samples)

    def answer_letters(self) -> dict[str, int]:
        """How often each letter is the correct answer (a skew a model can exploit)."""
        return _count(s.answer for s in self.samples if s.options)

    def summary(self, missing_images: int | None = None) -> dict[str, Any]:
        """Everything ``medr1 data inspect --json`` prints (one JSON-ready dict)."""
        out: dict[str, Any] = {
            "path": self.path,
            "format": self.format,
            "total": len(self.samples),
            "by_modality": self.by_modality(),
            "by_task": self.by_task(),
            "by_modality_task": self.table(),
            "by_dataset": self.by_dataset(),
            "options": self.option_counts(),
            "answer_letters": self.answer_letters(),
            "merged": self.merged,
            "excluded": self.excluded,
            "bad": [{"file": b.file, "index": b.index, "reason": b.reason} for b in self.bad],
        }
        if missing_images is not None:
            out["missing_images"] = missing_images
        return out


def _count(values: Iterable[str | None]) -> dict[str, int]:
    counts = Counter(v if v is not None else "none" for v in values)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def detect_format(path: Path, plugins: "Plugins") -> str:
    """The name of the first registered data format whose ``detect`` accepts ``path``."""
    for name, data_format in plugins.data_formats.items():
        try:
            if data_format.detect(path):
                return name
        except Exception as exc:  # noqa: BLE001 - a broken detector must not hide the others
            warnings.warn(f"data format {name!r} failed to inspect {path}: {exc}", DataWarning, stacklevel=2)
    known = ", ".join(plugins.data_formats.names()) or "(none registered)"
    raise DataError(f"cannot tell the format of {path}: none of the data formats ({known}) recognises it; name one with --format")


def load_samples(
    path_or_name: str | os.PathLike,
    *,
    format: str | None = None,
    modalities: Iterable[str] | str | None = None,
    tasks: Iterable[str] | str | None = None,
    datasets: Iterable[str] | str | None = None,
    image_root: str | os.PathLike | None = None,
    plugins: "Plugins | None" = None,
) -> LoadReport:
    """Read a dataset (a file or a folder of files of one format) through the format plugins.

    ``path_or_name`` is a path, or ``"sample"`` for the bundled synthetic set
    (generated into the cache on first use; see :mod:`medr1_core.sample_data`).
    ``format`` names a data format (else it is detected). ``modalities``,
    ``tasks`` (ids or aliases) and ``datasets`` (source dataset names) select
    samples, see :func:`select`. ``image_root`` overrides the folder relative
    image paths are resolved against. Samples with an id seen before are
    reported as bad records, not counted twice.
    """
    from .plugins import get_plugins

    plugins = plugins or get_plugins()
    if str(path_or_name) == SAMPLE_DATA:
        from .sample_data import ensure_sample_data

        path = ensure_sample_data()
    else:
        path = Path(path_or_name).expanduser()
    if not path.exists():
        raise DataError(f"no such file or directory: {path}")
    name = format or detect_format(path, plugins)
    data_format = plugins.data_formats.get(name)
    report = LoadReport(path=str(path), format=data_format.name)
    seen: dict[str, str] = {}
    try:
        for item in data_format.read(path, plugins):
            if isinstance(item, BadRecord):
                report.bad.append(item)
                continue
            first = seen.get(item.id)
            if first is not None:
                file, index = _source(item)
                report.bad.append(BadRecord(file, index, f"duplicate id {item.id!r}: first seen at {first}"))
                continue
            seen[item.id] = item.extras.get("source", "?")
            report.samples.append(item)
    except Exception as exc:  # noqa: BLE001 - keep what was read, say what broke
        report.bad.append(BadRecord(str(path), -1, f"data format {name!r} stopped reading: {type(exc).__name__}: {exc}"))
    if image_root is not None:
        root = str(Path(image_root).expanduser())
        for sample in report.samples:
            sample.extras["image_root"] = root
    if modalities or tasks or datasets:
        selected = select(report.samples, modalities=modalities, tasks=tasks, datasets=datasets, plugins=plugins)
        report.excluded = len(report.samples) - len(selected)
        report.samples = selected
    return report


def _source(sample: Sample) -> tuple[str, int]:
    file, _, index = str(sample.extras.get("source", "?#-1")).rpartition("#")
    try:
        return file, int(index)
    except ValueError:
        return file, -1


# --------------------------------------------------------------------------- selection and splits


def _names(values: Iterable[str] | str | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = values.split(",")
    return [v.strip() for v in values if v and v.strip()]


def resolve_modalities(values: Iterable[str] | str | None, plugins: "Plugins | None" = None) -> set[str]:
    """Canonical modality ids for ids or aliases (``"MRI,ct"``); unknown ones raise with a suggestion."""
    from .plugins import get_plugins

    plugins = plugins or get_plugins()
    return {plugins.modalities.get(v).id for v in _names(values)}


def resolve_tasks(values: Iterable[str] | str | None, plugins: "Plugins | None" = None) -> set[str]:
    """Canonical task ids for ids or aliases; unknown ones raise with a suggestion."""
    from .plugins import get_plugins

    plugins = plugins or get_plugins()
    return {plugins.tasks.get(v).id for v in _names(values)}


def select(
    samples: Sequence[Sample],
    *,
    modalities: Iterable[str] | str | None = None,
    tasks: Iterable[str] | str | None = None,
    datasets: Iterable[str] | str | None = None,
    plugins: "Plugins | None" = None,
) -> list[Sample]:
    """The samples of the given modalities, tasks and source datasets (each ``None``: all).

    Modalities and tasks are ids or any alias (``"MR"``, ``"Disease Diagnosis"``);
    dataset names match ignoring case and punctuation. A dataset name that
    matches no sample raises :class:`DataError` listing the datasets present.
    """
    wanted_modalities = resolve_modalities(modalities, plugins) if modalities else None
    wanted_tasks = resolve_tasks(tasks, plugins) if tasks else None
    wanted_datasets = None
    if datasets:
        present = {normalise_label(s.dataset): s.dataset for s in samples if s.dataset}
        wanted_datasets = set()
        for name in _names(datasets):
            key = normalise_label(name)
            if key not in present:
                raise DataError(
                    f"no samples from dataset {name!r}; datasets present: {', '.join(sorted(present.values()))}"
                )
            wanted_datasets.add(key)
    return [
        s
        for s in samples
        if (wanted_modalities is None or s.modality in wanted_modalities)
        and (wanted_tasks is None or s.task in wanted_tasks)
        and (wanted_datasets is None or (s.dataset and normalise_label(s.dataset) in wanted_datasets))
    ]


@dataclass
class Split:
    """A train/test split. Unpacks as ``train, test = split(...)``.

    ``shared_images`` lists image paths used by both sides (leakage);
    ``excluded`` counts samples on neither side (a cross split leaves out
    samples without the label it splits on).
    """

    train: list[Sample]
    test: list[Sample]
    shared_images: list[str] = field(default_factory=list)
    excluded: int = 0

    def __iter__(self):
        return iter((self.train, self.test))


def _shared_images(train: Sequence[Sample], test: Sequence[Sample]) -> list[str]:
    train_images = {image for s in train for image in s.images}
    return sorted({image for s in test for image in s.images if image in train_images})


def _warn_shared(result: Split, how: str) -> Split:
    result.shared_images = _shared_images(result.train, result.test)
    if result.shared_images:
        warnings.warn(
            f"{len(result.shared_images)} image(s) appear in both train and test ({how}); "
            f"e.g. {result.shared_images[0]}",
            DataWarning,
            stacklevel=3,
        )
    return result


def split(
    samples: Sequence[Sample],
    test_fraction: float = 0.2,
    *,
    seed: int = 0,
    group_by_image: bool = True,
) -> Split:
    """A deterministic, seeded train/test split.

    With ``group_by_image`` (the default) all questions about one image go to
    the same side, so no image leaks from train into test; ``test_fraction`` is
    then the fraction of images. The result depends only on the samples' ids
    and images and the seed, not on their order. Images on both sides are
    reported with a :class:`DataWarning` and in ``Split.shared_images``.
    """
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be within 0..1, got {test_fraction}")

    def key(s: Sample) -> str:
        return (s.images[0] if s.images else s.id) if group_by_image else s.id

    keys = sorted({key(s) for s in samples})
    random.Random(seed).shuffle(keys)
    test_keys = set(keys[: round(len(keys) * test_fraction)])
    train = [s for s in samples if key(s) not in test_keys]
    test = [s for s in samples if key(s) in test_keys]
    return _warn_shared(Split(train, test), f"seeded split, seed={seed}")


def cross_split(
    samples: Sequence[Sample],
    *,
    by: Literal["modality", "task"],
    train: Iterable[str] | str,
    test: Iterable[str] | str | None = None,
    plugins: "Plugins | None" = None,
) -> Split:
    """Train on some modalities (or tasks), test on the others: Med-R1's generalisation splits.

    ``train`` (and optionally ``test``; default: every other value) are ids or
    aliases. Samples without the label are excluded and counted. Images used
    on both sides (the same image asked about with different question types)
    are reported with a :class:`DataWarning` and in ``Split.shared_images``.
    """
    if by not in ("modality", "task"):
        raise ValueError(f"cross_split by must be 'modality' or 'task', got {by!r}")
    resolve = resolve_modalities if by == "modality" else resolve_tasks
    train_ids = resolve(train, plugins)
    if not train_ids:
        raise ValueError(f"cross_split needs at least one {by} to train on")
    test_ids = resolve(test, plugins) if test else None
    if test_ids and test_ids & train_ids:
        raise ValueError(f"{by} {', '.join(sorted(test_ids & train_ids))} is in both train and test")
    train_part, test_part, excluded = [], [], 0
    for s in samples:
        value = getattr(s, by)
        if value in train_ids:
            train_part.append(s)
        elif value is not None and (test_ids is None or value in test_ids):
            test_part.append(s)
        else:
            excluded += 1
    result = Split(train_part, test_part, excluded=excluded)
    return _warn_shared(result, f"cross-{by} split, train on {', '.join(sorted(train_ids))}")


# --------------------------------------------------------------------------- images


def image_path(sample: Sample, path: str, image_root: str | os.PathLike | None = None) -> str:
    """Where ``path`` (one of ``sample.images``) is on disk.

    Absolute paths stay; relative ones join ``image_root``, else the root the
    format recorded in ``sample.extras["image_root"]`` (e.g. the OmniMedVQA
    folder), else the current directory.
    """
    if os.path.isabs(path):
        return path
    root = image_root if image_root is not None else sample.extras.get("image_root")
    return os.path.join(root, path) if root else path


@dataclass
class ImageCheck:
    """What :func:`check_images` found: the samples to keep and the files that are missing
    (and, with ``verify``, unreadable), as ``(sample id, path, reason)``."""

    samples: list[Sample]
    missing: list[tuple[str, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len({sid for sid, *_ in self.missing} | {sid for sid, *_ in self.unreadable})


def check_images(
    samples: Sequence[Sample],
    image_root: str | os.PathLike | None = None,
    *,
    on_missing: Literal["error", "skip"] = "error",
    verify: bool = False,
) -> ImageCheck:
    """Check, before training, that every sample's image files exist.

    ``on_missing="error"`` raises :class:`MissingImagesError` with the count and
    the first paths; ``"skip"`` drops those samples with a :class:`DataWarning`
    giving the count. ``verify=True`` also opens each image's header with
    Pillow (slower: about 20-50 us per file on a local disk) and treats
    unreadable files like missing ones.
    """
    if on_missing not in ("error", "skip"):
        raise ValueError(f"on_missing must be 'error' or 'skip', got {on_missing!r}")
    result = ImageCheck(samples=[])
    exists: dict[str, bool] = {}
    for sample in samples:
        ok = True
        for image in sample.images:
            full = image_path(sample, image, image_root)
            present = exists.get(full)
            if present is None:
                present = exists[full] = os.path.isfile(full)
            if not present:
                result.missing.append((sample.id, full))
                ok = False
            elif verify:
                reason = _header_problem(full)
                if reason:
                    result.unreadable.append((sample.id, full, reason))
                    ok = False
        if ok:
            result.samples.append(sample)
    problems = len(result.missing) + len(result.unreadable)
    if problems:
        first = (result.missing + [(sid, p) for sid, p, _ in result.unreadable])[:5]
        listing = "\n".join(f"  {path} (sample {sid})" for sid, path in first)
        message = (
            f"{len(result.missing)} image file(s) missing"
            + (f" and {len(result.unreadable)} unreadable" if result.unreadable else "")
            + f" for {result.skipped} of {len(samples)} samples, e.g.:\n{listing}"
        )
        if on_missing == "error":
            raise MissingImagesError(
                message + "\nPoint --image-root at the folder the image paths are relative to, "
                "or pass --on-missing-image skip to train without these samples."
            )
        warnings.warn(message + f"\nskipping them: {len(result.samples)} samples remain", DataWarning, stacklevel=2)
    return result


def _header_problem(path: str) -> str | None:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.size  # noqa: B018 - parsing the header is the check
    except Exception as exc:  # noqa: BLE001
        if path.lower().endswith((".dcm", ".dicom", ".dic")):
            return None  # DICOM is read by pydicom, not Pillow
        return f"{type(exc).__name__}: {exc}"
    return None


# --------------------------------------------------------------------------- training


@dataclass
class ImageStats:
    """Counters of a lazily loaded dataset: images prepared, and unreadable ones skipped.

    ``unreadable`` maps each image that failed to its reason; ``substituted``
    counts rows served with another sample in place of one whose image failed.
    """

    prepared: int = 0
    unreadable: dict[str, str] = field(default_factory=dict)
    substituted: int = 0


#: How many unreadable images get their own warning before they are only counted.
MAX_IMAGE_WARNINGS = 20


class LazyImages:
    """The ``datasets`` transform of :func:`training_dataset`: opens and prepares a row's images
    when the row is accessed, and builds its conversational prompt.

    A row whose image cannot be read (corrupt, truncated, deleted since
    :func:`check_images`) is skipped: the next row (in dataset order, wrapping)
    whose images open is served in its place, always the same one, so a GRPO
    group keeps one question. Each such image is counted in :attr:`stats` and
    warned about (the first :data:`MAX_IMAGE_WARNINGS`). Training never stops
    for one bad image; it stops only if no image in the dataset can be read.
    """

    def __init__(self, base: "datasets.Dataset", *, modalities: dict[str, Any], tasks: dict[str, Any],
                 variant: str, multi: bool):
        self.base = base
        self.modalities = modalities
        self.tasks = tasks
        self.variant = variant
        self.multi = multi
        self.stats = ImageStats()
        self._replacement: dict[int, int] = {}

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        columns = [c for c in batch if c not in ("_row", "image_paths")]
        out: dict[str, list] = {"prompt": [], "images" if self.multi else "image": [], "image_paths": []}
        out.update({c: [] for c in columns})
        for i, row in enumerate(batch["_row"]):
            values = {c: batch[c][i] for c in batch}
            images = self._open(values)
            if images is None:
                values, images = self._substitute(row)
            out["prompt"].append(self._prompt(values, len(images)))
            out["images" if self.multi else "image"].append(images if self.multi else images[0])
            out["image_paths"].append(values["image_paths"])
            for c in columns:
                out[c].append(values[c])
        return out

    def _prompt(self, values: dict, n_images: int) -> list[dict[str, Any]]:
        from .prompts import build_prompt, conversation

        sample = Sample.from_row(values)
        return conversation(build_prompt(sample, self.tasks.get(sample.task), self.variant), n_images)

    def _open(self, values: dict) -> list | None:
        from .images import DEFAULT_MODALITY, ImageError, open_image

        modality = self.modalities.get(values.get("modality"), DEFAULT_MODALITY)
        images = []
        for path in values["image_paths"]:
            if path in self.stats.unreadable:
                return None
            try:
                images.append(open_image(path, modality))
            except ImageError as exc:
                self._record(path, exc.reason, values.get("id"))
                return None
        self.stats.prepared += len(images)
        return images

    def _record(self, path: str, reason: str, sample_id: str | None) -> None:
        self.stats.unreadable[path] = reason
        n = len(self.stats.unreadable)
        if n <= MAX_IMAGE_WARNINGS:
            more = " (further ones are only counted)" if n == MAX_IMAGE_WARNINGS else ""
            warnings.warn(
                f"skipping sample {sample_id}: image {path} cannot be read ({reason}); "
                f"{n} unreadable image(s) so far{more}",
                DataWarning,
                stacklevel=2,
            )

    def _substitute(self, row: int) -> tuple[dict, list]:
        """The row served in place of ``row``, and its images: the same one every time."""
        self.stats.substituted += 1
        known = self._replacement.get(row)
        if known is not None:
            values = self.base[known]
            images = self._open(values)
            if images is not None:
                return values, images
        n = len(self.base)
        for step in range(1, n):
            candidate = (row + step) % n
            values = self.base[candidate]
            if any(p in self.stats.unreadable for p in values["image_paths"]):
                continue
            images = self._open(values)
            if images is not None:
                self._replacement[row] = candidate
                return values, images
        raise RuntimeError(
            f"no image in the dataset can be read ({len(self.stats.unreadable)} unreadable, e.g. "
            f"{next(iter(self.stats.unreadable.items()))})"
        )


def training_dataset(
    samples: Sequence[Sample],
    *,
    plugins: "Plugins | None" = None,
    variant: str = "think",
    image_root: str | os.PathLike | None = None,
) -> "datasets.Dataset":
    """A ``datasets.Dataset`` for TRL's GRPOTrainer whose images are decoded only when a row is read.

    Each row has:

    - ``prompt``: the conversation (one user turn: an ``{"type": "image"}``
      placeholder per image, then the task plugin's prompt text for ``variant``);
    - ``image``: the prepared PIL image (when every sample has exactly one
      image), else ``images``: the list of them; TRL's GRPOTrainer reads
      either column;
    - ``id``, ``question``, ``options`` (JSON text), ``answer``, ``modality``,
      ``task``, ``dataset`` (:meth:`Sample.to_row`), which TRL hands to reward
      functions, and ``image_paths``.

    Rows with an unreadable image are replaced as :class:`LazyImages`
    describes; :func:`image_stats` returns the counters. Run
    :func:`check_images` first to find missing files before training starts.
    """
    import datasets

    from .plugins import get_plugins
    from .prompts import build_prompt

    if variant not in VARIANTS:
        raise ValueError(f"unknown prompt variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    if not samples:
        raise DataError("no samples to train on")
    plugins = plugins or get_plugins()
    no_image = [s.id for s in samples if not s.images]
    if no_image:
        raise DataError(f"{len(no_image)} sample(s) have no image (e.g. {no_image[0]}); medr1 trains on visual questions")
    multi = any(len(s.images) != 1 for s in samples)
    tasks = {name: plugins.tasks.get(name) for name in {s.task for s in samples if s.task}}
    modalities = {name: plugins.modalities.get(name) for name in {s.modality for s in samples if s.modality}}
    first_of_task: dict[str | None, Sample] = {}
    for sample in samples:
        first_of_task.setdefault(sample.task, sample)
    for sample in first_of_task.values():  # a task's template problem shows now, not mid-run
        build_prompt(sample, tasks.get(sample.task), variant)
    columns: dict[str, list] = {key: [] for key in ("id", "question", "options", "answer", "modality", "task", "dataset")}
    columns.update(image_paths=[], _row=[])
    for index, sample in enumerate(samples):
        for key, value in sample.to_row().items():
            columns[key].append(value)
        columns["image_paths"].append([image_path(sample, p, image_root) for p in sample.images])
        columns["_row"].append(index)
    base = datasets.Dataset.from_dict(columns)
    return base.with_transform(LazyImages(base, modalities=modalities, tasks=tasks, variant=variant, multi=multi))


def image_stats(dataset: "datasets.Dataset") -> ImageStats:
    """The :class:`ImageStats` of a dataset made by :func:`training_dataset` (or a select/shuffle of it)."""
    transform = (dataset.format.get("format_kwargs") or {}).get("transform")
    if not isinstance(transform, LazyImages):
        raise TypeError("image_stats() takes a dataset made by medr1_core.data.training_dataset")
    return transform.stats
