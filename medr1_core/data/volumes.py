"""CT and MRI series as several images: a folder of DICOM slices, or a NIfTI file, becomes N slices.

A sample's image path that is a **folder** (one DICOM series: its slice files)
or a **NIfTI file** (``.nii``, ``.nii.gz``; needs nibabel, the ``medr1[nifti]``
extra) is a volume. :func:`open_volume` turns it into ``N`` 8-bit slices, each
prepared for the modality like any image, and
:func:`~medr1_core.data.images.open_sample_images` (what training and
evaluation both use) hands them to the model as that many images, in order.

How, per sample (``Sample.extras``, e.g. in a JSONL line's ``extras``):

- ``slices``: how many (default :data:`DEFAULT_SLICES`; all of them when the
  volume has fewer);
- ``slice_sampling``: ``uniform`` (the centre slice of each of N equal parts
  of the volume, the default) or ``centred`` (N neighbouring slices around the
  middle);
- ``window``: a preset of :data:`WINDOWS` (``lung``, ``bone``...), a
  ``[centre, width]`` pair in the volume's units (HU for CT),
  ``percentile`` (1st..99th percentile of the chosen slices) or ``minmax``;
  default per modality (:data:`MODALITY_WINDOWS`): CT the DICOM header's
  window, else ``soft_tissue``; MRI ``percentile``; others ``minmax``.

DICOM slices are ordered by their position along the slice normal
(``ImagePositionPatient`` and ``ImageOrientationPatient``), else
``InstanceNumber``; only the chosen slices' pixels are read. NIfTI volumes are
reoriented to RAS and sliced axially (the third axis), shown as radiologists
view them: anterior up, the patient's right on the left. Problems
raise :class:`~medr1_core.data.images.ImageError` naming the path.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import DataError, MissingDependency

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from ..samples import Sample
    from ..specs import Modality

#: Slices given to the model when a sample does not say.
DEFAULT_SLICES = 8
SAMPLINGS = ("uniform", "centred")
#: Window presets, ``(centre, width)`` in Hounsfield units.
WINDOWS: dict[str, tuple[float, float]] = {
    "brain": (40.0, 80.0),
    "soft_tissue": (40.0, 400.0),
    "mediastinum": (50.0, 350.0),
    "liver": (60.0, 150.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
}
#: Windowing when a sample names none: ``header`` = the DICOM header's window, else the preset after it.
MODALITY_WINDOWS: dict[str, tuple[str, ...]] = {"ct": ("header", "soft_tissue"), "mri": ("percentile",)}
NIFTI_SUFFIXES = (".nii", ".nii.gz")


@dataclass(frozen=True)
class VolumeSettings:
    """How a volume becomes images: how many ``slices``, ``sampling`` and ``window`` (see module doc)."""

    slices: int = DEFAULT_SLICES
    sampling: str = "uniform"
    window: str | tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The settings as the ``extras`` keys :func:`settings_from` reads."""
        return {"slices": self.slices, "slice_sampling": self.sampling,
                "window": list(self.window) if isinstance(self.window, tuple) else self.window}


def settings_from(extras: Mapping[str, Any], where: str = "sample") -> VolumeSettings:
    """The :class:`VolumeSettings` of ``extras`` (``slices``, ``slice_sampling``, ``window``);
    a bad value raises :class:`~medr1_core.errors.DataError` naming ``where`` and the field."""
    slices = extras.get("slices", DEFAULT_SLICES)
    if isinstance(slices, bool) or not isinstance(slices, int) or slices < 1:
        raise DataError(f"{where}: extras.slices must be a whole number >= 1, got {slices!r}")
    sampling = extras.get("slice_sampling", "uniform")
    if sampling not in SAMPLINGS:
        raise DataError(f"{where}: extras.slice_sampling must be one of {', '.join(SAMPLINGS)}, got {sampling!r}")
    window = extras.get("window")
    if isinstance(window, (list, tuple)):
        if len(window) != 2 or not all(isinstance(v, (int, float)) for v in window) or not window[1] > 0:
            raise DataError(f"{where}: extras.window must be [centre, width] with width > 0, got {window!r}")
        window = (float(window[0]), float(window[1]))
    elif window is not None and window not in (*WINDOWS, "percentile", "minmax"):
        raise DataError(f"{where}: extras.window {window!r} is not a preset "
                        f"({', '.join([*WINDOWS, 'percentile', 'minmax'])}) or [centre, width]")
    return VolumeSettings(slices, sampling, window)


