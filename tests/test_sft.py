"""medr1 sft end to end on the tiny model: it learns (loss finite, weights move), its run evaluates, it resumes."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest

from helpers import run_cli

pytestmark = pytest.mark.slow

FAST = ("--model", "tiny", "--data", "sample", "--report-to", "none")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(next(folder.glob("*.safetensors"))))


def test_sft_trains_three_steps_and_its_run_evaluates(tmp_path):
    from medr1_core.train.models import resolve_model

    out = tmp_path / "sft"
    proc = run_cli("sft", *FAST, "--max-steps", "3", "--output-dir", str(out))
    assert "run finished after 3 steps" in proc.stderr and "train: 100%" in proc.stderr
    assert re.search(r"loss\s+\d", proc.stderr) and "'loss'" not in proc.stderr
    losses = [m["loss"] for m in read_jsonl(out / "metrics.jsonl") if "loss" in m]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    for name in ("config.yaml", "data_report.json", "events.jsonl", "report.html", ".medr1-run"):
        assert (out / name).is_file(), name
    config = (out / "config.yaml").read_text()
    assert "method: sft" in config and "lr_scheduler_type: cosine" in config

    before, after = weights(Path(resolve_model("tiny").source)), weights(out / "final")
    changed = [name for name in before if not (before[name] == after[name]).all()]
    assert len(changed) > len(before) // 2  # the language model learned from the targets
    page = (out / "report.html").read_text()
    assert "Training curves" in page and "<polyline" in page  # its loss curve

    evaluated = run_cli("eval", "--model", str(out), "--data", "sample", "--limit", "6", "--max-new-tokens", "8",
                        "--output-dir", str(tmp_path / "eval"), "-q")
    assert "over 6 question(s)" in evaluated.stdout
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["variant"] == "think" and results["counts"]["evaluated"] == 6
    assert results["model_source"].endswith("sft/final")


def test_a_resumed_sft_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    whole = tmp_path / "whole"
    run_cli("sft", *FAST, "--max-steps", "4", "--save-steps", "2", "--output-dir", str(whole))
    # the same run, as if killed after its checkpoint at step 2
    cut = tmp_path / "cut"
    shutil.copytree(whole, cut, ignore=shutil.ignore_patterns("checkpoint-4", "final", ".medr1.lock"))
    events = read_jsonl(cut / "events.jsonl")
    (cut / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events if e["event"] != "end"))

    resumed = run_cli("sft", "--resume", "--output-dir", str(cut))
    assert "run finished after 4 steps" in resumed.stderr
    assert [e["event"] for e in read_jsonl(cut / "events.jsonl")][-2:] == ["resume", "end"]
    a, b = weights(whole / "final"), weights(cut / "final")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)

    again = run_cli("sft", "--resume", "--output-dir", str(cut), check=False)
    assert again.returncode == 2 and "already finished after 4 steps" in again.stderr
    wrong = run_cli("train", "--resume", "--output-dir", str(cut), check=False)
    assert wrong.returncode == 2 and "is a medr1 sft run: continue it with medr1 sft --resume" in wrong.stderr


def test_sft_settings_are_checked_against_trls_sftconfig(tmp_path):
    proc = run_cli("sft", *FAST, "--set", "sft.lr_shceduler_type=linear", "--output-dir", str(tmp_path / "r"),
                   check=False)
    assert proc.returncode == 2 and "sft.lr_shceduler_type: not a field of TRL's SFTConfig" in proc.stderr
    assert "did you mean 'lr_scheduler_type'" in proc.stderr and not (tmp_path / "r").exists()


def test_two_processes_fine_tune_data_parallel_with_gloo(tmp_path):
    import os
    import subprocess
    import sys

    from helpers import REPO

    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "medr1_core.cli", "sft",
         *FAST, "--max-steps", "2", "--output-dir", str(out)],
        cwd=REPO, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = [m for m in read_jsonl(out / "metrics.jsonl") if "loss" in m]
    assert [m["step"] for m in metrics] == [1, 2]  # rank 0 alone writes
    questions = json.loads((out / "data_report.json").read_text())["training_samples"]
    per_step = 2 * 8  # two processes x the tiny preset's 8 questions each
    assert metrics[-1]["epoch"] == pytest.approx(2 / math.ceil(questions / per_step))
