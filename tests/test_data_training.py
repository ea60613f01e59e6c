"""The training dataset: lazily decoded images, TRL's columns, unreadable images skipped."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import medr1_core.data.images
from medr1_core import Sample
from medr1_core.data import DataError, DataWarning, image_stats, training_dataset

pytest.importorskip("datasets")


def write_images(root, samples, size=(100, 50)):
    for i, sample in enumerate(samples):
        for name in sample.images:
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((size[1], size[0]), 10 * i, dtype=np.uint8), "L").save(path)


def samples(n=6, images=1):
    return [
        Sample(
            id=f"q{i}",
            question=f"Question {i}?",
            answer="B",
            options={"A": "CT", "B": "MRI (T2), axial"},
            images=tuple(f"img/{i}_{k}.png" for k in range(images)),
            modality=["ct", "mri", None][i % 3],
            task=["modality_recognition", None][i % 2],
            dataset="D",
            extras={"image_root": None},
        )
        for i in range(n)
    ]


@pytest.fixture
def opened(monkeypatch):
    """Every file the data code opens for decoding."""
    calls = []
    real = medr1_core.data.images.open_image

    def counting(path, modality=None):
        calls.append(str(path))
        return real(path, modality)

    monkeypatch.setattr(medr1_core.data.images, "open_image", counting)
    return calls


def test_no_image_is_opened_before_a_row_is_read(tmp_path, opened):
    items = samples(6)
    write_images(tmp_path, items)
    dataset = training_dataset(items, image_root=tmp_path)
    assert len(dataset) == 6 and opened == []
    dataset[3]  # reading a row opens its image, and only its image
    assert opened == [str(tmp_path / "img/3_0.png")]
    dataset[[0, 1]]
    assert len(opened) == 3
    assert image_stats(dataset).prepared == 3


def test_rows_have_trl_columns_and_reward_columns(tmp_path):
    items = samples(4)
    write_images(tmp_path, items)
    row = training_dataset(items, image_root=tmp_path, variant="nothink")[1]
    assert set(row) >= {"prompt", "image", "id", "question", "options", "answer", "modality", "task", "dataset"}
    assert "images" not in row
    (turn,) = row["prompt"]
    assert turn["role"] == "user" and [p["type"] for p in turn["content"]] == ["image", "text"]
    text = turn["content"][1]["text"]
    assert text.startswith("Question 1?\nA) CT\nB) MRI (T2), axial\n") and "<think>" not in text
    image = row["image"]
    assert isinstance(image, Image.Image) and image.mode == "RGB"
    assert image.size[0] * image.size[1] >= 56 * 56  # the 100x50 image was scaled up to the minimum
    rebuilt = Sample.from_row(row)
    assert (rebuilt.id, rebuilt.answer, rebuilt.options, rebuilt.modality) == ("q1", "B", items[1].options, "mri")
    assert json.loads(row["options"]) == items[1].options


def test_prompts_are_accepted_by_trl_prepare_multimodal_messages(tmp_path):
    from trl.data_utils import prepare_multimodal_messages

    items = samples(2, images=2)
    write_images(tmp_path, items)
    row = training_dataset(items, image_root=tmp_path)[0]
    assert len(row["images"]) == 2 and "image" not in row
    messages = prepare_multimodal_messages(row["prompt"], images=row["images"])
    filled = [p for p in messages[0]["content"] if p["type"] == "image"]
    assert [p["image"] for p in filled] == row["images"]


def test_unreadable_image_is_skipped_with_a_warning_and_counted(tmp_path):
    items = samples(5)
    write_images(tmp_path, items)
    (tmp_path / "img/2_0.png").write_bytes(b"corrupt")
    dataset = training_dataset(items, image_root=tmp_path)
    with pytest.warns(DataWarning, match=r"skipping sample q2: image .*2_0.png cannot be read"):
        row = dataset[2]
    assert row["id"] == "q3"  # the next readable row stands in, images and answer together
    assert row["image_paths"] == [str(tmp_path / "img/3_0.png")]
    # a GRPO batch repeats an index: every copy gets the same stand-in, without re-reading the bad file
    batch = dataset.__getitems__([2, 2, 2, 4])
    assert [r["id"] for r in batch] == ["q3", "q3", "q3", "q4"]
    stats = image_stats(dataset)
    assert list(stats.unreadable) == [str(tmp_path / "img/2_0.png")] and stats.substituted == 4
    assert image_stats(dataset.shuffle(seed=0)) is stats  # survives select/shuffle


def test_missing_file_at_read_time_is_skipped_and_last_row_wraps(tmp_path):
    items = samples(3)
    write_images(tmp_path, items)
    (tmp_path / "img/2_0.png").unlink()
    dataset = training_dataset(items, image_root=tmp_path)
    with pytest.warns(DataWarning, match="file not found"):
        assert dataset[2]["id"] == "q0"


def test_no_readable_image_at_all_stops_with_a_clear_error(tmp_path):
    items = samples(2)
    dataset = training_dataset(items, image_root=tmp_path)
    with pytest.warns(DataWarning), pytest.raises(RuntimeError, match="no image in the dataset can be read"):
        dataset[0]


def test_empty_and_imageless_inputs_are_refused():
    with pytest.raises(DataError, match="no samples"):
        training_dataset([])
    with pytest.raises(DataError, match="have no image"):
        training_dataset([Sample(id="t", question="q", answer="a")])
    with pytest.raises(ValueError, match="unknown prompt variant"):
        training_dataset(samples(1), variant="cot")


def test_a_task_template_problem_is_raised_when_the_dataset_is_built(tmp_path):
    from medr1_core import Task, hookimpl
    from medr1_core.plugins import load_plugins

    class OnlyThink:
        @hookimpl
        def medr1_register_tasks(self, register):
            register(Task(id="report_check", name="Report check", prompts={"think": "{question}\n{options}\nThink."}))

    plugins = load_plugins(extra=[("only-think", OnlyThink())])
    items = samples(2)
    items[1].task = "report_check"
    write_images(tmp_path, items)
    with pytest.raises(ValueError, match="task 'report_check' has no 'nothink' prompt template"):
        training_dataset(items, plugins=plugins, variant="nothink", image_root=tmp_path)
    row = training_dataset(items, plugins=plugins, image_root=tmp_path)[1]
    assert row["prompt"][0]["content"][-1]["text"].endswith("Think.")
