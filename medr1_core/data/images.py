"""Opening and preparing images for a modality: one decoded, sized PIL image per file.

:func:`open_image` reads a file (any format Pillow reads, and DICOM through
pydicom, the ``medr1[dicom]`` extra) and :func:`prepare_image` makes it what the
modality asks for:

- 16-bit and float images are scaled to 8 bits by their own min..max;
  palette images (and alpha) become RGB (over black); then the image is
  converted to ``modality.image_mode`` (RGB for the built-in eight);
- the size is scaled, keeping the aspect ratio, to lie within
  ``modality.min_pixels``..``modality.max_pixels`` (JPEGs are decoded at a
  reduced scale when they are much larger than needed);
- DICOM: rescale slope/intercept, then, for modalities with ``dicom_window``,
  the header's window centre/width (else min..max); MONOCHROME1 is inverted;
  the middle frame of a multi-frame file is used;
- a modality's own ``prepare`` (:class:`~medr1_core.Modality`) runs first, on
  the decoded image at full depth (a DICOM file: its rescaled values, mode
  ``F``, unwindowed); a ``prepare`` that raises, or returns something that is
  not an image, is an :class:`ImageError` naming the modality and its plugin.

Anything that goes wrong raises :class:`ImageError` naming the file and why.

Before a run, :func:`check_images` finds missing files (and, with ``verify``,
unreadable ones); during a run, :func:`open_sample_images` opens a sample's
images for its modality (training and evaluation alike; a CT/MRI series
folder or NIfTI file gives several slices, see :mod:`medr1_core.data.volumes`) and
:class:`ImageFailures` counts the ones that fail, warning about the first
:data:`MAX_IMAGE_WARNINGS`.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ..errors import DataError
from ..samples import Sample
from ..specs import Modality
from .loading import DataWarning

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from .volumes import VolumeSettings

#: How many unreadable images get their own warning before they are only counted.
MAX_IMAGE_WARNINGS = 20


class MissingImagesError(DataError):
    """Image files that do not exist, found before training starts."""


class OutsideImagesError(DataError):
    """Image paths that are absolute or lead outside the dataset's folder, found before a run starts."""

#: How images are prepared for a sample with no (or an unknown) modality.
DEFAULT_MODALITY = Modality(id="default", name="default")

_DICOM_SUFFIXES = (".dcm", ".dicom", ".dic")


