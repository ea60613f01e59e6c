"""The medical VQA benchmark formats (SLAKE, VQA-RAD, PathVQA, PMC-VQA, MMMU-Med) on small files in
each published layout: what is read against what was written, labels, closed/open, language, images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import benchmark_layouts as bl
from medr1_core.data import check_images, load_samples
from medr1_core.data.images import image_path, open_image
from medr1_core.data.loading import detect_format
from medr1_core.plugins import get_plugins

from helpers import run_cli


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDR1_CACHE", str(tmp_path / "cache"))


def _images_open(report) -> None:
    checked = check_images(report.samples)
    assert not checked.missing
    for sample in report.samples:
        for path in sample.images:
            assert not Path(path).is_absolute() and ".." not in Path(path).parts  # inside the dataset's root
            assert open_image(image_path(sample, path)).size[0] >= 56


def test_slake_reads_every_split_with_language_closed_open_and_labels(tmp_path):
    root = bl.write_slake(tmp_path / "SLAKE")
    assert detect_format(root, get_plugins()) == "slake"
    report = load_samples(root)
    written = sum(len(r) for r in bl.SLAKE_RECORDS.values())
    assert len(report.samples) + len(report.bad) == written  # nothing dropped silently
    assert [(Path(b.file).name, b.index) for b in report.bad] == [("test.json", 1)]
    by_id = {s.id: s for s in report.samples}
    assert by_id["slake/1"].answer_type == "closed" and by_id["slake/0"].answer_type == "open"
    assert by_id["slake/2"].language == "zh" and by_id["slake/2"].answer == "是"
    assert by_id["slake/6"].answer == "2"  # numeric answers are text
    assert by_id["slake/4"].extras["split"] == "validation"
    assert report.by_modality() == {"mri": 3, "xray": 3, "ct": 1}
    assert by_id["slake/3"].task == "position" and by_id["slake/1"].task == "anatomy_identification"
    assert by_id["slake/5"].task is None and report.unmapped_labels() == {"task": {"Texture": 1}}
    assert report.by_answer_type() == {"open": 4, "closed": 3} and report.by_language() == {"en": 6, "zh": 1}
    assert by_id["slake/0"].extras["open_metric"] == "recall"
    _images_open(report)
    one = load_samples(root / "test.json")  # one split file
    assert [s.id for s in one.samples] == ["slake/6"]


def test_vqa_rad_original_json(tmp_path):
    root = bl.write_vqa_rad_json(tmp_path / "osf")
    assert detect_format(root, get_plugins()) == "vqa-rad"
    report = load_samples(root)
    assert len(report.samples) + len(report.bad) == len(bl.VQA_RAD_RECORDS)
    assert [b.index for b in report.bad] == [4] and "MAYBE" in report.bad[0].reason
    by_id = {s.id: s for s in report.samples}
    assert by_id["vqa-rad/1"].task == "presence" and by_id["vqa-rad/2"].task == "modality_recognition"
    assert by_id["vqa-rad/3"].extras["question_types"] == ["PRES", "POS"]
    assert by_id["vqa-rad/4"].answer_type == "closed"  # "CLOSED " with a trailing space
    assert report.unmapped_labels() == {"task": {"XYZ": 1}}
    assert {s.id: s.extras["split"] for s in report.samples} == {
        "vqa-rad/1": "train", "vqa-rad/2": "test", "vqa-rad/3": "train", "vqa-rad/4": "test"}
    assert all(s.modality is None and s.extras["organ"] for s in report.samples)
    _images_open(report)


@pytest.mark.parametrize("layout", ["parquet", "arrow"])
@pytest.mark.parametrize("name, dataset", [("vqa-rad", "VQA-RAD"), ("path-vqa", "PathVQA")])
def test_hub_layout_extracts_images_once_and_splits_closed_by_yes_no(tmp_path, layout, name, dataset):
    writer = bl.write_hub_parquet if layout == "parquet" else bl.write_hub_arrow
    root = writer(tmp_path / "hub" / f"flaviagiammarino--{name}")
    assert detect_format(root, get_plugins()) == name
    report = load_samples(root)
    assert not report.bad and len(report.samples) == sum(len(rows) for rows in bl.HUB_ROWS.values())
    assert {s.dataset for s in report.samples} == {dataset}
    assert {s.extras["split"] for s in report.samples} == {"train", "test"}
    closed = {s.question for s in report.samples if s.answer_type == "closed"}
    assert closed == {q for rows in bl.HUB_ROWS.values() for q, a in rows if a.lower() in ("yes", "no")}
    _images_open(report)
    extracted = Path(report.samples[0].extras["image_root"])
    stamp = {p.name: p.stat().st_mtime_ns for p in extracted.iterdir()}
    again = load_samples(root)  # the cache is reused: nothing is written again
    assert [s.to_dict() for s in again.samples] == [s.to_dict() for s in report.samples]
    assert {p.name: p.stat().st_mtime_ns for p in extracted.iterdir()} == stamp


def test_hub_layout_in_a_folder_named_otherwise_needs_format(tmp_path):
    from medr1_core.errors import DataError

    root = bl.write_hub_parquet(tmp_path / "my-download")
    with pytest.raises(DataError, match="--format"):
        load_samples(root)
    assert len(load_samples(root, format="path-vqa").samples) == 5


def test_pmc_vqa_csv(tmp_path):
    root = bl.write_pmc_vqa(tmp_path / "PMC-VQA")
    assert detect_format(root, get_plugins()) == "pmc-vqa"
    report = load_samples(root)
    by_id = {s.id: s for s in report.samples}
    assert set(by_id) == {"pmc-vqa/train/0", "pmc-vqa/train/1", "pmc-vqa/test/10"}
    assert by_id["pmc-vqa/train/0"].options == {"A": "Diffuse uptake pattern", "B": "Focal uptake pattern",
                                                "C": "No uptake pattern", "D": "Cannot determine from the information given"}
    assert by_id["pmc-vqa/train/0"].answer == "B" and by_id["pmc-vqa/train/1"].answer == "B"  # from the text
    reasons = {(Path(b.file).name, b.index): b.reason for b in report.bad}
    assert "disagrees" in reasons[("train.csv", 2)] and "test_clean.csv" in reasons[("test_clean.csv", -1)]
    assert report.by_answer_type() == {"closed": 3}
    _images_open(report)
    assert len(load_samples(root / "test_clean.csv").samples) == 1


def test_mmmu_medical_subjects_with_several_images(tmp_path):
    root = bl.write_mmmu(tmp_path / "MMMU")
    assert detect_format(root, get_plugins()) == "mmmu-med"
    report = load_samples(root)
    by_id = {s.id: s for s in report.samples}
    assert set(by_id) == {f"validation_Clinical_Medicine_{n}" for n in (1, 2, 3)}
    two = by_id["validation_Clinical_Medicine_2"]
    assert len(two.images) == 2 and two.options == {"A": "<image 1>", "B": "<image 2>"} and two.answer == "B"
    open_one = by_id["validation_Clinical_Medicine_3"]
    assert open_one.options is None and open_one.answer_type == "open" and open_one.references == ("24", "24.0")
    assert open_one.extras["open_metric"] == "contains" and open_one.modality == "microscopy"
    assert by_id["validation_Clinical_Medicine_1"].modality is None  # "Body Scans: MRI, CT..." names no one modality
    assert {s.dataset for s in report.samples} == {"MMMU/Clinical_Medicine"}
    reasons = [b.reason for b in report.bad]
    assert any("<image 3>" in r for r in reasons)
    assert any("test answers are not public" in r for r in reasons)
    assert any("Physics" in r and "Health & Medicine" in r for r in reasons)
    _images_open(report)


def test_data_inspect_counts_each_layout(tmp_path):
    layouts = {
        "slake": bl.write_slake(tmp_path / "SLAKE"),
        "vqa-rad": bl.write_vqa_rad_json(tmp_path / "VQA_RAD"),
        "path-vqa": bl.write_hub_parquet(tmp_path / "path-vqa"),
        "pmc-vqa": bl.write_pmc_vqa(tmp_path / "PMC-VQA"),
        "mmmu-med": bl.write_mmmu(tmp_path / "MMMU"),
    }
    env = {"MEDR1_CACHE": str(tmp_path / "cache")}
    for name, root in layouts.items():
        summary = json.loads(run_cli("data", "inspect", str(root), "--json", env=env).stdout)
        report = load_samples(root)
        assert summary["format"] == name
        assert summary["total"] == len(report.samples) and summary["missing_images"] == 0
        assert summary["by_answer_type"] == report.by_answer_type()
        assert summary["by_modality"] == report.by_modality() and summary["by_task"] == report.by_task()
    text = run_cli("data", "inspect", str(layouts["slake"]), env=env).stdout
    assert "closed / open:        open: 4, closed: 3" in text and "languages:            en: 6, zh: 1" in text
    assert "unknown task labels: 1 question(s) read without a task: 'Texture' (1)" in text
    listed = run_cli("data", "formats").stdout
    for name in layouts:
        assert f"{name}: " in listed


class Answers:
    """Answers each question with a scripted text (in tags), and checks each gets its images."""

    def __init__(self, by_question: dict[str, str]):
        self.by_question = by_question

    def generate(self, conversations, images):
        texts = []
        for conv, pics in zip(conversations, images):
            assert sum(part["type"] == "image" for part in conv[0]["content"]) == len(pics) >= 1
            prompt = conv[0]["content"][-1]["text"]
            answer = next(a for q, a in self.by_question.items() if prompt.startswith(q))
            texts.append(f"<think>looked</think><answer>{answer}</answer>")
        return texts


def test_eval_on_slake_reports_closed_and_open_as_the_benchmark_scores_them(tmp_path):
    from medr1_core.cli.eval_cmd import _report_lines
    from medr1_core.data import Selection
    from medr1_core.eval.run import EvalError, evaluate

    root = bl.write_slake(tmp_path / "SLAKE")
    keep_going = Selection(max_bad_fraction=1)  # the layout holds one bad record on purpose (1 of 8)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    script = Answers({
        "What modality": "MRI",            # open, exact
        "Does the picture contain": "Yes, it does",  # closed yes
        "图像中有肝脏吗": "否",              # closed, wrong
        "Where is the abnormality": "the left upper lung",  # open: recall 1, not exact
        "Which is bigger": "right lung",   # closed, exact choice
        "What texture": "rough",           # open, wrong
        "How many kidneys": "2",           # open, exact
    })
    report = evaluate(str(model), str(root), tmp_path / "out", generator=script, progress=False,
                      selection=keep_going)
    kinds = report.results["by_answer_type"]
    assert (kinds["closed"]["n"], kinds["closed"]["correct"]) == (3, 2)
    assert (kinds["open"]["n"], kinds["open"]["correct"], kinds["open"]["mean_score"]) == (4, 3, 0.75)  # recall
    assert set(report.results["by_language"]) == {"en", "zh"}
    assert "| closed | 3 | 2 |" in (tmp_path / "out" / "results.md").read_text()
    assert "closed 66.7% of 3; open 75.0% of 4" in "\n".join(_report_lines(report))
    assert report.messages and "Texture" in " ".join(report.messages)  # the unknown label is said

    with pytest.raises(EvalError, match="accuracy"):  # scored otherwise: not mixed into the same directory
        evaluate(str(model), str(root), tmp_path / "out", generator=script, progress=False, selection=keep_going,
                 accuracy_params={"open_metric": "exact"})
    exact = evaluate(str(model), str(root), tmp_path / "exact", generator=script, progress=False,
                     selection=keep_going, accuracy_params={"open_metric": "exact"})
    assert exact.results["by_answer_type"]["open"]["correct"] == 2  # "the left upper lung" != "left lung"
