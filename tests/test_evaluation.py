"""Evaluation metrics, predictions files, reports and the matrix, on hand-made predictions (no model)."""

from __future__ import annotations

import doctest
import json

import pytest

from medr1_core.eval import stats as accuracy_stats
from medr1_core.eval.stats import compare_predictions, holm_adjust, mcnemar_exact, summarize, wilson_interval
from medr1_core.eval.predictions import drop_partial_tail, read_predictions
from medr1_core.eval.results import write_results
from medr1_core.eval.run import EvalError
from medr1_core.eval.matrix import build_matrix, parse_named_models, write_matrix

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def pred(i, modality="ct", task="disease_diagnosis", correct=False, answer="A", well_formed=True):
    return {"id": f"q{i}", "modality": modality, "task": task, "correct": correct, "answer": answer,
            "well_formed": well_formed}


# --------------------------------------------------------------------------- Wilson


@pytest.mark.parametrize(
    "correct, n, expected",
    [
        (8, 10, (0.4902, 0.9433)),  # textbook example (Newcombe 1998 / Agresti-Coull)
        (0, 10, (0.0, 0.2775)),  # upper bound z^2 / (n + z^2)
        (10, 10, (0.7225, 1.0)),
        (50, 100, (0.4038, 0.5962)),
        (1, 1, (0.2065, 1.0)),
    ],
)
def test_wilson_interval_known_values(correct, n, expected):
    lo, hi = wilson_interval(correct, n)
    assert (round(lo, 4), round(hi, 4)) == expected


def test_wilson_interval_edge_cases():
    assert wilson_interval(0, 0) is None
    lo, hi = wilson_interval(3, 7)
    assert 0 <= lo < 3 / 7 < hi <= 1
    with pytest.raises(ValueError, match="correct <= n"):
        wilson_interval(5, 4)


def test_module_doctests_pass():
    result = doctest.testmod(accuracy_stats)
    assert result.attempted >= 5 and result.failed == 0


# --------------------------------------------------------------------------- summarize


def test_summarize_counts_per_modality_task_and_cell():
    preds = [
        pred(1, "ct", "disease_diagnosis", True),
        pred(2, "ct", "disease_diagnosis", False, answer=None, well_formed=False),
        pred(3, "ct", "modality_recognition", True),
        pred(4, "mri", "disease_diagnosis", True, well_formed=False),
        pred(5, "mri", "disease_diagnosis", True),
        pred(6, None, "lesion_grading", False, answer=None, well_formed=False),
    ]
    s = summarize(preds, modality_order=["mri", "ct"], task_order=["modality_recognition", "disease_diagnosis"])
    assert s["overall"] == {"n": 6, "correct": 4, "accuracy": 4 / 6,
                            "ci95": [pytest.approx(wilson_interval(4, 6)[0]), pytest.approx(wilson_interval(4, 6)[1])]}
    # registry order first, then unknown labels sorted
    assert list(s["by_modality"]) == ["mri", "ct", "unknown"]
    assert list(s["by_task"]) == ["modality_recognition", "disease_diagnosis", "lesion_grading"]
    assert s["by_modality"]["ct"]["n"] == 3 and s["by_modality"]["ct"]["correct"] == 2
    assert s["by_modality"]["mri"]["accuracy"] == 1.0
    assert s["by_task"]["disease_diagnosis"] == {**s["by_task"]["disease_diagnosis"], "n": 4, "correct": 3}
    cell = s["by_modality_task"]["ct"]["disease_diagnosis"]
    assert (cell["n"], cell["correct"], cell["accuracy"]) == (2, 1, 0.5)
    assert "modality_recognition" not in s["by_modality_task"]["mri"]  # no questions: no cell
    assert s["by_modality_task"]["unknown"]["lesion_grading"]["n"] == 1
    assert s["parse_failures"] == 2 and s["parse_failure_rate"] == pytest.approx(2 / 6)
    assert s["malformed"] == 3 and s["malformed_rate"] == pytest.approx(0.5)