def volume_settings(sample: "Sample") -> VolumeSettings:
    """The :class:`VolumeSettings` a sample asks for (defaults where it says nothing)."""
    return settings_from(sample.extras, f"sample {sample.id}")


def is_volume(path: str | os.PathLike) -> bool:
    """Whether an image path is a volume: a folder (a DICOM series) or a NIfTI file."""
    text = os.fspath(path)
    return text.lower().endswith(NIFTI_SUFFIXES) or os.path.isdir(text)


def image_count(sample: "Sample") -> int:
    """How many images the model is given for a sample (at most: a shorter volume gives fewer)."""
    counts = [1 if not is_volume(_resolved(sample, p)) else 0 for p in sample.images]
    if all(counts):
        return len(counts)
    return sum(counts) + counts.count(0) * volume_settings(sample).slices


def _resolved(sample: "Sample", path: str) -> str:
    root = sample.extras.get("image_root")
    return path if os.path.isabs(path) or not root else os.path.join(root, path)


def slice_indices(depth: int, n: int, sampling: str = "uniform") -> list[int]:
    """Which of ``depth`` slices to take.

    >>> slice_indices(24, 3)            # the centre of each third
    [4, 12, 20]
    >>> slice_indices(24, 3, "centred") # three neighbours around the middle
    [11, 12, 13]
    >>> slice_indices(2, 5)
    [0, 1]
    """
    if n >= depth:
        return list(range(depth))
    if sampling == "centred":
        start = depth // 2 - n // 2
        return list(range(start, start + n))
    return [min(depth - 1, int((i + 0.5) * depth / n)) for i in range(n)]


def require_nibabel():
    """nibabel, or :class:`~medr1_core.errors.MissingDependency` saying how to install it."""
    try:
        import nibabel
    except ImportError:
        raise MissingDependency("reading NIfTI volumes (.nii, .nii.gz) needs nibabel: "
                                "pip install 'medr1[nifti]'") from None
    return nibabel


def open_volume(path: str | os.PathLike, modality: "Modality", settings: VolumeSettings = VolumeSettings()
                ) -> list["PILImage.Image"]:
    """The chosen slices of a DICOM series folder or NIfTI file, prepared for ``modality``."""
    from .images import ImageError, prepare_image

    path = os.fspath(path)
    if os.path.isdir(path):
        arrays, header_window = _dicom_series(path, settings)
    elif path.lower().endswith(NIFTI_SUFFIXES):
        arrays, header_window = _nifti_slices(path, settings), None
    else:
        raise ImageError(path, "not a volume (a folder of DICOM slices, or a .nii / .nii.gz file)")
    low, high = _window_bounds(arrays, modality.id, settings.window, header_window)
    return [prepare_image(_to_8bit(a, low, high, invert), modality) for a, invert in arrays]


def _window_bounds(arrays, modality_id: str, window, header_window) -> tuple[float, float]:
    import numpy as np

    choices = (window,) if window is not None else MODALITY_WINDOWS.get(modality_id, ("minmax",))
    for choice in choices:
        if choice == "header":
            if header_window is None:
                continue
            choice = header_window
        if isinstance(choice, str) and choice in WINDOWS:
            choice = WINDOWS[choice]
        if isinstance(choice, tuple):
            centre, width = choice
            return centre - width / 2.0, centre + width / 2.0
        values = np.concatenate([a.ravel() for a, _ in arrays])
        if choice == "percentile":
            low, high = np.percentile(values, [1.0, 99.0])
            return float(low), float(high)
        return float(values.min()), float(values.max())
    return _window_bounds(arrays, modality_id, "minmax", None)


