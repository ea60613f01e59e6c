"""CT/MRI series as several images: DICOM series folders and NIfTI files become N slices, windowed per
modality, given to the tiny LLaVA and Qwen2-VL models as several images, trained and evaluated."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from medr1_core import Sample
from medr1_core.data import DataWarning, check_images, load_samples
from medr1_core.data.images import ImageError, open_sample_images
from medr1_core.data.volumes import VolumeSettings, image_count, open_volume, settings_from, slice_indices
from medr1_core.errors import DataError, MissingDependency
from medr1_core.plugins import get_plugins


def write_series(folder: Path, hu_per_slice: list[float], *, shuffle: bool = True, photometric="MONOCHROME2",
                 center=40.0, width=400.0, size=(40, 48)) -> Path:
    """A CT series: one DICOM file per slice, slice k at z = 2.5 * k, every pixel at ``hu_per_slice[k]``.
    File names do not follow the slice order when ``shuffle``."""
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    series = generate_uid()
    order = list(range(len(hu_per_slice)))
    names = list(reversed(order)) if shuffle else order
    for k, name in zip(order, names):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = pydicom.Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID, ds.SeriesInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID, series
        ds.Modality = "CT"
        ds.Rows, ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit, ds.PixelRepresentation = 15, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024.0, 1.0
        if center is not None:
            ds.WindowCenter, ds.WindowWidth = center, width
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, 2.5 * k]
        ds.InstanceNumber = len(order) - k  # deliberately not the slice order
        ds.PixelData = np.full(size, hu_per_slice[k] + 1024, dtype=np.uint16).tobytes()
        ds.save_as(folder / f"IM{name:04d}", enforce_file_format=True)
    (folder / "notes.txt").write_text("not a slice")
    return folder


def write_nifti(path: Path, values_per_slice: list[float], shape=(32, 40)) -> Path:
    nib = pytest.importorskip("nibabel")
    volume = np.stack([np.full(shape, v, dtype=np.float32) for v in values_per_slice], axis=2)
    nib.save(nib.Nifti1Image(volume, np.eye(4)), str(path))
    return path


def grey(image) -> float:
    return float(np.asarray(image.convert("L")).mean())


def modality(name: str):
    return get_plugins().modalities.get(name)


def test_slice_sampling():
    assert slice_indices(24, 3) == [4, 12, 20] and slice_indices(24, 3, "centred") == [11, 12, 13]
    assert slice_indices(24, 24) == list(range(24)) and slice_indices(3, 8) == [0, 1, 2]
    assert slice_indices(24, 1) == [12]


def test_dicom_series_in_slice_order_with_the_header_window(tmp_path):
    hu = [-160, -60, 40, 140, 240, 340]  # window 40/400: -160 -> black, 240 -> white
    folder = write_series(tmp_path / "series", hu)
    images = open_volume(folder, modality("ct"), VolumeSettings(slices=6))
    assert len(images) == 6 and all(im.mode == "RGB" for im in images)
    levels = [grey(im) for im in images]
    assert levels == sorted(levels) and levels[0] == 0 and levels[4] == 255  # ordered by position, not name
    three = open_volume(folder, modality("ct"), VolumeSettings(slices=3, sampling="centred"))
    assert [grey(im) for im in three] == [levels[2], levels[3], levels[4]]
    lung = open_volume(folder, modality("ct"), VolumeSettings(slices=6, window="lung"))  # -1350..150 HU
    assert grey(lung[0]) > 100 and grey(lung[-1]) == 255


def test_dicom_series_without_a_window_and_monochrome1(tmp_path):
    folder = write_series(tmp_path / "s", [0, 100, 200], center=None, photometric="MONOCHROME1")
    images = open_volume(folder, modality("ct"), VolumeSettings(slices=3))  # soft tissue -160..240
    expected = [255 - (hu + 160) * 255 / 400 for hu in (0, 100, 200)]  # inverted
    assert [grey(im) for im in images] == pytest.approx(expected, abs=1)


def test_nifti_volume_windowing_per_modality(tmp_path):
    path = write_nifti(tmp_path / "brain.nii.gz", [float(v) for v in range(0, 1000, 10)])  # 100 slices
    mri = open_volume(path, modality("mri"), VolumeSettings(slices=5))
    levels = [grey(im) for im in mri]
    assert len(mri) == 5 and levels == sorted(levels) and 0 < levels[2] < 255  # 1st..99th percentile
    assert mri[0].size[0] < mri[0].size[1]  # x (32) runs across, y (40) from anterior (top) down
    ct = open_volume(path, modality("ct"), VolumeSettings(slices=5, window=(500.0, 200.0)))
    assert [grey(im) for im in ct][0] == 0 and grey(ct[-1]) == 255


def test_nifti_needs_nibabel_and_says_so(tmp_path, monkeypatch):
    path = write_nifti(tmp_path / "v.nii", [0.0, 1.0, 2.0])
    monkeypatch.setitem(sys.modules, "nibabel", None)
    with pytest.raises(MissingDependency, match=r"pip install 'medr1\[nifti\]'"):
        open_volume(path, modality("mri"))
    sample = Sample(id="v", question="?", answer="A", options={"A": "x", "B": "y"}, images=(str(path),))
    with pytest.raises(MissingDependency):  # found before training starts
        check_images([sample])


def test_bad_volumes_and_settings_are_reported(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    with pytest.raises(ImageError, match="no DICOM slices"):
        open_volume(tmp_path / "notes", modality("ct"))
    samples = [Sample(id=n, question="?", answer="x", images=(str(tmp_path / n),)) for n in ("empty", "notes")]
    with pytest.warns(DataWarning, match="1 image file"):
        assert [sid for sid, _ in check_images(samples, on_missing="skip").missing] == ["empty"]
    with pytest.raises(DataError, match="extras.slices"):
        settings_from({"slices": 0}, "row 3")
    with pytest.raises(DataError, match="slice_sampling"):
        settings_from({"slice_sampling": "random"})
    with pytest.raises(DataError, match="not a preset"):
        settings_from({"window": "liverish"})
    assert settings_from({"slices": 24, "window": [40, 400]}) == VolumeSettings(24, "uniform", (40.0, 400.0))


def series_dataset(tmp_path: Path, n_series: int = 2) -> Path:
    """A JSONL dataset whose questions each point at a 5-slice CT series folder and ask for 3 slices."""
    lines = []
    for i in range(n_series):
        write_series(tmp_path / "data" / f"case{i}", [-100 + 50 * k + 20 * i for k in range(5)])
        lines.append({"id": f"case{i}", "images": [f"case{i}/"], "question": "Is there a lesion in this CT?",
                      "options": {"A": "yes", "B": "no"}, "answer": "A" if i % 2 == 0 else "B",
                      "modality": "CT", "task": "Disease Diagnosis", "extras": {"slices": 3}})
    (tmp_path / "data" / "series.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return tmp_path / "data"


def test_training_rows_and_eval_prompts_carry_every_slice(tmp_path):
    from medr1_core.data import training_dataset

    data = series_dataset(tmp_path)
    samples = load_samples(data).samples
    assert [image_count(s) for s in samples] == [3, 3]
    row = training_dataset(samples)[0]
    assert len(row["images"]) == 3
    assert sum(part["type"] == "image" for part in row["prompt"][0]["content"]) == 3
    opened = open_sample_images([str(data / "case0")], modality("ct"), VolumeSettings(slices=3))
    assert [grey(a) for a in row["images"]] == [grey(b) for b in opened]


def test_tiny_llava_and_tiny_qwen_processors_take_several_images(tmp_path):
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from medr1_core.offline.tiny import TINY_NUM_IMAGE_TOKENS, build_tiny_vlm
    from medr1_core.offline.tiny_qwen import build_tiny_qwen2vl
    from medr1_core.prompts import conversation

    torch.set_num_threads(1)
    images = open_volume(write_series(tmp_path / "s", [0, 50, 100, 150]), modality("ct"), VolumeSettings(3))
    messages = conversation("Which slice shows the lesion?", 3)
    for path, per_image in ((build_tiny_vlm(tmp_path / "llava"), TINY_NUM_IMAGE_TOKENS),
                            (build_tiny_qwen2vl(tmp_path / "qwen"), None)):
        processor = AutoProcessor.from_pretrained(path)
        model = AutoModelForImageTextToText.from_pretrained(path).eval()
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = processor(text=[text], images=[images], return_tensors="pt")
        image_token = processor.tokenizer.convert_tokens_to_ids(
            "<image>" if per_image else "<|image_pad|>")
        n_tokens = int((inputs["input_ids"] == image_token).sum())
        if per_image:
            assert n_tokens == 3 * per_image
        else:
            assert inputs["image_grid_thw"].shape[0] == 3
            assert n_tokens == int(inputs["image_grid_thw"].prod(dim=1).sum()) // 4
        with torch.no_grad():
            assert model(**inputs).logits.shape[1] == inputs["input_ids"].shape[1]


@pytest.mark.slow
def test_tiny_qwen2vl_trains_and_evaluates_on_a_three_slice_series(tmp_path, monkeypatch):
    """``medr1 train --model tiny-qwen2-vl`` on CT series given as 3 slices, then ``medr1 eval`` on them."""
    import torch

    from medr1_core.cli import main

    torch.set_num_threads(1)
    monkeypatch.setenv("MEDR1_CACHE", str(tmp_path / "cache"))
    data = series_dataset(tmp_path)
    run = tmp_path / "run"
    # the random model's format and accuracy are 0 for every completion: a reward that differs between
    # the two completions of a group gives GRPO an advantage, so the weights (the vision tower's too) move
    (tmp_path / "length.py").write_text(
        "def length(prompts, completions, **kwargs):\n"
        "    return [len(c[0]['content'] if isinstance(c, list) else c) / 10 for c in completions]\n")
    rewards = f"format,accuracy,{tmp_path / 'length.py'}:length"
    argv = ["train", "--model", "tiny-qwen2-vl", "--data", str(data), "--max-steps", "2", "--rewards", rewards,
            "--num-generations", "2", "--output-dir", str(run), "--set", "grpo.per_device_train_batch_size=2",
            "--set", "grpo.max_completion_length=8", "--set", "grpo.learning_rate=0.01"]
    assert main(argv) == 0
    completions = [json.loads(line) for line in (run / "completions.jsonl").read_text().splitlines()]
    assert {c["id"] for c in completions} <= {"case0", "case1"} and len(completions) == 2 * 2
    from safetensors.torch import load_file

    from medr1_core.offline.tiny_qwen import build_tiny_qwen2vl

    before = load_file(str(next(Path(build_tiny_qwen2vl()).glob("*.safetensors"))))
    after = load_file(str(next((run / "final").glob("*.safetensors"))))
    moved = {k for k in before if k in after and not torch.equal(before[k], after[k])}
    assert any("visual" in k for k in moved) and any("visual" not in k for k in moved)

    out = tmp_path / "eval"
    assert main(["eval", "--model", str(run), "--data", str(data), "--output-dir", str(out), "--max-new-tokens", "8",
                 "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["overall"]["n"] == 2 and results["by_answer_type"]["closed"]["n"] == 2
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert {p["id"] for p in predictions} == {"case0", "case1"} and all(p["answer_type"] == "closed" for p in predictions)
