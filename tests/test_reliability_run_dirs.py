"""Reliability, classes 3, 4 and 5: run directories.

3. medr1 writes only into its own run folders: a folder that holds the user's
   files (and is not a medr1 run) is refused; ``eval --overwrite`` deletes only
   what medr1 wrote.
4. A run directory (training or evaluation) is locked while in use: a second
   medr1 gets a clear message instead of interleaving with the first.
5. A kill at any moment, even in the middle of a checkpoint save, leaves a run
   that ``--resume`` continues from its last complete checkpoint; ``--resume``
   of a finished run says so and changes nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from medr1_core.cli import main

from helpers import REPO, run_cli

FAST = ("--model", "tiny", "--data", "sample", "--set", "grpo.max_completion_length=16")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- 3: ownership


def test_train_refuses_a_folder_of_the_users_files(tmp_path, capsys):
    mine = tmp_path / "my-project"
    mine.mkdir()
    (mine / "README.md").write_text("my notes\n")
    before = snapshot(mine)
    code = main(["train", *FAST, "--max-steps", "1", "--output-dir", str(mine)])
    err = capsys.readouterr().err
    assert code == 2 and "is not a medr1 run" in err and "README.md" in err, err
    assert snapshot(mine) == before


def test_train_into_an_empty_folder_is_fine_and_marks_it(tmp_path):
    from medr1_core.train import run_dir as rd

    empty = tmp_path / "new"
    empty.mkdir()
    rd.claim_run_dir(empty, "train")
    assert rd.run_kind(empty) == "train"


def _scripted_eval(model_dir, out, **kwargs):
    from medr1_core.data import load_samples
    from medr1_core.eval.run import evaluate

    class Echo:
        def generate(self, conversations, images):
            return ["<answer>A</answer>"] * len(conversations)

    return evaluate(str(model_dir), "sample", out, samples=load_samples("sample").samples[:4], generator=Echo(),
                    progress=False, **kwargs)


@pytest.fixture
def model_dir(tmp_path):
    path = tmp_path / "model"
    path.mkdir()
    (path / "config.json").write_text("{}")
    return path


def test_eval_overwrite_never_deletes_the_users_files(tmp_path, model_dir):
    from medr1_core.errors import RunDirError

    mine = tmp_path / "results"
    mine.mkdir()
    (mine / "results.md").write_text("# my own results\n")
    for overwrite in (False, True):
        with pytest.raises(RunDirError, match="not a medr1 evaluation"):
            _scripted_eval(model_dir, mine, overwrite=overwrite)
    assert (mine / "results.md").read_text() == "# my own results\n"

    out = tmp_path / "eval"
    _scripted_eval(model_dir, out)
    (out / "notes.txt").write_text("kept\n")
    _scripted_eval(model_dir, out, overwrite=True)
    assert (out / "notes.txt").read_text() == "kept\n" and (out / "results.md").is_file()


# --------------------------------------------------------------------------- 4: locking


def test_an_evaluation_in_progress_locks_its_directory(tmp_path, model_dir):
    from medr1_core.data import load_samples
    from medr1_core.errors import RunDirError
    from medr1_core.eval.run import evaluate

    out = tmp_path / "eval"
    seen = {}

    class Interloper:
        """While the first evaluation generates, a second one starts on the same directory."""

        def generate(self, conversations, images):
            if not seen:
                try:
                    _scripted_eval(model_dir, out)
                except RunDirError as exc:
                    seen["error"] = str(exc)
                else:
                    seen["error"] = None
            return ["<answer>A</answer>"] * len(conversations)

    evaluate(str(model_dir), "sample", out, samples=load_samples("sample").samples[:4], generator=Interloper(),
             progress=False)
    assert seen["error"] and "in use by another medr1" in seen["error"] and str(os.getpid()) in seen["error"]
    assert len(read_jsonl(out / "predictions.jsonl")) == 4  # nothing interleaved
    _scripted_eval(model_dir, out)  # released when it finished


@pytest.mark.slow
def test_a_second_training_into_a_run_in_progress_is_refused(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "medr1_core.cli", "train", *FAST, "--max-steps", "200", "--output-dir", str(out)]
    first = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while not (out / "events.jsonl").is_file():
            assert first.poll() is None and time.time() < deadline
            time.sleep(0.2)
        for extra in ((), ("--resume",)):
            second = run_cli("train", *FAST, "--max-steps", "1", "--output-dir", str(out), *extra, check=False)
            assert second.returncode == 2, second.stderr
            assert "in use by another medr1 process" in second.stderr and f"pid {first.pid}" in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()


# --------------------------------------------------------------------------- 5: kill during a save

KILLABLE = """
import pathlib, sys, time
import transformers.trainer as trainer

save_rng = trainer.Trainer._save_rng_state

def slow_save(self, output_dir, *args, **kwargs):
    if pathlib.Path(output_dir).name == "checkpoint-4":  # model and optimizer written, trainer state not yet
        pathlib.Path(sys.argv[1]).write_text("saving")
        time.sleep(600)
    return save_rng(self, output_dir, *args, **kwargs)

trainer.Trainer._save_rng_state = slow_save
from medr1_core.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_a_kill_during_a_checkpoint_save_resumes_from_the_last_complete_one(tmp_path):
    out = tmp_path / "run"
    flag = tmp_path / "saving"
    script = tmp_path / "killable.py"
    script.write_text(textwrap.dedent(KILLABLE))
    args = ["train", *FAST, "--max-steps", "6", "--save-steps", "2", "--output-dir", str(out)]
    proc = subprocess.Popen([sys.executable, str(script), str(flag), *args], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while not flag.exists():
            assert proc.poll() is None, "training ended before the save"
            assert time.time() < deadline, "no save of checkpoint-4 within 300 s"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert (out / "checkpoint-4").is_dir() and not (out / "checkpoint-4" / "trainer_state.json").exists()
    before = read_jsonl(out / "metrics.jsonl")

    resumed = run_cli("train", "--output-dir", str(out), "--resume", check=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "checkpoint-2" in resumed.stderr and "checkpoint-4" in resumed.stderr  # says what it did
    assert "run finished after 6 steps" in resumed.stderr
    after = read_jsonl(out / "metrics.jsonl")
    assert after[: len(before)] == before
    assert [m["step"] for m in after[len(before):] if "reward" in m] == [3, 4, 5, 6]
    state = json.loads((out / "checkpoint-6" / "trainer_state.json").read_text())
    assert state["global_step"] == 6 and (out / "final" / "config.json").is_file()

    finished = snapshot(out)
    again = run_cli("train", "--output-dir", str(out), "--resume", check=False)
    assert again.returncode == 2 and "already finished" in again.stderr and "Traceback" not in again.stderr
    assert snapshot(out) == finished  # changed nothing
