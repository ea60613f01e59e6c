"""Loading reports, selection, seeded and cross splits, and the image check before training."""

from __future__ import annotations

import json
import random
import warnings

import pytest
from PIL import Image

from medr1_core import Sample
from medr1_core.data import (
    DataError,
    DataWarning,
    MissingImagesError,
    check_images,
    cross_split,
    image_path,
    load_samples,
    select,
    split,
)
from medr1_core.registry import UnknownNameError

from helpers import SPLITS, split_counts
from test_formats import native_record, write_native_tree


@pytest.fixture(scope="module")
def splits_report():
    return load_samples(SPLITS)


def make_samples(n: int, *, images_per_question: int = 1) -> list[Sample]:
    """``n`` samples cycling over modalities and tasks; every ``images_per_question`` share an image."""
    modalities = ["ct", "mri", "xray", "fundus"]
    tasks = ["disease_diagnosis", "modality_recognition"]
    return [
        Sample(
            id=f"s{i}",
            question="q",
            answer="A",
            options={"A": "x", "B": "y"},
            images=(f"Images/D{i // images_per_question % 3}/{i // images_per_question}.png",),
            modality=modalities[i % 4],
            task=tasks[i % 2],
            dataset=f"D{i // images_per_question % 3}",
        )
        for i in range(n)
    ]


def test_load_report_counts(splits_report):
    report = splits_report
    assert report.format == "medr1-split" and len(report) == split_counts()["questions"]
    assert sum(report.by_modality().values()) == len(report) == sum(report.by_task().values())
    table = report.table()
    assert table["ct"]["disease_diagnosis"] > 0 and "none" in table  # task-only questions without a modality
    assert report.option_counts() == {str(k): v for k, v in split_counts()["options"].items()}
    assert sum(report.answer_letters().values()) == len(report)
    summary = report.summary(missing_images=5)
    assert {"total", "by_modality", "by_task", "bad", "missing_images"} <= set(summary)
    json.dumps(summary)


def test_selection_by_alias_task_and_dataset(splits_report):
    samples = splits_report.samples
    ct = select(samples, modalities=["CT(Computed Tomography)"])
    assert ct and {s.modality for s in ct} == {"ct"}
    mixed = select(samples, modalities="MR, xray", tasks=["Disease Diagnosis"])
    assert mixed and {s.modality for s in mixed} == {"mri", "xray"} and {s.task for s in mixed} == {"disease_diagnosis"}
    mias = select(samples, datasets=["mias"])
    assert mias and {s.dataset for s in mias} == {"MIAS"}
    with pytest.raises(UnknownNameError, match="unknown modality 'ultrasond'. Did you mean 'ultrasound'"):
        select(samples, modalities=["ultrasond"])
    with pytest.raises(DataError, match="no samples from dataset 'Nope'; datasets present: .*MIAS"):
        select(samples, datasets=["Nope"])


def test_load_samples_applies_selection_and_counts_what_it_left_out(splits_report):
    report = load_samples(SPLITS, modalities=["oct"], tasks=["disease_diagnosis"])
    assert len(report) > 0 and report.excluded == len(splits_report) - len(report)
    assert all(s.modality == "oct" and s.task == "disease_diagnosis" for s in report)


def test_duplicate_ids_are_reported_not_double_counted(tmp_path):
    root = write_native_tree(
        tmp_path,
        {"Open-access/A.json": [native_record(), native_record(question="Again?")],
         "Restricted-access/B.json": [native_record()]},
    )
    report = load_samples(root)
    assert len(report) == 1
    assert [(b.index, "duplicate id 'ACRIMA_0001'" in b.reason) for b in report.bad] == [(1, True), (0, True)]
    assert report.bad[1].file.endswith("B.json") and "A.json#0" in report.bad[1].reason


def test_missing_path_and_image_root_override(tmp_path):
    with pytest.raises(DataError, match="no such file or directory"):
        load_samples(tmp_path / "nothing")
    root = write_native_tree(tmp_path, {"Open-access/A.json": [native_record()]})
    report = load_samples(root, image_root=tmp_path / "elsewhere")
    sample = report.samples[0]
    assert image_path(sample, sample.images[0]) == str(tmp_path / "elsewhere" / "Images/ACRIMA/im1.png")
    assert image_path(sample, "/abs/x.png", allow_outside=True) == "/abs/x.png"


# --------------------------------------------------------------------------- splits