class ImageError(DataError):
    """An image that could not be read; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def fit_pixels(width: int, height: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """The size, same aspect ratio, whose area lies within ``min_pixels``..``max_pixels``.

    >>> fit_pixels(1000, 500, 56 * 56, 384 * 384)
    (543, 271)
    >>> fit_pixels(20, 20, 56 * 56, 384 * 384)
    (56, 56)
    """
    area = width * height
    if area > max_pixels:
        scale = math.sqrt(max_pixels / area)
        return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    if area < min_pixels:
        scale = math.sqrt(min_pixels / area)
        return math.ceil(width * scale), math.ceil(height * scale)
    return width, height


def to_8bit(image: "PILImage.Image") -> "PILImage.Image":
    """An 8-bit image (``L``, ``RGB`` or ``RGBA``) from any Pillow mode.

    16-bit (``I;16*``), 32-bit integer (``I``) and float (``F``) images are
    scaled linearly from their own min..max to 0..255 (a flat image becomes 0).
    Palette images keep their colours (and transparency, as alpha).
    """
    from PIL import Image

    mode = image.mode
    if mode in ("L", "RGB", "RGBA"):
        return image
    if mode.startswith("I") or mode == "F":
        import numpy as np

        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        scaled = (array - low) * (255.0 / (high - low)) if high > low else np.zeros_like(array)
        return Image.fromarray(np.clip(scaled + 0.5, 0, 255).astype(np.uint8), "L")
    if mode in ("P", "PA"):
        return image.convert("RGBA" if mode == "PA" or "transparency" in image.info else "RGB")
    if mode == "LA":
        return image.convert("RGBA")
    if mode == "1":
        return image.convert("L")
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, ...


def prepare_image(image: "PILImage.Image", modality: Modality | None = None) -> "PILImage.Image":
    """``image`` decoded, in ``modality.image_mode``, within its pixel bounds (see module doc)."""
    from PIL import Image, ImageOps

    modality = modality or DEFAULT_MODALITY
    image.load()
    if image.getexif().get(0x0112, 1) != 1:  # EXIF orientation (photographs)
        image = ImageOps.exif_transpose(image)
    if modality.prepare is not None:
        image = _modality_prepare(image, modality)
    image = to_8bit(image)
    if image.mode == "RGBA":
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image).convert("RGB")
    if image.mode != modality.image_mode:
        image = image.convert(modality.image_mode)
    size = fit_pixels(*image.size, modality.min_pixels, modality.max_pixels)
    if size != image.size:
        image = image.resize(size, Image.Resampling.BICUBIC)
    return image


class PrepareError(DataError):
    """A modality's own ``prepare`` raised or returned something that is not an image; names the modality's plugin."""


def _modality_prepare(image: "PILImage.Image", modality: Modality) -> "PILImage.Image":
    from PIL import Image

    try:
        out = modality.prepare(image)
    except (KeyboardInterrupt, PrepareError):
        raise
    except BaseException as exc:  # noqa: BLE001 - a plugin's bug, told with its name
        raise PrepareError(f"prepare() of {_owner(modality)} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(out, Image.Image):
        raise PrepareError(f"prepare() of {_owner(modality)} returned {type(out).__name__}, not a PIL image")
    out.load()
    return out


def _owner(modality: Modality) -> str:
    """``modality 'x' (plugin 'y' (dist 1.0))``: the modality and, where it is registered, its plugin."""
    from ..plugins import get_plugins

    registry = get_plugins().modalities
    origin = registry.origin(modality.id) if modality.id in registry else None
    return f"modality '{modality.id}'" + (f" ({origin})" if origin else "")


def open_image(path: str | os.PathLike, modality: Modality | None = None) -> "PILImage.Image":
    """Read ``path`` and :func:`prepare_image` it for ``modality``; raises :class:`ImageError`."""
    path = os.fspath(path)
    modality = modality or DEFAULT_MODALITY
    try:
        return _open_image(path, modality)
    except PrepareError as exc:
        raise ImageError(path, str(exc)) from exc


def _dicom(path: str, modality: Modality) -> "PILImage.Image":
    raw = modality.prepare is not None  # the modality's own prepare sees the rescaled values, unwindowed
    return prepare_image(read_dicom(path, window=modality.dicom_window and not raw, raw=raw), modality)


def _open_image(path: str, modality: Modality) -> "PILImage.Image":
    from PIL import Image, UnidentifiedImageError

    if path.lower().endswith(_DICOM_SUFFIXES):
        return _dicom(path, modality)
    try:
        with Image.open(path) as image:
            if image.format == "JPEG":
                image.draft(image.mode, fit_pixels(*image.size, modality.min_pixels, modality.max_pixels))
            return prepare_image(image, modality)
    except PrepareError:
        raise
    except FileNotFoundError:
        raise ImageError(path, "file not found") from None
    except UnidentifiedImageError:
        if _is_dicom(path):
            return _dicom(path, modality)
        raise ImageError(path, "not an image file Pillow can read (corrupt, empty or an unknown format)") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(path, f"too large to decode safely: {exc}") from None
    except (OSError, ValueError, SyntaxError, MemoryError) as exc:
        raise ImageError(path, f"corrupt or truncated image: {exc}") from None


def _is_dicom(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(132)[128:132] == b"DICM"
    except OSError:
        return False


def read_dicom(path: str, *, window: bool = True, raw: bool = False) -> "PILImage.Image":
    """A DICOM file as an 8-bit PIL image (``L``, or ``RGB`` for colour DICOM); see module doc.

    ``raw``: a grey-scale file as mode ``F``, the values after rescale slope/intercept (HU for CT),
    neither windowed nor inverted (what a modality's own ``prepare`` receives).
    """
    try:
        import pydicom
        from pydicom.pixels import apply_modality_lut
    except ImportError:
        raise ImageError(path, "reading DICOM needs pydicom: pip install 'medr1[dicom]'") from None
    import numpy as np
    from PIL import Image

    try:
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array
    except FileNotFoundError:
        raise ImageError(path, "file not found") from None
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds for bad files
        raise ImageError(path, f"unreadable DICOM: {type(exc).__name__}: {exc}") from None
    samples_per_pixel = int(getattr(ds, "SamplesPerPixel", 1))
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if frames > 1:
        pixels = pixels[frames // 2]
    if samples_per_pixel == 3:
        if pixels.dtype != np.uint8:
            pixels = (pixels / max(float(pixels.max()), 1.0) * 255).astype(np.uint8)
        return Image.fromarray(pixels, "RGB")
    values = apply_modality_lut(pixels, ds).astype(np.float64)
    if raw:
        return Image.fromarray(values.astype(np.float32), "F")
    center, width = _window(ds) if window else (None, None)
    if center is not None and width is not None and width > 0:
        low, high = center - width / 2.0, center + width / 2.0
    else:
        low, high = float(values.min()), float(values.max())
    scaled = (np.clip(values, low, high) - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    out = np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
    if str(getattr(ds, "PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        out = 255 - out
    return Image.fromarray(out, "L")


def _window(ds) -> tuple[float | None, float | None]:
    """The first window centre/width of a DICOM header, or ``(None, None)``."""
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is None or width is None:
        return None, None

    def first(value):
        value = value.value if hasattr(value, "value") else value
        if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
            value = value[0]
        return float(value)

    try:
        return first(center), first(width)
    except (TypeError, ValueError, IndexError):
        return None, None


# --------------------------------------------------------------------------- a sample's images


def image_path(sample: Sample, path: str, image_root: str | os.PathLike | None = None, *,
               allow_outside: bool = False) -> str:
    """Where ``path`` (one of ``sample.images``) is on disk.

    Relative paths join ``image_root``, else the root the format recorded in
    ``sample.extras["image_root"]`` (e.g. the OmniMedVQA folder), else the
    current directory. Where there is such a root, the path must stay inside
    it: ``../../etc/passwd`` and absolute paths elsewhere raise
    :class:`ImageError` unless ``allow_outside`` (the check is on the path as
    written, so symbolic links inside the folder are followed as usual).
    """
    root = image_root if image_root is not None else sample.extras.get("image_root")
    if not root:
        return path
    root = os.fspath(root)
    full = path if os.path.isabs(path) else os.path.normpath(os.path.join(root, path))
    if not allow_outside:
        base = os.path.abspath(root)
        if os.path.commonpath([base, os.path.abspath(full)]) != base:
            what = "an absolute path outside" if os.path.isabs(path) else "outside"
            raise ImageError(path, f"{what} the dataset folder {root} (allow it with --allow-outside-images)")
    return full


@dataclass
class ImageCheck:
    """What :func:`check_images` found: the samples to keep and the files that are missing
    (and, with ``verify``, unreadable), as ``(sample id, path, reason)``."""

    samples: list[Sample]
    missing: list[tuple[str, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str, str]] = field(default_factory=list)
    outside: list[tuple[str, str]] = field(default_factory=list)
    """``(sample id, path as written)`` of image paths outside the dataset folder."""

    @property
    def skipped(self) -> int:
        return len({sid for sid, *_ in self.missing} | {sid for sid, *_ in self.unreadable}
                   | {sid for sid, _ in self.outside})


def check_images(
    samples: Sequence[Sample],
    image_root: str | os.PathLike | None = None,
    *,
    on_missing: Literal["error", "skip"] = "error",
    verify: bool = False,
    allow_outside: bool = False,
    on_outside: Literal["error", "skip"] = "error",
) -> ImageCheck:
    """Check, before training, that every sample's image files exist, inside the dataset's folder.

    An image path outside the folder (see :func:`image_path`) raises
    :class:`OutsideImagesError` naming the first ones, unless
    ``allow_outside``; ``on_outside="skip"`` skips and lists them instead.

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
            try:
                full = image_path(sample, image, image_root, allow_outside=allow_outside)
            except ImageError:
                result.outside.append((sample.id, image))
                ok = False
                continue
            present = exists.get(full)
            if present is None:
                present = exists[full] = _present(full)
            if not present:
                result.missing.append((sample.id, full))
                ok = False
            elif verify and not os.path.isdir(full):
                reason = _header_problem(full)
                if reason:
                    result.unreadable.append((sample.id, full, reason))
                    ok = False
        if ok:
            result.samples.append(sample)
    if result.outside and on_outside == "error":
        listing = "\n".join(f"  {path} (sample {sid})" for sid, path in result.outside[:5])
        raise OutsideImagesError(
            f"{len(result.outside)} image path(s) are absolute or lead outside the dataset folder, e.g.:\n{listing}\n"
            "medr1 opens only images inside the dataset's folder (or --image-root); if these paths are meant, "
            "pass --allow-outside-images (config: allow_outside_images: true)."
        )
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


def _present(path: str) -> bool:
    """An image file, a NIfTI file (nibabel must be installed), or a folder holding slice files."""
    if os.path.isdir(path):
        return any(not name.startswith(".") for name in os.listdir(path))
    if path.lower().endswith((".nii", ".nii.gz")) and os.path.isfile(path):
        from .volumes import require_nibabel

        require_nibabel()  # before training starts, not at the first batch
    return os.path.isfile(path)


def _header_problem(path: str) -> str | None:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.size  # noqa: B018 - parsing the header is the check
    except Exception as exc:  # noqa: BLE001
        if path.lower().endswith((".dcm", ".dicom", ".dic", ".nii", ".nii.gz")):
            return None  # DICOM is read by pydicom, NIfTI by nibabel, not Pillow
        return f"{type(exc).__name__}: {exc}"
    return None


def modality_spec(modalities: Mapping[str, Modality], modality_id: str | None) -> Modality:
    """The Modality that prepares a sample's images: its own, else :data:`DEFAULT_MODALITY`."""
    return modalities.get(modality_id, DEFAULT_MODALITY) if modality_id else DEFAULT_MODALITY


def open_sample_images(paths: Sequence[str], modality: Modality, volume: "VolumeSettings | None" = None
                       ) -> list["PILImage.Image"]:
    """Open and prepare each of a sample's images (resolved paths) for ``modality``; raises :class:`ImageError`.

    A path that is a volume (a DICOM series folder, a NIfTI file) gives its
    chosen slices, several images in order (:func:`medr1_core.data.volumes.open_volume`
    with the sample's ``volume`` settings).
    """
    from .volumes import VolumeSettings, is_volume, open_volume

    images: list = []
    for path in paths:
        if is_volume(path):
            try:
                images.extend(open_volume(path, modality, volume or VolumeSettings()))
            except PrepareError as exc:
                raise ImageError(path, str(exc)) from exc
        else:
            images.append(open_image(path, modality))
    return images


@dataclass
class ImageFailures:
    """Images that could not be read during a run: each with its reason, and the first few warned about.

    Training and evaluation both count through this, so both warn the same way:
    the first :data:`MAX_IMAGE_WARNINGS` get a :class:`DataWarning` each, the
    rest are only counted.
    """

    unreadable: dict[str, str] = field(default_factory=dict)

    def record(self, path: str, reason: str, sample_id: str | None) -> None:
        first = path not in self.unreadable
        self.unreadable[path] = reason
        n = len(self.unreadable)
        if first and n <= MAX_IMAGE_WARNINGS:
            more = " (further ones are only counted)" if n == MAX_IMAGE_WARNINGS else ""
            warnings.warn(
                f"skipping sample {sample_id}: image {path} cannot be read ({reason}); "
                f"{n} unreadable image(s) so far{more}",
                DataWarning,
                stacklevel=3,
            )

    def __len__(self) -> int:
        return len(self.unreadable)