def test_summarize_empty():
    s = summarize([])
    assert s["overall"] == {"n": 0, "correct": 0, "accuracy": None, "ci95": None}
    assert s["parse_failure_rate"] is None and s["by_modality"] == {}


# --------------------------------------------------------------------------- McNemar / compare


def test_mcnemar_exact_hand_computed():
    assert mcnemar_exact(1, 9) == pytest.approx(2 * (1 + 10) / 2**10)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)  # 0.0625: not significant at 0.05
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 0) == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_compare_predictions_pairs_on_shared_ids():
    # 12 CT questions: A right on 1, B right on 9 of which A also got 1 -> discordant b=0, c=8
    a = [pred(i, "ct", correct=(i == 0)) for i in range(12)] + [pred(100, "mri", correct=True)]
    b = [pred(i, "ct", correct=(i < 9)) for i in range(12)] + [pred(200, "mri", correct=False)]
    b.append(pred(5, "xray", "lesion_grading", correct=False))  # repeated id: the first record counts
    c = compare_predictions(a, b)
    assert c["shared"] == 12 and c["only_a"] == 1 and c["only_b"] == 1
    ct = c["by_modality"]["ct"]
    assert ct["n"] == 12
    assert (ct["a_only"], ct["b_only"]) == (0, 8)
    assert ct["accuracy_a"] == pytest.approx(1 / 12) and ct["accuracy_b"] == pytest.approx(9 / 12)
    assert ct["difference"] == pytest.approx(8 / 12)
    assert ct["p_value"] == pytest.approx(2 / 256) and ct["significant"] is True
    assert "mri" not in c["by_modality"]  # no shared MRI question
    cell = c["by_modality_task"]["ct"]["disease_diagnosis"]
    assert cell["p_holm"] == pytest.approx(cell["p_value"])  # a single cell: nothing to adjust


def test_compare_predictions_not_significant_with_few_discordant():
    a = [pred(i, correct=i < 5) for i in range(10)]
    b = [pred(i, correct=i < 8) for i in range(10)]  # 3 more right, none fewer: p = 0.25
    c = compare_predictions(a, b)
    assert c["overall"]["p_value"] == pytest.approx(0.25)
    assert c["overall"]["significant"] is False
    assert compare_predictions(a, b, alpha=0.3)["overall"]["significant"] is True


def test_holm_adjust():
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm_adjust([]) == []


# --------------------------------------------------------------------------- predictions.jsonl


def test_read_predictions_tolerates_partial_tail_and_reports_bad_lines(tmp_path):
    path = tmp_path / "predictions.jsonl"
    lines = [json.dumps(pred(1)), "not json", json.dumps(pred(2)), json.dumps(pred(1, correct=True)), '{"id": "q3", "mod']
    path.write_text("\n".join(lines))  # last line cut off mid-write
    found = read_predictions(path)
    assert [r["id"] for r in found.records] == ["q1", "q2"]
    assert found.records[0]["correct"] is False  # first record of an id wins
    assert found.duplicates == 1
    assert found.partial_tail is True
    assert [n for n, _ in found.bad_lines] == [2, 5]
    assert "partially written" in found.bad_lines[1][1]
    assert read_predictions(tmp_path / "absent.jsonl").records == []


def test_drop_partial_tail(tmp_path):
    path = tmp_path / "p.jsonl"
    good = json.dumps(pred(1)) + "\n"
    path.write_text(good + '{"id": "q2", "corr')
    assert drop_partial_tail(path) == len('{"id": "q2", "corr')
    assert path.read_text() == good
    assert drop_partial_tail(path) == 0
    # a complete record whose newline is missing is kept, and gets its newline
    path.write_text(good + json.dumps(pred(2)))
    assert drop_partial_tail(path) == 0
    assert [r["id"] for r in read_predictions(path).records] == ["q1", "q2"]
    assert path.read_text().endswith("\n")


# --------------------------------------------------------------------------- reports


