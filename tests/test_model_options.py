"""How `medr1 train` loads the model: fp32 master weights, the `model:` options, training arguments first."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from helpers import REPO
from medr1_core.cli import main
from medr1_core.errors import ConfigError
from medr1_core.train.config import TrainConfig, load_train_config

SPREAD_REWARD = "def spread(completions, **kwargs):\n    return [float(len(str(c)) % 5) for c in completions]\n"


def small_run(tmp_path, model, name="run", **overrides):
    """Overrides for a one-step run whose rewards differ within each group (so the policy gets a gradient)."""
    reward = tmp_path / "spread.py"
    reward.write_text(SPREAD_REWARD)
    return {"model": str(model), "data": "sample", "grpo.max_steps": 1, "grpo.num_generations": 4,
            "grpo.per_device_train_batch_size": 8, "grpo.max_completion_length": 8, "report_to": "none",
            "output_dir": str(tmp_path / name), "rewards": f"{reward}:spread", **overrides}


@pytest.fixture(scope="module")
def bf16_tiny(tmp_path_factory):
    """A bf16 copy of the tiny model: transformers >= 5 would load it in bf16."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from medr1_core.offline.tiny import build_tiny_vlm

    source, path = build_tiny_vlm(), tmp_path_factory.mktemp("bf16") / "tiny-bf16"
    AutoModelForImageTextToText.from_pretrained(source).to(torch.bfloat16).save_pretrained(path)
    AutoProcessor.from_pretrained(source).save_pretrained(path)
    assert json.loads((path / "config.json").read_text())["dtype"] == "bfloat16"
    assert AutoModelForImageTextToText.from_pretrained(path).dtype == torch.bfloat16
    return path


def train_one_step(config):
    """Prepare the run, train one step; the dtypes of policy and reference model and the share of weights changed."""
    from medr1_core.train.engine import prepare_run

    run = prepare_run(config)
    model = run.trainer.model
    dtypes = {p.dtype for p in model.parameters()}
    ref_dtypes = {p.dtype for p in run.trainer.ref_model.parameters()} if run.trainer.ref_model is not None else None
    before = {n: p.detach().float().clone() for n, p in model.named_parameters()}
    run.trainer.train()
    changed = total = 0
    for n, p in model.named_parameters():
        diff = p.detach().float() != before[n]
        changed, total = changed + int(diff.sum()), total + diff.numel()
    return dtypes, ref_dtypes, changed / total


@pytest.mark.slow
def test_a_bf16_checkpoint_trains_with_fp32_master_weights(bf16_tiny, tmp_path):
    """One AdamW step at Med-R1's learning rate: in fp32 nearly every weight moves; asking for
    bf16 weights (pure bf16 training) loses most updates to rounding."""
    import torch

    settings = {"grpo.learning_rate": 1e-6, "grpo.beta": 0.04}
    dtypes, ref_dtypes, changed = train_one_step(load_train_config(overrides=small_run(tmp_path, bf16_tiny, **settings)))
    assert dtypes == {torch.float32} and ref_dtypes == {torch.float32}
    assert changed > 0.9, changed

    pure = small_run(tmp_path, bf16_tiny, "pure-bf16", **settings, **{"model.dtype": "bfloat16"})
    dtypes, ref_dtypes, changed_bf16 = train_one_step(load_train_config(overrides=pure))
    assert dtypes == {torch.bfloat16} and ref_dtypes == {torch.bfloat16}  # what the user asked for
    assert changed_bf16 < 0.1 < changed, (changed_bf16, changed)


def test_model_is_a_name_or_a_mapping_of_options():
    assert TrainConfig(model="tiny").model.name == "tiny"
    config = load_train_config(data={"model": {"name": "Qwen/Qwen2-VL-2B-Instruct", "max_pixels": 401408,
                                               "attn_implementation": "sdpa", "dtype": "bfloat16"}})
    assert config.model.max_pixels == 401408 and config.model.attn_implementation == "sdpa"
    dumped = config.model_dump(mode="json")["model"]
    assert dumped == {"name": "Qwen/Qwen2-VL-2B-Instruct", "dtype": "bfloat16", "attn_implementation": "sdpa",
                      "max_pixels": 401408}
    assert load_train_config(data=yaml.safe_load(yaml.safe_dump(config.model_dump(mode="json")))) == config
    assert TrainConfig().model_dump(mode="json")["model"] == "Qwen/Qwen2-VL-2B-Instruct"  # a plain name stays one


