"""``medr1 data inspect`` / ``formats`` / ``sample``, and what the loading path imports."""

from __future__ import annotations

import json
import subprocess
import sys

from PIL import Image

from helpers import REPO, SPLITS, run_cli, split_counts
from test_formats import native_record, write_native_tree


def test_inspect_json_on_the_med_r1_splits():
    out = json.loads(run_cli("data", "inspect", str(SPLITS), "--json").stdout)
    counts = split_counts()
    assert out["total"] == counts["questions"] and out["format"] == "medr1-split"
    assert out["merged"] == counts["in_both_groupings"]
    assert set(out["by_modality"]) == {"ct", "mri", "xray", "ultrasound", "dermoscopy", "fundus", "oct", "microscopy", "none"}
    assert set(out["by_task"]) >= {"modality_recognition", "disease_diagnosis", "lesion_grading"}
    assert out["bad"] == []
    # the split ships no images: every distinct image file is missing
    assert out["missing_images"] == counts["distinct_images"] and out["samples_missing_images"] == counts["questions"]


def test_inspect_lists_every_bad_record_and_missing_image(tmp_path):
    root = write_native_tree(
        tmp_path,
        {"Open-access/D.json": [native_record(), native_record(question_id="2", gt_answer="Nope"),
                                native_record(question_id="3", modality_type="Thermal"),
                                native_record(question_id="4", image_path="Images/ACRIMA/missing.png")]},
    )
    image = root / "Images/ACRIMA/im1.png"
    image.parent.mkdir(parents=True)
    Image.new("L", (8, 8)).save(image)
    text = run_cli("data", "inspect", str(root)).stdout
    assert "2 samples, 2 bad records" in text
    assert "D.json#1: gt_answer 'Nope' is not among the options" in text
    assert "D.json#2: unknown modality 'Thermal'" in text
    assert "missing images:       1 file(s), 1 sample(s)" in text and "missing.png" in text
    out = json.loads(run_cli("data", "inspect", str(root), "--json").stdout)
    assert [(b["index"], b["file"].endswith("D.json")) for b in out["bad"]] == [(1, True), (2, True)]
    assert out["missing_images"] == 1
    # a corrupt image is found with --verify-images
    image.write_bytes(b"garbage")
    out = json.loads(run_cli("data", "inspect", str(root), "--json", "--verify-images").stdout)
    assert len(out["unreadable_images"]) == 1 and out["unreadable_images"][0]["path"].endswith("im1.png")


def test_inspect_selection_image_root_and_errors(tmp_path):
    out = json.loads(run_cli("data", "inspect", str(SPLITS), "--json", "-m", "OCT", "-t", "Disease Diagnosis",
                             "--image-root", str(tmp_path)).stdout)
    assert set(out["by_modality"]) == {"oct"} and out["excluded"] == split_counts()["questions"] - out["total"]
    bad_format = run_cli("data", "inspect", str(SPLITS), "--format", "jsnol", check=False)
    assert bad_format.returncode == 2 and "Did you mean 'jsonl'" in bad_format.stderr
    missing = run_cli("data", "inspect", str(tmp_path / "none"), check=False)
    assert missing.returncode == 2 and "no such file or directory" in missing.stderr


def test_sample_and_formats_commands(tmp_path):
    env = {"MEDR1_CACHE": str(tmp_path)}
    assert run_cli("data", "sample", env=env).stdout.strip() == str(tmp_path / "sample-v3")
    assert run_cli("data", "sample", "--heldout", env=env).stdout.strip() == str(tmp_path / "sample-v3-heldout")
    out = json.loads(run_cli("data", "inspect", "sample", "--json", env=env).stdout)
    assert out["total"] == 800 and out["missing_images"] == 0 and out["bad"] == []
    heldout = json.loads(run_cli("data", "inspect", "sample-heldout", "--json", env=env).stdout)
    assert heldout["total"] == 400 and heldout["bad"] == []
    names = [row["name"] for row in json.loads(run_cli("data", "formats", "--json").stdout)]
    assert names[:3] == ["omnimedvqa", "medr1-split", "jsonl"]


def test_loading_imports_neither_torch_nor_datasets():
    code = (
        "import sys\n"
        "import medr1_core.cli.data_cmd\n"
        "from medr1_core.data import load_samples, split\n"
        f"report = load_samples({str(SPLITS)!r})\n"
        "split(report.samples, 0.2)\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'trl', 'datasets') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"
