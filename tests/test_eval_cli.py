"""`medr1 eval`, `medr1 eval matrix`, `medr1 eval compare` end to end on the real tiny model and sample data.

The commands run in-process (click's CliRunner) so torch is imported once;
each model generates a handful of short completions.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from medr1_core.cli import cli
from medr1_core.eval.predictions import read_predictions

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FAST = ["--max-new-tokens", "8", "--quiet"]


def medr1(*args: str, ok: bool = True):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def png(path) -> bytes:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 2000, path
    return data


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """Two tiny VLMs built with different seeds (stand-ins for two trained models)."""
    from medr1_core.offline.tiny import build_tiny_vlm

    root = tmp_path_factory.mktemp("models")
    return str(build_tiny_vlm(root / "seed1", seed=1)), str(build_tiny_vlm(root / "seed2", seed=2))


@pytest.mark.slow
def test_eval_tiny_model_on_sample_data_end_to_end(tmp_path):
    out = tmp_path / "eval"
    first = medr1("eval", "--model", "tiny", "--data", "sample", "--limit", "16", "--batch-size", "8",
                  "--output-dir", str(out), *FAST)
    assert "accuracy" in first.output and "answered now: 16" in first.output
    results = json.loads((out / "results.json").read_text())
    assert results["model"] == "tiny" and results["variant"] == "think" and results["data"] == "sample"
    assert results["overall"]["n"] == 16
    assert 0 <= results["overall"]["ci95"][0] <= results["overall"]["ci95"][1] <= 1
    assert 0 <= results["parse_failure_rate"] <= 1
    for cell in results["by_modality"].values():
        assert set(cell) == {"n", "correct", "accuracy", "ci95"}
    records = read_predictions(out / "predictions.jsonl").records
    assert len(records) == 16
    assert set(records[0]) >= {"id", "modality", "task", "completion", "answer", "letter", "correct"}
    png(out / "heatmap.png")
    assert "## Modality x task" in (out / "results.md").read_text()

    again = medr1("eval", "--model", "tiny", "--data", "sample", "--limit", "16", "--output-dir", str(out), *FAST)
    assert "answered now: 0; from earlier runs: 16" in again.output
    assert json.loads((out / "results.json").read_text())["overall"] == results["overall"]


@pytest.mark.slow
def test_matrix_and_compare_with_two_tiny_models(tmp_path, tiny_models):
    seed1, seed2 = tiny_models
    out = tmp_path / "matrix"
    result = medr1("eval", "matrix", "--models", f"ct={seed1},mri={seed2}", "--base", "tiny", "--data", "sample",
                   "--modality", "ct,mri,xray", "--limit", "12", "--output-dir", str(out), *FAST)
    assert "# Cross-modality generalization" in result.output
    matrix = json.loads((out / "matrix.json").read_text())
    assert matrix["rows"] == ["ct", "mri"]
    assert matrix["columns"] == ["ct", "mri", "xray"]
    assert matrix["by"] == "modality" and matrix["base_name"] == "base"
    for row in matrix["rows"]:
        assert list(matrix["accuracy"][row]) == matrix["columns"]
        assert list(matrix["improvement"][row]) == matrix["columns"]
        assert matrix["overall"][row]["n"] == 12
    assert sum(c["n"] for c in matrix["base"].values()) == 12
    assert matrix["models"]["ct"] == {"model": seed1, "results": "ct/results.json"}
    for name in ("ct", "mri", "base"):
        assert len(read_predictions(out / name / "predictions.jsonl").records) == 12
    png(out / "matrix.png")
    png(out / "improvement.png")
    assert "| model \\ tested on | ct | mri | xray | all |" in (out / "matrix.md").read_text()

    # by task, reusing nothing (another directory), without a base
    by_task = tmp_path / "by_task"
    medr1("eval", "matrix", "--models", f"a={seed1}", "--data", "sample", "--by", "task", "--modality", "oct",
          "--limit", "5", "--output-dir", str(by_task), *FAST)
    m2 = json.loads((by_task / "matrix.json").read_text())
    assert m2["rows"] == ["a"] and set(m2["columns"]) <= {
        "modality_recognition", "anatomy_identification", "disease_diagnosis", "lesion_grading",
        "other_biological_attributes"}
    assert not (by_task / "improvement.png").exists()

    table = medr1("eval", "compare", str(out / "base" / "results.json"), str(out / "ct"))
    assert "shared questions: 12" in table.output and "overall" in table.output and "modality ct" in table.output
    as_json = json.loads(medr1("eval", "compare", str(out / "base"), str(out / "ct" / "results.json"),
                               "--json").output)
    assert as_json["shared"] == 12 and as_json["overall"]["n"] == 12
    assert set(as_json["overall"]) >= {"accuracy_a", "accuracy_b", "difference", "p_value", "significant"}
    assert as_json["a"]["model"] == "tiny" and as_json["b"]["model"] == seed1


def test_compare_explains_missing_files(tmp_path):
    (tmp_path / "results.json").write_text("{}")
    result = medr1("eval", "compare", str(tmp_path), str(tmp_path / "nope"), ok=False)
    assert result.exit_code != 0 and "no predictions.jsonl beside it" in result.output
    result = medr1("eval", "compare", str(tmp_path / "nope"), str(tmp_path), ok=False)
    assert "no such results.json" in result.output


def test_eval_without_required_options_is_a_usage_error():
    result = medr1("eval", ok=False)
    assert result.exit_code == 2 and "needs --model, --data, --output-dir" in result.output


def test_eval_reports_user_errors_without_a_traceback(tmp_path):
    result = medr1("eval", "--model", "tiny", "--data", str(tmp_path / "absent"), "--output-dir", str(tmp_path / "o"),
                   ok=False)
    assert result.exit_code == 2 and "no such file or directory" in result.output
    result = medr1("eval", "matrix", "--models", "ct", "--data", "sample", "--output-dir", str(tmp_path / "m"), ok=False)
    assert result.exit_code == 2 and "NAME=MODEL" in result.output
    assert "Traceback" not in result.output


def test_eval_modules_do_not_import_heavy_libraries():
    code = ("import sys, medr1_core.cli.eval_cmd, medr1_core.eval.run, medr1_core.eval.stats, "
            "medr1_core.eval.matrix, medr1_core.report.plots, medr1_core.eval.generation; "
            "print(sorted(m for m in ('torch', 'transformers', 'matplotlib', 'vllm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