def test_write_results_writes_tables_and_heatmap(tmp_path):
    preds = [pred(i, m, t, correct=(i % 3 == 0)) for i, (m, t) in enumerate(
        [("ct", "disease_diagnosis"), ("ct", "lesion_grading"), ("mri", "disease_diagnosis")] * 4)]
    results = {"model": "m", "data": "d", "variant": "think", **summarize(preds)}
    paths = write_results(tmp_path, results)
    assert json.loads(paths["json"].read_text())["overall"]["n"] == 12
    md = paths["md"].read_text()
    assert "| ct | 8 |" in md and "## Modality x task" in md
    assert "| mri | " in md and "| all | " in md
    png = paths["heatmap"].read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 2000


# --------------------------------------------------------------------------- matrix


def _trained_on(target, modalities=("ct", "mri", "xray"), per=10):
    """Predictions of a model that is right on `target` questions and on every 4th other one."""
    out = []
    for j, m in enumerate(modalities):
        for i in range(per):
            out.append(pred(f"{m}{i}", m, ["disease_diagnosis", "lesion_grading"][i % 2],
                            correct=(m == target) or i % 4 == 0))
    return out


def test_build_matrix_shape_labels_and_improvement(tmp_path):
    rows = {"ct": _trained_on("ct"), "xray": _trained_on("xray")}
    base = _trained_on(None)
    m = build_matrix(rows, base=base, column_order=["xray", "ct", "mri"])
    assert m["rows"] == ["ct", "xray"]
    assert m["columns"] == ["xray", "ct", "mri"]
    assert set(m["accuracy"]) == {"ct", "xray"}
    assert all(list(m["accuracy"][r]) == ["xray", "ct", "mri"] for r in m["rows"])
    assert m["accuracy"]["ct"]["ct"]["accuracy"] == 1.0
    assert m["accuracy"]["ct"]["mri"]["accuracy"] == pytest.approx(3 / 10)
    assert m["overall"]["xray"]["n"] == 30
    assert m["base"]["ct"]["accuracy"] == pytest.approx(3 / 10)
    imp = m["improvement"]["ct"]["ct"]
    assert imp["difference"] == pytest.approx(0.7) and imp["b_only"] == 7 and imp["significant"]
    assert m["improvement"]["ct"]["mri"]["difference"] == 0 and not m["improvement"]["ct"]["mri"]["significant"]
    assert m["improvement_overall"]["xray"]["difference"] == pytest.approx(7 / 30)

    paths = write_matrix(tmp_path, m)
    md = paths["md"].read_text()
    assert "| model \\ tested on | xray | ct | mri | all |" in md
    assert "**100.0 [72.2, 100.0]**" in md  # in-domain cell bold, with its interval
    assert "| base | " in md and "+70.0*" in md
    for key in ("png", "improvement_png"):
        data = paths[key].read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 2000
    assert json.loads(paths["json"].read_text())["columns"] == ["xray", "ct", "mri"]


def test_build_matrix_by_task_without_base(tmp_path):
    m = build_matrix({"a": _trained_on("ct"), "b": _trained_on("mri")}, by="task")
    assert m["columns"] == ["disease_diagnosis", "lesion_grading"]
    assert m["improvement"] is None and m["base"] is None
    paths = write_matrix(tmp_path, m)
    assert "improvement_png" not in paths and not (tmp_path / "improvement.png").exists()
    with pytest.raises(ValueError, match="also a row"):
        build_matrix({"base": []}, base=[])
    with pytest.raises(ValueError, match="by must be"):
        build_matrix({"a": []}, by="dataset")


def test_parse_named_models():
    assert parse_named_models("ct=runs/ct, mri = /x/mri") == {"ct": "runs/ct", "mri": "/x/mri"}
    for bad, message in [("ct", "NAME=MODEL"), ("ct=a,ct=b", "twice"), ("a/b=x", "directory"), ("", "no models")]:
        with pytest.raises(EvalError, match=message):
            parse_named_models(bad)
