"""Datasets: load them through the format plugins, choose questions, split, check images, feed training.

::

    from medr1_core.data import load_samples, split, check_images, training_dataset

    report = load_samples("path/to/OmniMedVQA", modalities=["ct", "MRI"])   # or "sample"
    print(report.summary())                        # counts and every bad record
    train, test = split(report.samples, test_fraction=0.2, seed=0)
    train = check_images(train, on_missing="skip").samples
    dataset = training_dataset(train, variant="think")   # images decoded lazily, per row

- :mod:`.loading`: :func:`load_samples`, :class:`LoadReport`;
- :mod:`.selection`: :func:`select` and :func:`choose_samples`, the steps
  training and evaluation share;
- :mod:`.splits`: :func:`split`, :func:`cross_split`;
- :mod:`.images`: opening and preparing images, :func:`check_images`;
- :mod:`.training`: :func:`training_dataset` for TRL.

Nothing here imports torch or transformers; ``datasets`` is imported only by
:func:`training_dataset`.
"""

from ..errors import DataError
from .images import (
    DEFAULT_MODALITY,
    ImageCheck,
    ImageError,
    ImageFailures,
    MissingImagesError,
    check_images,
    image_path,
    open_image,
    prepare_image,
)
from .loading import SAMPLE_DATA, SAMPLE_HELDOUT, DataWarning, LoadReport, detect_format, load_samples
from .selection import (
    Chosen,
    Selection,
    choose_samples,
    first_of_each_id,
    resolve_modalities,
    resolve_tasks,
    seeded_subset,
    select,
)
from .splits import Split, cross_split, split
from .training import ImageStats, LazyImages, image_stats, training_dataset

__all__ = [
    "DataError", "DataWarning", "MissingImagesError", "ImageError", "SAMPLE_DATA", "SAMPLE_HELDOUT", "LoadReport", "load_samples",
    "detect_format", "select", "resolve_modalities", "resolve_tasks", "first_of_each_id", "seeded_subset",
    "Chosen", "Selection", "choose_samples", "Split", "split", "cross_split", "image_path", "ImageCheck", "check_images",
    "open_image", "prepare_image", "DEFAULT_MODALITY", "ImageFailures", "ImageStats", "LazyImages",
    "training_dataset", "image_stats",
]