def test_seeded_split_is_deterministic_and_order_independent():
    samples = make_samples(200)
    first = split(samples, 0.25, seed=3)
    shuffled = samples[:]
    random.Random(9).shuffle(shuffled)
    again = split(shuffled, 0.25, seed=3)
    assert {s.id for s in first.test} == {s.id for s in again.test}
    assert len(first.test) == 50 and len(first.train) == 150
    other = split(samples, 0.25, seed=4)
    assert {s.id for s in other.test} != {s.id for s in first.test}
    train, test = first  # unpacks
    assert not {s.id for s in train} & {s.id for s in test}


def test_split_groups_questions_about_one_image_by_default():
    samples = make_samples(120, images_per_question=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        grouped = split(samples, 0.3, seed=0)
    assert grouped.shared_images == []
    with pytest.warns(DataWarning, match=r"\d+ image\(s\) appear in both train and test"):
        loose = split(samples, 0.3, seed=0, group_by_image=False)
    assert loose.shared_images


def test_cross_modality_split_on_the_med_r1_splits(splits_report):
    samples = splits_report.samples
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # an image has one modality: nothing is shared
        result = cross_split(samples, by="modality", train=["CT", "MR (Mag-netic Resonance Imaging)"])
    assert result.shared_images == []
    assert {s.modality for s in result.train} == {"ct", "mri"}
    assert {s.modality for s in result.test} == {"xray", "ultrasound", "dermoscopy", "fundus", "oct", "microscopy"}
    no_modality = sum(1 for s in samples if s.modality is None)
    assert result.excluded == no_modality > 0
    assert len(result.train) + len(result.test) + result.excluded == len(samples)


def test_cross_task_split_on_the_med_r1_splits_warns_about_shared_images(splits_report):
    with pytest.warns(DataWarning, match="appear in both train and test") as caught:
        result = cross_split(splits_report.samples, by="task", train=["Modality Recognition"])
    assert result.shared_images and {s.task for s in result.train} == {"modality_recognition"}
    assert str(len(result.shared_images)) in str(caught[0].message)


def test_cross_task_split_with_explicit_test_and_shared_image_count():
    a = Sample(id="a", question="q", answer="A", options={"A": "x", "B": "y"}, images=("same.png",), task="disease_diagnosis")
    b = Sample(id="b", question="q2", answer="B", options={"A": "x", "B": "y"}, images=("same.png",), task="modality_recognition")
    c = Sample(id="c", question="q3", answer="B", options={"A": "x", "B": "y"}, images=("c.png",), task="lesion_grading")
    with pytest.warns(DataWarning, match="1 image"):
        result = cross_split([a, b, c], by="task", train="Disease Diagnosis", test=["Modality Recognition"])
    assert [s.id for s in result.train] == ["a"] and [s.id for s in result.test] == ["b"]
    assert result.shared_images == ["same.png"] and result.excluded == 1
    with pytest.raises(ValueError, match="in both train and test"):
        cross_split([a], by="task", train="diagnosis", test="disease_diagnosis")
    with pytest.raises(ValueError, match="'modality' or 'task'"):
        cross_split([a], by="dataset", train="x")


# --------------------------------------------------------------------------- images before training


def test_check_images_reports_missing_files_before_training(tmp_path):
    samples = make_samples(6)
    for sample in samples[:4]:
        path = tmp_path / sample.images[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (8, 8)).save(path)
    # samples 4 and 5 have no file
    with pytest.raises(MissingImagesError, match=r"2 image file\(s\) missing for 2 of 6 samples") as caught:
        check_images(samples, tmp_path)
    assert "--on-missing-image skip" in str(caught.value) and "Images/D1/4.png" in str(caught.value)
    with pytest.warns(DataWarning, match="skipping them: 4 samples remain"):
        result = check_images(samples, tmp_path, on_missing="skip")
    assert [s.id for s in result.samples] == ["s0", "s1", "s2", "s3"] and result.skipped == 2


def test_check_images_verify_finds_corrupt_files(tmp_path):
    samples = make_samples(2)
    for sample in samples:
        (tmp_path / sample.images[0]).parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8)).save(tmp_path / samples[0].images[0])
    (tmp_path / samples[1].images[0]).write_bytes(b"not a png")
    assert len(check_images(samples, tmp_path).samples) == 2  # existence only by default
    with pytest.warns(DataWarning, match="1 unreadable"):
        result = check_images(samples, tmp_path, on_missing="skip", verify=True)
    assert [s.id for s in result.samples] == ["s0"] and result.unreadable[0][0] == "s1"