def test_command_line_model_keeps_the_files_options_and_set_reaches_them():
    base = {"model": {"name": "Qwen/Qwen2-VL-2B-Instruct", "max_pixels": 401408}}
    config = load_train_config(overrides={"model": "Qwen/Qwen2.5-VL-3B-Instruct", "model.revision": "v1"}, data=base)
    assert (config.model.name, config.model.max_pixels, config.model.revision) == ("Qwen/Qwen2.5-VL-3B-Instruct",
                                                                                   401408, "v1")
    config = load_train_config(overrides={"model.min_pixels": 3136}, data={"model": "tiny-qwen2-vl"})
    assert config.model.name == "tiny-qwen2-vl" and config.model.min_pixels == 3136
    assert config.grpo.max_completion_length == 48  # the tiny preset still applies


@pytest.mark.parametrize("model, message", [
    ({"name": "x/y", "dtype": "fp8"}, "model.dtype: Input should be 'auto', 'float32', 'bfloat16' or 'float16'"),
    ({"name": "x/y", "attn_implementation": "flash"}, "model.attn_implementation: Input should be 'eager', 'sdpa'"),
    ({"name": "x/y", "min_pixels": 5000, "max_pixels": 4000}, "min_pixels (5000) is above max_pixels (4000)"),
    ({"name": "x/y", "max_pixels": 0}, "model.max_pixels: Input should be greater than or equal to 1"),
    ({"name": "x/y", "pixels": 3}, "model.pixels: unknown field"),
    ({"name": "x/y", "trust_remote_code": "maybe"}, "model.trust_remote_code"),
    ({"name": ""}, "model.name"),
])
def test_bad_model_options_are_named(model, message):
    with pytest.raises(ConfigError) as info:
        load_train_config(data={"model": model})
    assert message in str(info.value)


def test_grpo_cannot_set_what_model_sets():
    with pytest.raises(ConfigError, match=r"grpo.model_init_kwargs: set by medr1 from model:"):
        load_train_config(overrides={"grpo.model_init_kwargs": {"dtype": "bfloat16"}})


def test_options_reach_trls_loading_of_policy_and_reference_model(tmp_path):
    from medr1_core.train.engine import grpo_args

    config = load_train_config(data={"model": {"name": "x/y", "attn_implementation": "sdpa", "revision": "abc123",
                                               "trust_remote_code": True}})
    args = grpo_args(config, tmp_path / "run", [1.0])
    assert args.model_init_kwargs == {"dtype": "float32", "attn_implementation": "sdpa", "revision": "abc123",
                                      "trust_remote_code": True}
    assert args.trust_remote_code is True
    bf16 = load_train_config(data={"model": {"name": "x/y", "dtype": "bfloat16"}})
    assert grpo_args(bf16, tmp_path / "run", [1.0]).model_init_kwargs == {"dtype": "bfloat16"}


@pytest.mark.slow
def test_attn_implementation_is_what_policy_and_reference_use(tmp_path):
    from medr1_core.train.engine import prepare_run

    config = load_train_config(overrides=small_run(tmp_path, "tiny", **{"model.attn_implementation": "eager",
                                                                         "grpo.beta": 0.04}))
    run = prepare_run(config)
    assert run.trainer.model.config._attn_implementation == "eager"
    assert run.trainer.ref_model.config._attn_implementation == "eager"
    sdpa = prepare_run(load_train_config(overrides=small_run(tmp_path, "tiny", "sdpa", **{"grpo.beta": 0.04})))
    assert sdpa.trainer.model.config._attn_implementation == "sdpa"  # transformers' own choice when unset


def test_pixel_limits_go_to_the_qwen_processor():
    from PIL import Image

    from medr1_core.offline.tiny_qwen import build_tiny_qwen2vl
    from medr1_core.train.config import ModelSettings
    from medr1_core.train.models import load_processor

    source = str(build_tiny_qwen2vl())
    image = Image.new("RGB", (224, 224))
    default = load_processor(source)
    few = load_processor(source, ModelSettings(name=source, min_pixels=56 * 56, max_pixels=56 * 56))
    size = few.image_processor.size
    assert (size.shortest_edge, size.longest_edge) == (3136, 3136)

    def patches(processor):
        return int(processor.image_processor(images=[image], return_tensors="pt")["image_grid_thw"].prod())

    assert patches(few) == 16 < patches(default)  # 56x56 pixels: 4x4 patches of 14


