"""A modality's own image preparation (Modality.prepare): the same in training and evaluation."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from medr1_core import Modality, Sample, hookimpl, testing
from medr1_core.data.images import ImageError, open_image, open_sample_images

from test_images import hu, write_dicom


def crop_black_border(image):
    """An endoscope's round field of view inside a black frame: keep the lit part."""
    box = image.convert("L").point(lambda v: 255 if v > 16 else 0).getbbox()
    return image.crop(box) if box else image


def lung_window(image):
    """CT lung window (centre -600 HU, width 1500) on the rescaled values."""
    values = np.asarray(image, dtype=np.float64)
    low, high = -600 - 750, -600 + 750
    return Image.fromarray((np.clip((values - low) / (high - low), 0, 1) * 255).round().astype(np.uint8), "L")


ENDOSCOPY = Modality(id="endoscopy", name="Endoscopy", min_pixels=16, max_pixels=10**6, prepare=crop_black_border)


class EndoPlugin:
    @staticmethod
    @hookimpl
    def medr1_register_modalities(register):
        register(ENDOSCOPY)
        register(Modality(id="ct_lung", name="CT lung window", prepare=lung_window, min_pixels=16, max_pixels=10**6))
        register(Modality(id="broken_prep", name="Broken", prepare=lambda image: "not an image"))


def framed(tmp_path, name="scope.png"):
    pixels = np.zeros((120, 160, 3), dtype=np.uint8)
    pixels[20:100, 30:130] = (180, 90, 60)  # the lit field: 100 x 80
    path = tmp_path / name
    Image.fromarray(pixels, "RGB").save(path)
    return path


def test_prepare_runs_before_medr1s_own_steps(tmp_path):
    image = open_image(framed(tmp_path), ENDOSCOPY)
    assert image.size == (100, 80) and image.mode == "RGB"
    assert np.asarray(image).min() > 16  # no black frame left
    plain = open_image(framed(tmp_path), Modality(id="other", name="Other", min_pixels=16, max_pixels=10**6))
    assert plain.size == (160, 120)


def test_dicom_reaches_prepare_as_hounsfield_units(tmp_path):
    pixels = np.zeros((32, 32))
    pixels[:, :16] = hu(-1000)  # air: 350 HU into the lung window (-1350..150); the header's 40/400 gives 0
    pixels[:, 16:] = hu(150)  # top of the lung window; the header's window gives 197
    path = write_dicom(tmp_path / "ct.dcm", pixels, center=40, width=400)  # the header's window is not used
    with testing.use_plugins(EndoPlugin) as plugins:
        image = np.asarray(open_image(path, plugins.modalities.get("ct_lung")))
    assert image.shape == (32, 32, 3)  # then medr1's own steps: RGB
    assert image[0, 0, 0] == 60 and image[0, 31, 0] == 255  # round(350 / 1500 * 255)


def test_training_and_evaluation_prepare_images_alike(tmp_path):
    from medr1_core.data import training_dataset
    from medr1_core.eval.run import _Generation

    path = framed(tmp_path)
    sample = Sample(id="e1", question="Which?", answer="A", options={"A": "x", "B": "y"}, images=(path.name,),
                    modality="endoscopy")
    with testing.use_plugins(EndoPlugin) as plugins:
        row = training_dataset([sample], image_root=tmp_path, plugins=plugins)[0]
        generation = _Generation(plugins=plugins, variant="think", image_root=str(tmp_path),
                                 preds_path=tmp_path / "p.jsonl", messages=[])
        batch, _conversations, images = generation._prepare([sample])
    trained = row["images"][0] if "images" in row else row["image"]
    assert batch == [sample]
    assert trained.size == images[0][0].size == (100, 80)
    assert np.array_equal(np.asarray(trained), np.asarray(images[0][0]))


def test_a_broken_prepare_is_an_image_error_naming_the_plugin(tmp_path):
    with testing.use_plugins(EndoPlugin) as plugins:
        with pytest.raises(ImageError, match=r"scope.png: prepare\(\) of modality 'broken_prep' \(plugin "
                                             r"'EndoPlugin' \(in-process\)\) returned str, not a PIL image"):
            open_sample_images([str(framed(tmp_path))], plugins.modalities.get("broken_prep"))
