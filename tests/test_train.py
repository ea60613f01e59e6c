"""medr1 train end to end on the tiny model: run directory, failures, resume, two processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import REPO, run_cli

pytestmark = pytest.mark.slow

FAST = ("--model", "tiny", "--data", "sample", "--set", "grpo.max_completion_length=16")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_train_writes_the_run_directory(tmp_path):
    out = tmp_path / "run"
    proc = run_cli("train", *FAST, "--rewards", "format,accuracy,dtree", "--max-steps", "2", "--output-dir", str(out))
    assert "run finished after 2 steps" in proc.stderr
    # the console: one progress bar and a summary table; no metrics dicts, no None-logging warnings
    assert "train: 100%" in proc.stderr and "2/2" in proc.stderr
    assert re.search(r"reward\s+weight\s+first 10\s+last 10\s+change\s+steps scored", proc.stderr)
    assert "'loss'" not in proc.stderr + proc.stdout and "Trainer is attempting to log" not in proc.stderr
    assert "Loading weights" not in proc.stderr and "is deprecated" not in proc.stderr
    for name in ("config.yaml", "data_report.json", "metrics.jsonl", "completions.jsonl", "events.jsonl",
                 "reward_curve.png", "report.html"):
        assert (out / name).is_file(), name
    assert f"report: {out / 'report.html'}" in proc.stderr
    assert (out / "reward_curve.png").stat().st_size > 1000
    assert (out / "final" / "config.json").is_file() and (out / "final" / "processor_config.json").is_file()
    assert any((out / "tensorboard").rglob("events.out.tfevents*"))

    metrics = [m for m in read_jsonl(out / "metrics.jsonl") if "rewards/format/mean" in m]
    assert [m["step"] for m in metrics] == [1, 2]
    assert {"rewards/accuracy/mean", "reward", "rewards/format/failed"} <= set(metrics[0])

    assert all(v is not None for m in metrics for v in m.values())  # an unscored reward is absent, not null
    completions = read_jsonl(out / "completions.jsonl")
    assert len(completions) == 2 * 16  # per_device_train_batch_size of the tiny preset
    assert set(completions[0]["rewards"]) == {"format", "accuracy", "dtree"}
    assert completions[0]["id"] and isinstance(completions[0]["completion"], str)
    assert all(Path(c["images"][0]).is_file() and c["modality"] and c["question"] for c in completions)
    page = (out / "report.html").read_text()
    assert page.count('class="item"') == len({(c["step"], c["id"]) for c in completions})
    assert page.count("data:image/jpeg;base64,") == len({c["images"][0] for c in completions})
    assert "Rewards: mean per logged step" in page and "<polyline" in page

    report = json.loads((out / "data_report.json").read_text())
    assert report["training_samples"] == 800 and report["bad_records"] == 0

    again = run_cli("train", *FAST, "--max-steps", "1", "--output-dir", str(out), check=False)
    assert again.returncode != 0 and "already holds a medr1 run" in again.stderr and "--resume" in again.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("--rewards", "format,acuracy"), "unknown reward 'acuracy'. Did you mean 'accuracy'?"),
        (("--modality", "petscan"), "unknown modality 'petscan'"),
        (("--task", "Disease Diagnosi"), "Did you mean"),
        (("--set", "grpo.loss_type=ppo"), "grpo.loss_type"),
        (("--set", "grpo.num_generations=1"), "greater than or equal to 2"),
        (("--set", "rewards.accuracy.params.no_such=1", "--rewards", "accuracy"), "no_such"),
    ],
)
def test_bad_names_and_config_fail_fast_with_a_clear_message(tmp_path, args, message):
    proc = run_cli("train", "--model", "tiny", "--data", "sample", *args, "--output-dir", str(tmp_path / "r"), check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r" / "config.yaml").exists()


def test_a_reward_that_raises_mid_run_is_isolated(tmp_path):
    flaky = tmp_path / "flaky.py"
    flaky.write_text(
        "calls = {'n': 0}\n"
        "def flaky(prompts, completions, **kwargs):\n"
        "    calls['n'] += 1\n"
        "    if calls['n'] == 2:\n"
        "        raise RuntimeError('lookup table unavailable')\n"
        "    return [0.5] * len(completions)\n"
    )
    out = tmp_path / "run"
    proc = run_cli("train", *FAST, "--rewards", f"format,{flaky}:flaky", "--max-steps", "3", "--report-to", "none",
                   "--output-dir", str(out))
    assert not (out / "tensorboard").exists()  # no tracker, only the run's own files
    assert "reward 'flaky' raised RuntimeError: lookup table unavailable" in proc.stderr
    assert proc.stderr.count("reward 'flaky' raised") == 1  # warned once, with its traceback
    assert "Traceback" in proc.stderr
    metrics = [m for m in read_jsonl(out / "metrics.jsonl") if "rewards/flaky/failed" in m]
    assert [m["rewards/flaky/failed"] for m in metrics] == [0.0, 1.0, 0.0]
    # the batch it failed on scored nothing: absent from that step, not logged as None
    assert [m.get("rewards/flaky/mean") for m in metrics] == [0.5, None, 0.5]
    assert all("rewards/flaky/mean" in m or m["rewards/flaky/failed"] == 1.0 for m in metrics)
    end = [e for e in read_jsonl(out / "events.jsonl") if e["event"] == "end"][0]
    assert end["reward_failures"] == {"flaky": 1}


def test_strict_rewards_stop_the_run_and_record_why(tmp_path):
    boom = tmp_path / "boom.py"
    boom.write_text("def boom(prompts, completions, **kwargs):\n    raise ValueError('bad rule file')\n")
    out = tmp_path / "run"
    proc = run_cli("train", *FAST, "--rewards", f"format,{boom}:boom", "--strict-rewards", "--max-steps", "2",
                   "--output-dir", str(out), check=False)
    assert proc.returncode != 0 and "bad rule file" in proc.stderr
    failed = [e for e in read_jsonl(out / "events.jsonl") if e["event"] == "failed"]
    assert failed and "ValueError: bad rule file" in failed[0]["error"]
    assert not (out / "final").exists()


def test_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "medr1_core.cli", "train", *FAST, "--max-steps", "40", "--save-steps", "2",
           "--output-dir", str(out)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while not (out / "checkpoint-4" / "trainer_state.json").is_file():
            assert proc.poll() is None, "training ended before it could be killed"
            assert time.time() < deadline, "no checkpoint-4 within 240 s"
            time.sleep(0.2)
        time.sleep(0.5)  # let it get part-way into the next steps
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = read_jsonl(out / "metrics.jsonl")
    kept = (out / "report.html").read_text()  # written at each checkpoint: current when the run was killed
    assert "running" in kept and "Sampled completions" in kept
    steps_before = [m["step"] for m in before if "reward" in m]
    assert steps_before and max(steps_before) >= 4 and max(steps_before) < 40
    checkpoints = sorted(int(p.name.split("-")[1]) for p in out.glob("checkpoint-*"))
    last = checkpoints[-1]

    resumed = run_cli("train", "--output-dir", str(out), "--resume", "--max-steps", str(last + 2))
    assert f"run finished after {last + 2} steps" in resumed.stderr
    after = read_jsonl(out / "metrics.jsonl")
    assert after[: len(before)] == before  # nothing written before is lost
    new_steps = [m["step"] for m in after[len(before) :] if "reward" in m]
    assert new_steps == [last + 1, last + 2]  # the step count continues
    state = json.loads((out / f"checkpoint-{last + 2}" / "trainer_state.json").read_text())
    assert state["global_step"] == last + 2
    events = [e["event"] for e in read_jsonl(out / "events.jsonl")]
    assert events[0] == "start" and "resume" in events and events[-1] == "end"


def test_two_processes_train_data_parallel_with_gloo(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "medr1_core.cli", "train",
         *FAST, "--max-steps", "2", "--output-dir", str(out)],
        cwd=REPO, capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = [m for m in read_jsonl(out / "metrics.jsonl") if "reward" in m]
    assert [m["step"] for m in metrics] == [1, 2]  # rank 0 alone writes
    # two processes x 8 completions per device = 4 questions a step out of 800
    assert metrics[-1]["epoch"] == pytest.approx(2 * 4 / 800)


def test_tiny_qwen_without_torchvision_says_what_to_install(tmp_path, monkeypatch):
    """As on a machine without torchvision (hidden from this process): one line saying what to install."""
    from click.testing import CliRunner

    from medr1_core.cli import cli
    from medr1_core.train.config import load_train_config

    load_train_config()  # TRL's GRPOConfig, imported while torchvision is still there
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setenv("MEDR1_CACHE", str(tmp_path / "cache"))
    result = CliRunner().invoke(cli, ["train", "--model", "tiny-qwen2-vl", "--data", "sample", "--max-steps", "1",
                                      "--output-dir", str(tmp_path / "r")])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "Qwen2-VL's processor needs torchvision, which is not installed: pip install torchvision" in result.output
