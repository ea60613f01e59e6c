"""Train/test splits: seeded and image-grouped (:func:`split`), or across modalities or tasks (:func:`cross_split`)."""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ..samples import Sample
from .loading import DataWarning
from .selection import resolve_modalities, resolve_tasks

if TYPE_CHECKING:
    from ..plugins import Plugins


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
