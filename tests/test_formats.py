"""The data-format plugins: OmniMedVQA native, Med-R1 split JSON, JSONL, and detection."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from medr1_core import BadRecord, Sample
from medr1_core.data import DataError, load_samples
from medr1_core.plugins import get_plugins
from medr1_plugins.formats import jsonl, medr1_splits, omnimedvqa
from medr1_plugins.formats.medr1_splits import parse_problem, parse_solution

from helpers import FULL_SPLITS, PUBLISHED, SPLITS, split_counts



def native_record(**overrides) -> dict:
    record = {
        "question_id": "ACRIMA_0001",
        "dataset": "ACRIMA",
        "question_type": "Disease Diagnosis",
        "question": "What is shown?",
        "gt_answer": "Glaucoma",
        "image_path": "Images/ACRIMA/im1.png",
        "modality_type": "Fundus Photography",
        "option_A": "Normal",
        "option_B": "Glaucoma",
        "option_C": "Cataract",
        "option_D": "Myopia",
    }
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not None}


def write_native_tree(root: Path, files: dict[str, list]) -> Path:
    """An OmniMedVQA folder: ``files`` maps ``"Open-access/X.json"`` to its records."""
    for relative, records in files.items():
        path = root / "QA_information" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(records if isinstance(records, str) else json.dumps(records))
    (root / "Images").mkdir(exist_ok=True)
    return root


def read_all(module, path: Path) -> tuple[list[Sample], list[BadRecord]]:
    items = list(module.read(path, get_plugins()))
    return [i for i in items if isinstance(i, Sample)], [i for i in items if isinstance(i, BadRecord)]


# --------------------------------------------------------------------------- Med-R1 splits


@pytest.mark.parametrize(
    "problem, question, options",
    [
        ("Which? A)CT, B)MRI", "Which?", {"A": "CT", "B": "MRI"}),
        (
            "Which test? A)X-ray, B)Electrocardiogram (ECG), C)Positron emission tomography (PET), D)MRI",
            "Which test?",
            {"A": "X-ray", "B": "Electrocardiogram (ECG)", "C": "Positron emission tomography (PET)", "D": "MRI"},
        ),
        (
            "Quality? A)It's a good, clear image., B)It's bad (blurred), C)outlier",
            "Quality?",
            {"A": "It's a good, clear image.", "B": "It's bad (blurred)", "C": "outlier"},
        ),
        ("Is (A) here? A)yes, B)no", "Is (A) here?", {"A": "yes", "B": "no"}),
    ],
)
def test_parse_problem_handles_commas_and_parentheses_in_option_texts(problem, question, options):
    assert parse_problem(problem) == (question, options)


def test_parse_problem_without_two_options_is_none():
    assert parse_problem("What is this? A)only one") is None
    assert parse_problem("What is this?") is None


def test_parse_solution():
    assert parse_solution("<answer> C </answer>") == "C"
    assert parse_solution("<answer>b</answer>") == "B"
    assert parse_solution("C") is None and parse_solution(None) is None


def test_every_record_of_the_med_r1_splits_parses():
    """Every record (all 35,581 with MEDR1_SPLITS_DIR): options (2-4), the answer letter among them, modality or
    task from the file name."""
    plugins = get_plugins()
    failures, total = [], 0
    for file in sorted(SPLITS.glob("*/*.json")):
        records = json.loads(file.read_text())
        total += len(records)
        samples, bad = read_all(medr1_splits, file)
        failures += [f"{b.file}#{b.index}: {b.reason}" for b in bad]
        assert len(samples) + len([b for b in bad if b.index >= 0]) == len(records), file
        label = file.stem.removesuffix("_test")
        for sample in samples:
            assert 2 <= len(sample.options) <= 4 and sample.answer in sample.options
            if file.parent.name == "modality":
                assert sample.modality == plugins.modalities.resolve(label) and sample.modality
            else:
                assert sample.task == plugins.tasks.resolve(label) and sample.task
            assert sample.dataset and sample.images[0].startswith(f"Images/{sample.dataset}/")
    assert total == split_counts()["records"]
    assert not failures, f"{len(failures)} split records do not parse:\n" + "\n".join(failures[:50])


def test_reconstructed_problems_equal_the_originals():
    """Parsing loses nothing: question + 'A)x, B)y' gives back every problem text exactly."""
    mismatches = []
    for file in sorted(SPLITS.glob("*/*.json")):
        for index, record in enumerate(json.loads(file.read_text())):
            question, options = parse_problem(record["problem"])
            rebuilt = question + " " + ", ".join(f"{k}){v}" for k, v in options.items())
            if rebuilt != record["problem"]:
                mismatches.append(f"{file.name}#{index}")
    assert not mismatches, mismatches[:20]


def test_reading_the_splits_root_merges_the_two_groupings_without_double_counting():
    samples, bad = read_all(medr1_splits, SPLITS)
    assert bad == []
    sources = len(samples) + sum(len(s.extras.get("also_in", ())) for s in samples)
    assert sources == split_counts()["records"]  # every record is either a sample or merged into one
    merged = [s for s in samples if s.extras.get("also_in")]
    assert len(merged) == split_counts()["in_both_groupings"] > 0
    assert all(s.modality and s.task for s in merged)
    assert len({s.id for s in samples}) == len(samples)
    inherited = [s for s in samples if s.extras.get("modality_from") == "image"]
    assert inherited and all(s.modality for s in inherited)
    # a merged sample names both files
    example = merged[0]
    files = {example.extras["source"].rsplit("#", 1)[0], *(w.rsplit("#", 1)[0] for w in example.extras["also_in"])}
    assert {Path(f).parent.name for f in files} == {"modality", "question_type"}


def test_split_bad_records_name_file_index_and_reason(tmp_path):
    records = [
        {"image": "Images/D/a.png", "problem": "Q? A)x, B)y", "solution": "<answer> B </answer>"},
        {"image": "Images/D/b.png", "problem": "Q? no options here", "solution": "<answer> A </answer>"},
        {"image": "Images/D/c.png", "problem": "Q? A)x, B)y", "solution": "<answer> D </answer>"},
        {"image": "Images/D/d.png", "problem": "Q? A)x, B)y", "solution": "B"},
        {"problem": "Q? A)x, B)y", "solution": "<answer> A </answer>"},
        "not a record",
    ]
    file = tmp_path / "X-Ray_test.json"
    file.write_text(json.dumps(records))
    samples, bad = read_all(medr1_splits, file)
    assert [s.modality for s in samples] == ["xray"]
    reasons = {b.index: b.reason for b in bad}
    assert set(reasons) == {1, 2, 3, 4, 5} and all(b.file == str(file) for b in bad)
    assert "no options parsed" in reasons[1]
    assert "answer D is not among the options A, B" in reasons[2]
    assert "is not '<answer> X </answer>'" in reasons[3]
    assert "no 'image'" in reasons[4]


def test_split_file_named_after_no_label_is_reported_and_still_read(tmp_path):
    file = tmp_path / "my_questions.json"
    file.write_text(json.dumps([{"image": "a.png", "problem": "Q? A)x, B)y", "solution": "<answer> A </answer>"}]))
    samples, bad = read_all(medr1_splits, file)
    assert len(samples) == 1 and samples[0].modality is None and samples[0].task is None
    assert bad[0].index == -1 and "neither a known modality nor a known task" in bad[0].reason


def test_conflicting_duplicate_across_groupings_is_a_bad_record(tmp_path):
    record = {"image": "Images/D/a.png", "problem": "Q? A)x, B)y", "solution": "<answer> A </answer>"}
    (tmp_path / "modality").mkdir()
    (tmp_path / "question_type").mkdir()
    (tmp_path / "modality" / "X-Ray_test.json").write_text(json.dumps([record]))
    other = {**record, "solution": "<answer> B </answer>"}
    (tmp_path / "question_type" / "Disease Diagnosis_test.json").write_text(json.dumps([other]))
    samples, bad = read_all(medr1_splits, tmp_path)
    assert len(samples) == 1 and samples[0].task is None
    assert "different answer (B vs A)" in bad[0].reason and "X-Ray_test.json#0" in bad[0].reason


# --------------------------------------------------------------------------- OmniMedVQA native


def test_native_layout_quirks(tmp_path):
    root = write_native_tree(
        tmp_path / "OmniMedVQA",
        {
            "Open-access/ACRIMA.json": [
                native_record(),
                # gt_answer differing in case and a final full stop still finds its option
                native_record(question_id="ACRIMA_0002", gt_answer="glaucoma."),
                # a two-option question, no question_id
                native_record(question_id=None, option_C=None, option_D=None, gt_answer="Normal"),
            ],
            # one OmniMedVQA file calls the field "modality"
            "Restricted-access/Chest CT Scan.json": [
                native_record(question_id="CT_1", dataset="Chest CT Scan", gt_answer="CT",
                              option_A="CT", option_B="MRI", option_C=None, option_D=None,
                              question_type="Modality Recognition", image_path="Images/Chest CT Scan/1.png",
                              modality_type=None, modality="CT(Computed Tomography)")
            ],
        },
    )
    record = json.loads((root / "QA_information/Restricted-access/Chest CT Scan.json").read_text())[0]
    assert "modality_type" not in record and record["modality"]
    samples, bad = read_all(omnimedvqa, root)
    assert bad == []
    by_id = {s.id: s for s in samples}
    assert set(by_id) == {"ACRIMA_0001", "ACRIMA_0002", "ACRIMA#2", "CT_1"}
    assert by_id["ACRIMA_0001"].answer == "B" and by_id["ACRIMA_0002"].answer == "B"
    assert by_id["ACRIMA#2"].options == {"A": "Normal", "B": "Glaucoma"} and by_id["ACRIMA#2"].answer == "A"
    assert by_id["CT_1"].modality == "ct" and by_id["CT_1"].task == "modality_recognition"
    assert by_id["ACRIMA_0001"].modality == "fundus" and by_id["ACRIMA_0001"].task == "disease_diagnosis"
    assert by_id["ACRIMA_0001"].dataset == "ACRIMA"
    assert all(s.extras["image_root"] == str(root) for s in samples)
    # any folder below the root, or one file, is read against the same image root
    for path in (root / "QA_information", root / "QA_information/Open-access",
                 root / "QA_information/Open-access/ACRIMA.json"):
        part, _ = read_all(omnimedvqa, path)
        assert part and all(s.extras["image_root"] == str(root) for s in part)


def test_native_bad_records_have_reasons(tmp_path):
    root = write_native_tree(
        tmp_path,
        {
            "Open-access/D.json": [
                native_record(gt_answer="Retinoblastoma"),
                native_record(option_B=None, option_C=None, option_D=None),
                native_record(modality_type="Thermography"),
                native_record(question_type="Surgery planning"),
                native_record(option_C="Glaucoma"),
                native_record(image_path=None),
                7,
            ],
            "Open-access/broken.json": "{not json",
        },
    )
    samples, bad = read_all(omnimedvqa, root)
    assert samples == []
    by_index = {(Path(b.file).name, b.index): b.reason for b in bad}
    assert "gt_answer 'Retinoblastoma' is not among the options" in by_index[("D.json", 0)]
    assert "no options parsed" in by_index[("D.json", 1)]
    assert "unknown modality 'Thermography'" in by_index[("D.json", 2)]
    assert "unknown task 'Surgery planning'" in by_index[("D.json", 3)]
    assert "matches several options (B, C)" in by_index[("D.json", 4)]
    assert "no 'image_path'" in by_index[("D.json", 5)]
    assert "expected an object" in by_index[("D.json", 6)]
    assert "file skipped: not valid JSON" in by_index[("broken.json", -1)]


# --------------------------------------------------------------------------- JSONL


def test_jsonl_reads_sample_shape_and_reports_bad_lines(tmp_path):
    lines = [
        Sample(id="a", question="Which?", answer="B", options={"A": "CT", "B": "MRI"}, images=("i/a.png",),
               modality="mri", task="modality_recognition", dataset="mine").to_dict(),
        {"question": "Which?", "options": ["CT", "MRI"], "answer": "mri", "image": "b.png", "modality": "MR"},
        {"question": "Describe.", "answer": "a nodule", "images": ["c.png"]},
        "{broken",
        {"question": "Which?", "options": "CT or MRI", "answer": "A"},
        {"question": "Which?", "options": {"A": "CT", "B": "MRI"}, "answer": "C"},
        {"question": "Which?", "options": {"A": "CT", "B": "MRI"}, "answer": "A", "modality": "PET-CT"},
        {"question": "Which?", "answer": "A", "colour": "red"},
    ]
    file = tmp_path / "mine.jsonl"
    file.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n\n")
    samples, bad = read_all(jsonl, file)
    assert [s.id for s in samples] == ["a", "mine#1", "mine#2"]
    assert samples[0].modality == "mri" and samples[0].task == "modality_recognition"
    assert samples[1].options == {"A": "CT", "B": "MRI"} and samples[1].answer == "B" and samples[1].modality == "mri"
    assert samples[2].options is None and samples[2].answer == "a nodule"
    assert all(s.extras["image_root"] == str(tmp_path) for s in samples)
    reasons = {b.index: b.reason for b in bad}
    assert set(reasons) == {3, 4, 5, 6, 7}
    assert "invalid JSON" in reasons[3]
    assert {b.index: b.line for b in bad}[3] == 4 and bad[0].where == f"{file}:4"  # lines count from 1
    assert reasons[4] == "options: Input should be a valid dictionary or a valid list"
    assert "neither an option letter nor the text of one option" in reasons[5]
    assert "unknown modality 'PET-CT'" in reasons[6]
    assert "colour: Extra inputs are not permitted" in reasons[7]


# --------------------------------------------------------------------------- detection


def test_formats_are_detected(tmp_path):
    plugins = get_plugins()
    native = write_native_tree(tmp_path / "omni", {"Open-access/D.json": [native_record()]})
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "a.jsonl").write_text(json.dumps({"question": "q", "answer": "a"}) + "\n")
    from medr1_core.data import detect_format

    assert detect_format(native, plugins) == "omnimedvqa"
    assert detect_format(native / "QA_information" / "Open-access" / "D.json", plugins) == "omnimedvqa"
    assert detect_format(SPLITS, plugins) == "medr1-split"
    assert detect_format(SPLITS / "modality" / "X-Ray_test.json", plugins) == "medr1-split"
    assert detect_format(tmp_path / "j", plugins) == "jsonl"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="cannot tell the format of .*other.*omnimedvqa, medr1-split, jsonl"):
        detect_format(tmp_path / "other", plugins)


def test_named_format_and_unknown_format_name(tmp_path):
    file = tmp_path / "data.txt"
    file.write_text(json.dumps({"question": "q", "answer": "a", "images": ["x.png"]}) + "\n")
    # a .txt file is not auto-detected as JSONL, but can be named
    report = load_samples(tmp_path / "data.txt", format="jsonl")
    assert len(report) == 1 and report.format == "jsonl"
    with pytest.raises(KeyError, match="Did you mean 'jsonl'"):
        load_samples(file, format="jsnl")


def test_registered_formats_and_their_counts_on_the_splits():
    names = get_plugins().data_formats.names()
    assert {"omnimedvqa", "medr1-split", "jsonl"} <= set(names)
    report = load_samples(SPLITS)
    assert report.format == "medr1-split" and report.bad == []
    assert len(report) == split_counts()["questions"] and report.merged == split_counts()["in_both_groupings"]
    assert Counter(len(s.options) for s in report.samples) == split_counts()["options"]
    assert Counter(len(s.options) for s in report.samples).keys() == {2, 3, 4}


def test_the_full_splits_hold_what_was_published():
    """With MEDR1_SPLITS_DIR naming the full splits (CI sets it), the counts are the published ones."""
    if not FULL_SPLITS:
        pytest.skip("MEDR1_SPLITS_DIR is not set: the tests read their own subset of the splits")
    assert split_counts() == {"files": 13, **PUBLISHED}
    report = load_samples(SPLITS)
    assert len(report) == PUBLISHED["questions"] and report.merged == PUBLISHED["in_both_groupings"]