def _to_8bit(values, low: float, high: float, invert: bool) -> "PILImage.Image":
    import numpy as np
    from PIL import Image

    if high > low:
        scaled = (np.clip(values, low, high) - low) * (255.0 / (high - low))
    else:
        scaled = np.zeros_like(values)
    out = np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(255 - out if invert else out, "L")


def _dicom_series(folder: str, settings: VolumeSettings):
    """(pixel arrays in modality units, MONOCHROME1?) of the chosen slices, and the header window."""
    from .images import ImageError, _window

    try:
        import pydicom
        from pydicom.pixels import apply_modality_lut
    except ImportError:
        raise ImageError(folder, "reading DICOM needs pydicom: pip install 'medr1[dicom]'") from None
    headers = []
    for name in sorted(os.listdir(folder)):
        file = os.path.join(folder, name)
        if name.startswith(".") or not os.path.isfile(file):
            continue
        try:
            ds = pydicom.dcmread(file, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - not a DICOM file (DICOMDIR, notes): not a slice
            continue
        if "PixelData" in ds or hasattr(ds, "Rows"):
            headers.append((file, ds))
    if not headers:
        raise ImageError(folder, "no DICOM slices in this folder")
    series = {str(getattr(ds, "SeriesInstanceUID", "")) for _, ds in headers}
    if len(series) > 1:
        raise ImageError(folder, f"holds {len(series)} DICOM series; give each series its own folder")
    headers.sort(key=lambda item: _slice_position(item[1]))
    chosen = [headers[i] for i in slice_indices(len(headers), settings.slices, settings.sampling)]
    arrays = []
    for file, _ in chosen:
        try:
            ds = pydicom.dcmread(file)
            pixels = ds.pixel_array
        except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds for bad files
            raise ImageError(file, f"unreadable DICOM slice: {type(exc).__name__}: {exc}") from None
        if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
            pixels = pixels[len(pixels) // 2]
        invert = str(getattr(ds, "PhotometricInterpretation", "")).upper() == "MONOCHROME1"
        arrays.append((apply_modality_lut(pixels, ds).astype("float64"), invert))
    centre, width = _window(chosen[len(chosen) // 2][1])
    return arrays, ((centre, width) if centre is not None and width else None)


def _slice_position(ds) -> tuple:
    """Sort key of a slice: its position along the slice normal, else its instance number."""
    try:
        orientation = [float(v) for v in ds.ImageOrientationPatient]
        position = [float(v) for v in ds.ImagePositionPatient]
        row, col = orientation[:3], orientation[3:]
        normal = (row[1] * col[2] - row[2] * col[1], row[2] * col[0] - row[0] * col[2], row[0] * col[1] - row[1] * col[0])
        distance = sum(n * p for n, p in zip(normal, position))
        if math.isfinite(distance):
            return (0, distance)
    except (AttributeError, TypeError, ValueError):
        pass
    try:
        return (1, float(ds.InstanceNumber))
    except (AttributeError, TypeError, ValueError):
        return (2, 0.0)


def _nifti_slices(path: str, settings: VolumeSettings):
    import numpy as np

    from .images import ImageError

    nib = require_nibabel()
    try:
        image = nib.as_closest_canonical(nib.load(path))
        data = np.asanyarray(image.dataobj)
    except FileNotFoundError:
        raise ImageError(path, "file not found") from None
    except Exception as exc:  # noqa: BLE001 - nibabel raises many kinds for bad files
        raise ImageError(path, f"unreadable NIfTI: {type(exc).__name__}: {exc}") from None
    while data.ndim > 3:  # 4-D (time, channels): the first volume
        data = data[..., 0]
    if data.ndim != 3 or min(data.shape) < 1:
        raise ImageError(path, f"expected a 3-D volume, got shape {tuple(data.shape)}")
    indices = slice_indices(data.shape[2], settings.slices, settings.sampling)
    # RAS: rows from anterior (top) to posterior, columns from the patient's right to left (as radiologists view)
    return [(np.rot90(np.asarray(data[:, :, k], dtype=np.float64))[:, ::-1], False) for k in indices]
