"""Reliability, class 1: no silently wrong results.

Numeric settings are finite and in range; a loss or gradient that stops being
finite ends the run with a clear message and keeps the last good checkpoint;
``medr1 eval`` reuses a saved prediction only if the same weights, question
and decoding settings produced it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys

import pytest
from pydantic import BaseModel

from medr1_core.errors import ConfigError, RunFailed
from medr1_core.rewards import Reward, RewardParamsError, validate_params
from medr1_core.train.config import load_train_config


@pytest.mark.parametrize("key, value", [
    ("grpo.learning_rate", math.inf),
    ("grpo.temperature", math.inf),
    ("grpo.beta", math.nan),
    ("grpo.max_grad_norm", math.inf),
    ("grpo.generation_kwargs", {"temperature": math.inf}),
    ("grpo.generation_kwargs", {"top_k": [1, math.nan]}),
    ("lora", {"dropout": math.nan}),
    ("reward_time_limit", math.inf),
])
def test_numeric_settings_must_be_finite(key, value):
    with pytest.raises(ConfigError, match=key.split(".")[-1]):
        load_train_config(overrides={key: value})


def test_reward_parameters_must_be_finite():
    class Scaled(Reward):
        name = "scaled"

        class Params(BaseModel):
            scale: float = 1.0
            table: dict[str, float] = {}

        def score(self, rollouts):
            return [self.params.scale] * len(rollouts)

    assert validate_params(Scaled, {"scale": 2.0}).scale == 2.0
    with pytest.raises(RewardParamsError, match="reward 'scaled': parameter 'scale'.*finite"):
        validate_params(Scaled, {"scale": math.inf})
    with pytest.raises(RewardParamsError, match="parameter 'table.x'.*finite"):
        validate_params(Scaled, {"table": {"x": math.nan}})


# --------------------------------------------------------------------------- divergence


def _trainer_objects(step: int):
    from transformers import TrainerControl, TrainerState, TrainingArguments

    state = TrainerState()
    state.global_step = step
    return TrainingArguments(output_dir="unused", report_to=[]), state, TrainerControl()


def _complete_checkpoint(run_dir, step):
    path = run_dir / f"checkpoint-{step}"
    path.mkdir()
    (path / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return path


@pytest.mark.parametrize("logs", [{"loss": math.nan, "grad_norm": 1.0}, {"loss": 0.1, "grad_norm": math.inf}])
def test_a_non_finite_loss_or_gradient_stops_training_naming_the_last_good_checkpoint(tmp_path, logs):
    from medr1_core.train.recording import TrainingDiverged, divergence_callback

    _complete_checkpoint(tmp_path, 2)
    callback = divergence_callback(tmp_path)
    args, state, control = _trainer_objects(3)
    callback.on_log(args, state, control, logs={"loss": 0.2, "grad_norm": 0.5})  # finite: nothing happens
    with pytest.raises(TrainingDiverged, match=r"step 3.*not a finite number.*checkpoint-2") as err:
        callback.on_log(args, state, control, logs=logs)
    assert isinstance(err.value, RunFailed)


def test_weights_that_are_not_finite_are_never_checkpointed(tmp_path):
    import torch

    from medr1_core.train.recording import TrainingDiverged, divergence_callback

    model = torch.nn.Linear(2, 2)
    callback = divergence_callback(tmp_path)
    args, state, control = _trainer_objects(4)
    control.should_save = True
    callback.on_step_end(args, state, control, model=model)  # finite weights: the save goes ahead
    with torch.no_grad():
        model.weight[0, 0] = math.nan
    with pytest.raises(TrainingDiverged, match=r"step 4.*weights.*no complete checkpoint"):
        callback.on_step_end(args, state, control, model=model)


@pytest.mark.slow
def test_a_run_whose_loss_blows_up_exits_1_and_keeps_its_last_good_checkpoint(tmp_path):
    from helpers import run_cli

    blowup = tmp_path / "blowup.py"
    blowup.write_text(
        "calls = {'n': 0}\n"
        "def blowup(prompts, completions, **kwargs):\n"
        "    calls['n'] += 1\n"
        "    if calls['n'] < 3:\n"
        "        return [len(str(c)) / 100 for c in completions]\n"
        "    return [3e38 * (i % 2) for i in range(len(completions))]\n"
    )
    out = tmp_path / "run"
    proc = run_cli("train", "--model", "tiny", "--data", "sample", "--rewards", f"{blowup}:blowup",
                   "--set", "grpo.max_completion_length=16", "--set", "grpo.scale_rewards=none",
                   "--max-steps", "5", "--save-steps", "1", "--output-dir", str(out), check=False)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "training diverged at step 3" in proc.stderr and "checkpoint-2" in proc.stderr
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    assert not (out / "final").exists()
    from safetensors.torch import load_file

    weights = load_file(str(out / "checkpoint-2" / "model.safetensors"))
    assert all(bool(t.isfinite().all()) for t in weights.values())
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "failed" and "diverged" in events[-1]["error"]


# --------------------------------------------------------------------------- eval resume


class Echo:
    """Answers every question with the letter it is told to (a scripted model)."""

    def __init__(self, letter="A"):
        self.letter = letter
        self.answered = 0

    def generate(self, conversations, images):
        self.answered += len(conversations)
        return [f"<think>looked</think><answer>{self.letter}</answer>" for _ in conversations]


@pytest.fixture
def model_dir(tmp_path):
    path = tmp_path / "model"
    path.mkdir()
    (path / "config.json").write_text("{}")
    (path / "model.safetensors").write_bytes(b"weights, version 1")
    return path


@pytest.fixture(scope="module")
def questions():
    from medr1_core.data import load_samples

    return load_samples("sample").samples[:12]


def _evaluate(model_dir, out, questions, generator, **kwargs):
    from medr1_core.eval.run import evaluate

    return evaluate(str(model_dir), "sample", out, samples=questions, generator=generator, progress=False, **kwargs)


def test_eval_resume_redoes_everything_when_the_weights_at_the_same_path_change(tmp_path, model_dir, questions):
    out = tmp_path / "eval"
    first = _evaluate(model_dir, out, questions, Echo("A"))
    assert first.generated == 12
    again = _evaluate(model_dir, out, questions, Echo("A"))
    assert again.generated == 0 and again.resumed == 12  # same weights: resumed
    (model_dir / "model.safetensors").write_bytes(b"weights, version 2")
    retrained = Echo("B")
    report = _evaluate(model_dir, out, questions, retrained)
    assert retrained.answered == 12 and report.generated == 12 and report.resumed == 0
    assert all(p["letter"] == "B" for p in report.predictions)
    assert report.results["overall"]["n"] == 12
    assert any("weights" in m for m in report.messages)


def test_eval_resume_redoes_a_question_whose_content_changed_under_the_same_id(tmp_path, model_dir, questions):
    out = tmp_path / "eval"
    _evaluate(model_dir, out, questions, Echo("A"))
    changed = list(questions)
    old = changed[3]
    new_answer = "B" if old.answer != "B" else "A"
    changed[3] = dataclasses.replace(old, answer=new_answer)
    changed[5] = dataclasses.replace(changed[5], options={**changed[5].options, "A": "something else"})
    gen = Echo("A")
    report = _evaluate(model_dir, out, changed, gen)
    assert gen.answered == 2 and report.generated == 2 and report.resumed == 10
    by_id = {p["id"]: p for p in report.predictions}
    assert by_id[old.id]["target"] == new_answer and len(report.predictions) == 12


def test_eval_resume_never_mixes_decoding_settings(tmp_path, model_dir, questions):
    from medr1_core.eval.generation import SamplingSettings
    from medr1_core.eval.run import EvalError

    out = tmp_path / "eval"
    _evaluate(model_dir, out, questions, Echo("A"))
    with pytest.raises(EvalError, match="max_new_tokens"):
        _evaluate(model_dir, out, questions, Echo("A"), sampling=SamplingSettings(max_new_tokens=8))
