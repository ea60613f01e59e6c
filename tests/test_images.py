"""Image preparation: modes, sizes, corrupt files, DICOM windows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from medr1_core import Modality
from medr1_core.data.images import ImageError, fit_pixels, open_image, prepare_image, read_dicom, to_8bit

XRAY = Modality(id="xray", name="X-ray", dicom_window=True)
US = Modality(id="ultrasound", name="Ultrasound", dicom_window=False)
GREY = Modality(id="grey", name="grey", image_mode="L")


@given(st.integers(1, 5000), st.integers(1, 5000))
def test_fit_pixels_keeps_the_area_within_bounds_and_the_aspect_ratio(width, height):
    low, high = 56 * 56, 384 * 384
    w, h = fit_pixels(width, height, low, high)
    assert w >= 1 and h >= 1
    if low <= width * height <= high:
        assert (w, h) == (width, height)
    if width * height > high:
        assert w * h <= high and w <= width and h <= height
    if width * height < low:
        assert w * h >= low
    if min(w, h) > 20:  # rounding dominates for slivers
        assert abs(w / h - width / height) / (width / height) < 0.1


def test_16bit_image_is_scaled_to_its_full_8bit_range():
    array = np.linspace(1000, 3000, 64 * 64).reshape(64, 64).astype(np.uint16)
    image = Image.fromarray(array)
    assert image.mode.startswith("I;16")
    out = to_8bit(image)
    assert out.mode == "L"
    values = np.asarray(out)
    assert values.min() == 0 and values.max() == 255


def test_float_and_flat_images():
    assert np.asarray(to_8bit(Image.fromarray(np.full((8, 8), 0.5, dtype=np.float32)))).max() == 0
    ramp = Image.fromarray(np.linspace(-1, 1, 64, dtype=np.float32).reshape(8, 8))
    assert np.asarray(to_8bit(ramp)).max() == 255


def test_palette_with_transparency_becomes_rgb_over_black():
    image = Image.new("P", (64, 64), 0)
    image.putpalette([255, 0, 0] + [0, 255, 0] * 255)
    image.info["transparency"] = 0
    out = prepare_image(image, XRAY)
    assert out.mode == "RGB" and out.getpixel((0, 0)) == (0, 0, 0)
    opaque = Image.new("P", (64, 64), 1)
    opaque.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    assert prepare_image(opaque, XRAY).getpixel((0, 0)) == (0, 255, 0)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "RGBA", "CMYK", "I", "I;16", "F", "RGB"])
def test_every_mode_becomes_the_modality_mode(mode):
    image = Image.new(mode, (80, 60))
    assert prepare_image(image, XRAY).mode == "RGB"
    assert prepare_image(image, GREY).mode == "L"


def test_large_images_shrink_and_small_ones_grow_keeping_aspect():
    big = prepare_image(Image.new("RGB", (2000, 1000)), XRAY)
    assert big.size[0] * big.size[1] <= 384 * 384 and abs(big.size[0] / big.size[1] - 2) < 0.02
    small = prepare_image(Image.new("L", (20, 10)), XRAY)
    assert small.size[0] * small.size[1] >= 56 * 56 and small.mode == "RGB"


def test_large_jpeg_opens_within_bounds(tmp_path):
    path = tmp_path / "big.jpg"
    Image.new("RGB", (3000, 2000), (200, 100, 50)).save(path, quality=80)
    image = open_image(path, US)
    assert image.size[0] * image.size[1] <= 384 * 384
    assert abs(image.size[0] / image.size[1] - 1.5) < 0.02


def test_missing_corrupt_and_truncated_files_raise_image_error_with_the_path(tmp_path):
    with pytest.raises(ImageError, match="file not found") as caught:
        open_image(tmp_path / "nope.png")
    assert caught.value.path.endswith("nope.png")
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"this is not an image at all")
    with pytest.raises(ImageError, match="not an image file Pillow can read"):
        open_image(garbage)
    whole = tmp_path / "whole.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)).save(whole)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(whole.read_bytes()[: len(whole.read_bytes()) // 2])
    with pytest.raises(ImageError, match="corrupt or truncated"):
        open_image(truncated)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageError):
        open_image(empty)


# --------------------------------------------------------------------------- DICOM


def write_dicom(path, pixels: np.ndarray, *, intercept=-1024.0, center=40.0, width=400.0,
                photometric="MONOCHROME2", frames: int = 1):
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = intercept
    ds.RescaleSlope = 1.0
    if center is not None:
        ds.WindowCenter = center
        ds.WindowWidth = width
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def hu(values):
    """Stored values for Hounsfield units, with intercept -1024."""
    return np.asarray(values, dtype=np.float64) + 1024


def test_dicom_window_centre_and_width_map_hounsfield_units(tmp_path):
    pixels = np.zeros((64, 64))
    pixels[:, :16] = hu(-1000)  # air: below the window
    pixels[:, 16:32] = hu(40)  # window centre
    pixels[:, 32:48] = hu(240)  # top of the window (40 + 400/2)
    pixels[:, 48:] = hu(1000)  # bone: above
    path = write_dicom(tmp_path / "ct.dcm", pixels)
    image = np.asarray(read_dicom(str(path), window=True))
    assert image[0, 0] == 0 and image[0, 63] == 255 and image[0, 40] == 255
    assert 126 <= image[0, 20] <= 129
    # without windowing (ultrasound settings): min..max of the stored values
    plain = np.asarray(read_dicom(str(path), window=False))
    assert plain[0, 0] == 0 and plain[0, 63] == 255 and 131 <= plain[0, 20] <= 134  # (40 + 1000) / 2000 * 255


def test_dicom_through_open_image_monochrome1_and_no_suffix(tmp_path):
    pixels = np.zeros((64, 64))
    pixels[:, 32:] = hu(1000)
    path = write_dicom(tmp_path / "inverted", pixels, photometric="MONOCHROME1")
    image = open_image(path, XRAY)  # found by its DICM magic, not a suffix
    assert image.mode == "RGB" and image.size == (64, 64)
    assert image.getpixel((0, 0)) == (255, 255, 255) and image.getpixel((63, 0)) == (0, 0, 0)


def test_dicom_multi_frame_uses_the_middle_frame(tmp_path):
    frames = np.stack([np.full((64, 64), hu(v)) for v in (-1000, 40, 1000)])
    frames[:, 0, 0] = hu(-1000)
    path = write_dicom(tmp_path / "multi.dcm", frames, frames=3)
    image = np.asarray(read_dicom(str(path), window=True))
    assert 126 <= image[10, 10] <= 129


def test_corrupt_dicom_raises_image_error(tmp_path):
    path = tmp_path / "bad.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + b"garbage")
    with pytest.raises(ImageError, match="unreadable DICOM"):
        open_image(path, XRAY)