def test_pixel_limits_on_a_processor_without_them_are_refused(capsys, tmp_path):
    code = main(["train", "--model", "tiny", "--data", "sample", "--set", "model.max_pixels=401408",
                 "--output-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "medr1: error: model.max_pixels: applies to Qwen-VL-family processors" in err
    assert "CLIPImageProcessor" in err and "Traceback" not in err


def test_flash_attention_without_flash_attn_says_what_to_install(capsys, tmp_path, monkeypatch):
    from transformers.utils import is_flash_attn_2_available

    if is_flash_attn_2_available():
        pytest.skip("flash-attn is installed here")
    import medr1_core.train.models as models

    monkeypatch.setattr(models, "load_processor", lambda *a, **k: pytest.fail("loaded before the check"))
    code = main(["train", "--model", "tiny", "--data", "sample", "--set", "model.attn_implementation=flash_attention_2",
                 "--output-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "model.attn_implementation flash_attention_2: needs the flash-attn package" in err


_ZERO3_PROBE = r"""
import sys
import trl.trainer.grpo_trainer as grpo_trainer
from transformers.integrations import is_deepspeed_zero3_enabled
from medr1_core.train.config import load_train_config
from medr1_core.train.engine import prepare_run

class Loaded(Exception):
    pass

def record(model_id, *args, **kwargs):
    print("zero3 at model load:", is_deepspeed_zero3_enabled(), "dtype:", kwargs.get("dtype"))
    raise Loaded

grpo_trainer.create_model_from_path = record
try:
    prepare_run(load_train_config(overrides={"model": "tiny", "output_dir": sys.argv[1], "report_to": "none"}))
except Loaded:
    pass
"""


@pytest.mark.slow
def test_zero3_init_applies_when_the_policy_loads(tmp_path):
    """accelerate's DeepSpeed ZeRO-3 settings (what `accelerate launch --config_file deepspeed_zero3.yaml` exports)
    are in force when TRL loads the policy: the training arguments exist before the model does."""
    pytest.importorskip("deepspeed", reason="DeepSpeed (the dev extra installs it) turns ZeRO-3 init on")
    env = {**os.environ, "ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "3",
           "ACCELERATE_DEEPSPEED_ZERO3_INIT": "true", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", _ZERO3_PROBE, str(tmp_path / "run")], env=env, capture_output=True,
                          text=True, timeout=300)
    assert "zero3 at model load: True dtype: float32" in proc.stdout, proc.stderr[-3000:]
    env.pop("ACCELERATE_USE_DEEPSPEED")
    proc = subprocess.run([sys.executable, "-c", _ZERO3_PROBE, str(tmp_path / "run2")], env=env, capture_output=True,
                          text=True, timeout=300)
    assert "zero3 at model load: False" in proc.stdout, proc.stderr[-3000:]  # the probe can tell the difference


def test_eval_takes_the_model_options(tmp_path, capsys, monkeypatch):
    from medr1_core.train import models

    seen = []
    real = models.load_processor
    monkeypatch.setattr(models, "load_processor", lambda source, options=None: seen.append(options) or real(source, options))
    code = main(["eval", "--model", "tiny-qwen2-vl", "--data", "sample", "--limit", "2", "--max-new-tokens", "2",
                 "--device", "cpu", "--quiet", "--max-pixels", "3136", "--attn-implementation", "eager",
                 "--output-dir", str(tmp_path / "e")])
    assert code == 0, capsys.readouterr().err[-2000:]
    assert [(o.max_pixels, o.attn_implementation) for o in seen] == [(3136, "eager")]
    code = main(["eval", "--model", "tiny", "--data", "sample", "--device", "cpu", "--max-pixels", "3136",
                 "--output-dir", str(tmp_path / "e2")])
    assert code == 2 and "model.max_pixels: applies to Qwen-VL-family processors" in capsys.readouterr().err


def test_vllm_mode_defaults_to_trls():
    import dataclasses

    from trl import GRPOConfig

    trl_default = {f.name: f.default for f in dataclasses.fields(GRPOConfig)}["vllm_mode"]
    assert load_train_config().grpo.vllm_mode == trl_default == "colocate"


def test_eval_does_not_mix_predictions_made_with_other_model_options(tmp_path, capsys):
    args = ["eval", "--model", "tiny-qwen2-vl", "--data", "sample", "--limit", "2", "--max-new-tokens", "2",
            "--device", "cpu", "--quiet", "--output-dir", str(tmp_path / "e")]
    assert main(args) == 0
    capsys.readouterr()
    assert main([*args, "--max-pixels", "3136"]) == 2
    err = capsys.readouterr().err
    assert "holds predictions made with other settings" in err and "model options {} there" in err
