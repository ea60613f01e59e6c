"""The training dataset: a ``datasets.Dataset`` for TRL's GRPOTrainer whose images are decoded per row.

:func:`training_dataset` turns samples into rows (``prompt``, ``image`` or
``images``, and the sample's columns); :class:`LazyImages` is its transform,
opening a row's images only when the row is read. :func:`image_stats` returns
the counters of images prepared and skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import DataError, RunFailed
from ..samples import Sample, check_variant
from .images import ImageError, ImageFailures, image_path, modality_spec, open_sample_images
from .volumes import image_count, is_volume, settings_from, volume_settings

if TYPE_CHECKING:
    import datasets

    from ..plugins import Plugins

#: The columns of a training row that rebuild its Sample (:meth:`Sample.to_row`).
ROW_COLUMNS = ("id", "question", "options", "answer", "modality", "task", "dataset")


@dataclass
class ImageStats:
    """Counters of a lazily loaded dataset: images prepared, and unreadable ones skipped.

    ``unreadable`` maps each image that failed to its reason; ``substituted``
    counts rows served with another sample in place of one whose image failed.
    """

    prepared: int = 0
    failures: ImageFailures = field(default_factory=ImageFailures)
    substituted: int = 0

    @property
    def unreadable(self) -> dict[str, str]:
        return self.failures.unreadable


class LazyImages:
    """The ``datasets`` transform of :func:`training_dataset`: opens and prepares a row's images
    when the row is accessed, and builds its conversational prompt.

    A row whose image cannot be read (corrupt, truncated, deleted since
    :func:`~medr1_core.data.images.check_images`) is skipped: the next row (in
    dataset order, wrapping) whose images open is served in its place, always
    the same one, so a GRPO group keeps one question. Each such image is counted
    in :attr:`stats` and warned about (the first few, see
    :class:`~medr1_core.data.images.ImageFailures`). Training never stops for one
    bad image; it stops only if no image in the dataset can be read.
    """

    def __init__(self, base: "datasets.Dataset", *, modalities: dict[str, Any], tasks: dict[str, Any],
                 variant: str, multi: bool, prompt_set: str = "medr1"):
        self.base = base
        self.modalities = modalities
        self.tasks = tasks
        self.variant = variant
        self.prompt_set = prompt_set
        self.multi = multi
        self.stats = ImageStats()
        self._replacement: dict[int, int] = {}

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        columns = [c for c in batch if c not in ("_row", "image_paths", "volume")]
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
        from ..prompts import build_prompt, conversation

        sample = Sample.from_row(values)
        text = build_prompt(sample, self.tasks.get(sample.task), self.variant, prompt_set=self.prompt_set)
        return conversation(text, n_images)

    def _open(self, values: dict) -> list | None:
        paths = values["image_paths"]
        if any(p in self.stats.unreadable for p in paths):
            return None
        volume = values.get("volume")
        settings = settings_from(json.loads(volume)) if volume else None
        try:
            images = open_sample_images(paths, modality_spec(self.modalities, values.get("modality")), settings)
        except ImageError as exc:
            self.stats.failures.record(exc.path, exc.reason, values.get("id"))
            return None
        self.stats.prepared += len(images)
        return images

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
            images = self._open(values)
            if images is not None:
                self._replacement[row] = candidate
                return values, images
        raise RunFailed(
            f"no image in the dataset can be read ({len(self.stats.unreadable)} unreadable, e.g. "
            f"{next(iter(self.stats.unreadable.items()))})"
        )


def training_dataset(
    samples: Sequence[Sample],
    *,
    plugins: "Plugins | None" = None,
    variant: str = "think",
    image_root: str | os.PathLike | None = None,
    allow_outside: bool = False,
    prompt_set: str = "medr1",
    completions: Sequence[str] | None = None,
) -> "datasets.Dataset":
    """A ``datasets.Dataset`` for TRL's GRPOTrainer whose images are decoded only when a row is read.

    Image paths must stay inside the dataset's folder unless ``allow_outside``
    (see :func:`~medr1_core.data.images.image_path`). ``prompt_set`` chooses
    whose prompt wording (:mod:`medr1_core.prompts`). ``completions`` (one text
    per sample: supervised fine-tuning's targets) adds a ``completion`` column,
    the assistant's turn, which makes each row a prompt-completion pair for
    TRL's ``SFTTrainer``.

    Each row has:

    - ``prompt``: the conversation (one user turn: an ``{"type": "image"}``
      placeholder per image, then the task plugin's prompt text for ``variant``);
    - ``image``: the prepared PIL image (when every sample has exactly one
      image), else ``images``: the list of them (a CT/MRI volume gives its
      chosen slices, :mod:`medr1_core.data.volumes`); TRL's GRPOTrainer reads
      either column;
    - ``id``, ``question``, ``options`` (JSON text), ``answer``, ``modality``,
      ``task``, ``dataset`` (:meth:`Sample.to_row`), which TRL hands to reward
      functions, ``image_paths`` and ``volume`` (the volume settings, JSON, or null).

    Rows with an unreadable image are replaced as :class:`LazyImages`
    describes; :func:`image_stats` returns the counters. Run
    :func:`~medr1_core.data.images.check_images` first to find missing files
    before training starts.
    """
    import datasets

    from ..plugins import get_plugins
    from ..prompts import build_prompt

    check_variant(variant)
    if not samples:
        raise DataError("no samples to train on")
    plugins = plugins or get_plugins()
    no_image = [s.id for s in samples if not s.images]
    if no_image:
        raise DataError(f"{len(no_image)} sample(s) have no image (e.g. {no_image[0]}); medr1 trains on visual questions")
    multi = any(image_count(s) != 1 for s in samples)
    tasks = {name: plugins.tasks.get(name) for name in {s.task for s in samples if s.task}}
    modalities = {name: plugins.modalities.get(name) for name in {s.modality for s in samples if s.modality}}
    first_of_task: dict[Any, Sample] = {}
    for sample in samples:
        first_of_task.setdefault(sample.task, sample)
    if prompt_set != "medr1":  # every kind of question (with options or open) must have a prompt in the set
        for sample in samples:
            first_of_task.setdefault((sample.task, bool(sample.options)), sample)
    for sample in first_of_task.values():  # a task's template problem shows now, not mid-run
        build_prompt(sample, tasks.get(sample.task), variant, prompt_set=prompt_set)
    if completions is not None and len(completions) != len(samples):
        raise ValueError(f"training_dataset: {len(completions)} completions for {len(samples)} samples")
    columns: dict[str, list] = {key: [] for key in ROW_COLUMNS}
    columns.update(image_paths=[], volume=[], _row=[])
    if completions is not None:
        columns["completion"] = [[{"role": "assistant", "content": text}] for text in completions]
    for index, sample in enumerate(samples):
        for key, value in sample.to_row().items():
            columns[key].append(value)
        paths = [image_path(sample, p, image_root, allow_outside=allow_outside) for p in sample.images]
        columns["image_paths"].append(paths)
        columns["volume"].append(json.dumps(volume_settings(sample).to_dict()) if any(map(is_volume, paths)) else None)
        columns["_row"].append(index)
    base = datasets.Dataset.from_dict(columns)
    return base.with_transform(LazyImages(base, modalities=modalities, tasks=tasks, variant=variant, multi=multi,
                                          prompt_set=prompt_set))


def image_stats(dataset: "datasets.Dataset") -> ImageStats:
    """The :class:`ImageStats` of a dataset made by :func:`training_dataset` (or a select/shuffle of it)."""
    transform = (dataset.format.get("format_kwargs") or {}).get("transform")
    if not isinstance(transform, LazyImages):
        raise TypeError("image_stats() takes a dataset made by medr1_core.data.training_dataset")
    return transform.stats
