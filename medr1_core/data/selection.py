"""Choosing the questions a run uses: the same steps, in the same order, for training and evaluation.

:func:`choose_samples` is the pipeline ``medr1 train`` and ``medr1 eval`` both
run, so the same flags select the same questions:

1. load the dataset (:func:`~medr1_core.data.loading.load_samples`; bad
   records are counted) or take the samples given;
2. keep the modalities, tasks and source datasets asked for (:func:`select`);
3. keep the first of each id (:func:`first_of_each_id`);
4. keep a seeded random subset of ``limit`` (:func:`seeded_subset`);
5. check that their image files exist and lie inside the dataset's folder
   (:func:`~medr1_core.data.images.check_images`: stop, or skip and count).

Bad records are never dropped silently: they are counted, the first few are
named with ``file:line`` in :attr:`Chosen.messages`, and when more than
``max_bad_fraction`` of the records read are bad, or a whole file could not be
read, the run refuses to start (:class:`~medr1_core.errors.DataError`) unless
told to go on (``--max-bad-fraction 1``).

What was left out, and why, is counted in :attr:`Chosen.skipped` and said in
:attr:`Chosen.messages`.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ..errors import DataError
from ..registry import comma_list, normalise_label
from ..samples import Sample

#: The share of bad records a run accepts by default before it refuses to start.
DEFAULT_MAX_BAD_FRACTION = 0.1
#: How many bad records :func:`choose_samples` names in its message.
BAD_EXAMPLES = 5

if TYPE_CHECKING:
    from ..plugins import Plugins
    from .loading import LoadReport


def resolve_modalities(values: Iterable[str] | str | None, plugins: "Plugins | None" = None) -> set[str]:
    """Canonical modality ids for ids or aliases (``"MRI,ct"``); unknown ones raise with a suggestion."""
    from ..plugins import get_plugins

    plugins = plugins or get_plugins()
    return {plugins.modalities.get(v).id for v in comma_list(values)}


def resolve_tasks(values: Iterable[str] | str | None, plugins: "Plugins | None" = None) -> set[str]:
    """Canonical task ids for ids or aliases; unknown ones raise with a suggestion."""
    from ..plugins import get_plugins

    plugins = plugins or get_plugins()
    return {plugins.tasks.get(v).id for v in comma_list(values)}


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
        for name in comma_list(datasets):
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


def first_of_each_id(samples: Sequence[Sample]) -> tuple[list[Sample], int]:
    """The samples with an id not seen before, in order, and how many repeated one."""
    unique, seen = [], set()
    for s in samples:
        if s.id not in seen:
            seen.add(s.id)
            unique.append(s)
    return unique, len(samples) - len(unique)


def seeded_subset(samples: Sequence[Sample], limit: int | None, seed: int = 0) -> list[Sample]:
    """A seeded random subset of ``limit`` samples, kept in data order (the same every run)."""
    if limit is None or limit >= len(samples):
        return list(samples)
    keep = set(random.Random(seed).sample(range(len(samples)), limit))
    return [s for i, s in enumerate(samples) if i in keep]


@dataclass(frozen=True)
class Selection:
    """Which questions of a dataset a run uses: the flags ``medr1 train`` and ``medr1 eval`` share.

    ``modalities`` and ``tasks`` are ids or aliases, ``datasets`` source
    dataset names (each empty: all); ``limit`` keeps a random subset of that
    many, chosen with ``seed`` (the same every run); ``on_missing_image``
    stops (``error``) or skips and counts questions whose image file is missing.
    ``max_bad_fraction`` is the share of bad records (0..1) a run accepts
    before refusing to start; ``allow_outside_images`` lets image paths be
    absolute or leave the dataset's folder.
    """

    format: str | None = None
    image_root: str | None = None
    modalities: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    limit: int | None = None
    seed: int = 0
    on_missing_image: Literal["error", "skip"] = "error"
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION
    allow_outside_images: bool = False

    def __post_init__(self) -> None:
        for name in ("modalities", "tasks", "datasets"):
            object.__setattr__(self, name, tuple(comma_list(getattr(self, name))))
        if self.limit is not None and self.limit < 1:
            raise DataError(f"--limit must be at least 1, got {self.limit}")
        if self.on_missing_image not in ("error", "skip"):
            raise DataError(f"--on-missing-image must be 'error' or 'skip', got {self.on_missing_image!r}")
        if not (isinstance(self.max_bad_fraction, (int, float)) and 0 <= self.max_bad_fraction <= 1):
            raise DataError(f"--max-bad-fraction must be a number from 0 to 1, got {self.max_bad_fraction!r}")


@dataclass
class Chosen:
    """What :func:`choose_samples` kept, and what it left out and why."""

    samples: list[Sample]
    loaded: "LoadReport | None" = None
    """The load report, when the samples were read from ``data`` here."""
    skipped: dict[str, int] = field(default_factory=dict)
    """Questions left out, by reason: ``bad_records``, ``duplicate_ids``, ``missing_images``."""
    messages: list[str] = field(default_factory=list)
    excluded: int = 0
    """Good questions outside the selection (other modalities, tasks, datasets; beyond ``limit``)."""


def choose_samples(
    data: str | os.PathLike | None,
    selection: Selection = Selection(),
    *,
    samples: Sequence[Sample] | None = None,
    plugins: "Plugins | None" = None,
) -> Chosen:
    """The questions a run uses, chosen by the steps in the module doc.

    ``data`` is anything ``--data`` takes; ``samples`` replaces loading (tests,
    benchmarks, an in-memory split). Unknown modality or task names raise
    :class:`~medr1_core.errors.UnknownNameError` before anything is read.
    """
    from ..plugins import get_plugins
    from .images import check_images
    from .loading import load_samples

    plugins = plugins or get_plugins()
    sel = selection
    resolve_modalities(sel.modalities, plugins), resolve_tasks(sel.tasks, plugins)  # unknown names fail now
    chosen = Chosen(samples=[])
    if samples is None:
        if data is None:
            raise DataError("choose_samples needs data (a path or 'sample') or samples")
        chosen.loaded = load_samples(data, format=sel.format, image_root=sel.image_root, plugins=plugins)
        samples = chosen.loaded.samples
        if chosen.loaded.bad:
            chosen.skipped["bad_records"] = len(chosen.loaded.bad)
            chosen.messages.append(check_bad_records(chosen.loaded, data, sel.max_bad_fraction))
        for kind, labels in chosen.loaded.unmapped_labels().items():
            shown = ", ".join(repr(label) for label in list(labels)[:5])
            chosen.messages.append(
                f"{sum(labels.values())} question(s) of {data} carry a {kind} label no {kind} plugin knows "
                f"({shown}): they are read without a {kind}"
            )
    picked = select(samples, modalities=sel.modalities, tasks=sel.tasks, datasets=sel.datasets, plugins=plugins)
    unique, repeated = first_of_each_id(picked)
    if repeated:
        chosen.skipped["duplicate_ids"] = repeated
        chosen.messages.append(f"{repeated} question(s) repeat an id already seen; only the first is used")
    subset = seeded_subset(unique, sel.limit, sel.seed)
    chosen.excluded = len(samples) - len(picked) + len(unique) - len(subset)
    checked = check_images(subset, sel.image_root, on_missing=sel.on_missing_image,
                           allow_outside=sel.allow_outside_images)
    if checked.skipped:
        chosen.skipped["missing_images"] = checked.skipped
        chosen.messages.append(f"{checked.skipped} question(s) skipped: image file(s) missing")
    chosen.samples = checked.samples
    if chosen.loaded is not None:
        chosen.loaded.excluded = chosen.excluded
    return chosen


def check_bad_records(loaded: "LoadReport", data, max_bad_fraction: float) -> str:
    """The message naming ``loaded``'s bad records; :class:`DataError` if there are too many to go on."""
    bad = loaded.bad
    total = len(bad) + len(loaded.samples)
    examples = "; ".join(str(b) for b in bad[:BAD_EXAMPLES]) + ("; ..." if len(bad) > BAD_EXAMPLES else "")
    share = len(bad) / total if total else 1.0
    lost = [b.file for b in bad if b.lost_file]
    summary = f"{len(bad)} of {total} records ({share:.0%}) of {data} could not be read"
    if share > max_bad_fraction or (lost and max_bad_fraction < 1):
        why = (f"more than max_bad_fraction={max_bad_fraction:g} allows" if share > max_bad_fraction
               else f"whole file(s) could not be read: {', '.join(lost[:3])}")
        raise DataError(
            f"{summary}: {why}. E.g. {examples}. Fix the data (`medr1 data inspect` lists every bad record), "
            "or go on without them with --max-bad-fraction 1 (config: max_bad_fraction: 1)"
        )
    return f"{summary}; skipped: {examples} (`medr1 data inspect` lists them all)"
