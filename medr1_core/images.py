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
  the middle frame of a multi-frame file is used.

Anything that goes wrong raises :class:`ImageError` naming the file and why.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

from .specs import Modality

if TYPE_CHECKING:
    from PIL import Image as PILImage

#: How images are prepared for a sample with no (or an unknown) modality.
DEFAULT_MODALITY = Modality(id="default", name="default")

_DICOM_SUFFIXES = (".dcm", ".dicom", ".dic")


class ImageError(Exception):
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


def open_image(path: str | os.PathLike, modality: Modality | None = None) -> "PILImage.Image":
    """Read ``path`` and :func:`prepare_image` it for ``modality``; raises :class:`ImageError`."""
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    modality = modality or DEFAULT_MODALITY
    if path.lower().endswith(_DICOM_SUFFIXES):
        return prepare_image(read_dicom(path, window=modality.dicom_window), modality)
    try:
        with Image.open(path) as image:
            if image.format == "JPEG":
                image.draft(image.mode, fit_pixels(*image.size, modality.min_pixels, modality.max_pixels))
            return prepare_image(image, modality)
    except FileNotFoundError:
        raise ImageError(path, "file not found") from None
    except UnidentifiedImageError:
        if _is_dicom(path):
            return prepare_image(read_dicom(path, window=modality.dicom_window), modality)
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


def read_dicom(path: str, *, window: bool = True) -> "PILImage.Image":
    """A DICOM file as an 8-bit PIL image (``L``, or ``RGB`` for colour DICOM); see module doc."""
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
