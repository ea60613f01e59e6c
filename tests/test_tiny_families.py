"""The tiny Qwen3-VL, SmolVLM, Gemma 3 and LLaVA-OneVision: real classes, built offline; each trains and evaluates.

Every VLM family TRL's GRPO supports and transformers here builds has a ``--model tiny-<family>``.
All four build and work here; were one not to, its test would say why.
"""

from __future__ import annotations

import json

import pytest

from medr1_core.cli import main
from medr1_core.offline import tiny_families as tf

ARCHITECTURES = {
    "qwen3-vl": ("Qwen3VLForConditionalGeneration", "Qwen3VLProcessor"),
    "smolvlm": ("SmolVLMForConditionalGeneration", "SmolVLMProcessor"),
    "gemma3": ("Gemma3ForConditionalGeneration", "Gemma3Processor"),
    "llava-onevision": ("LlavaOnevisionForConditionalGeneration", "LlavaOnevisionProcessor"),
}
SPREAD_REWARD = "def spread(completions, **kwargs):\n    return [float(len(str(c)) % 5) for c in completions]\n"


def test_every_family_has_a_tiny_model_name():
    from medr1_core.train.models import tiny_model_names

    assert set(tf.TINY_FAMILIES) == set(ARCHITECTURES)
    assert {f"tiny-{f}" for f in ARCHITECTURES} <= set(tiny_model_names())


@pytest.mark.parametrize("family", list(ARCHITECTURES))
def test_builds_with_the_real_classes_deterministically(family, tmp_path):
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    path = tf.build_tiny_family(family, tmp_path / "a")
    model, processor = AutoModelForImageTextToText.from_pretrained(path), AutoProcessor.from_pretrained(path)
    assert (type(model).__name__, type(processor).__name__) == ARCHITECTURES[family]
    assert sum(p.numel() for p in model.parameters()) < 400_000
    again = AutoModelForImageTextToText.from_pretrained(tf.build_tiny_family(family, tmp_path / "b"))
    assert all(torch.equal(p, q) for p, q in zip(model.state_dict().values(), again.state_dict().values()))
    assert tf.build_tiny_family(family, path) == path  # a complete build is reused
    tokens = processor.tokenizer.convert_tokens_to_ids(["<think>", "<answer>"])
    assert all(isinstance(t, int) and t >= 0 for t in tokens)


@pytest.mark.slow
@pytest.mark.parametrize("family", list(ARCHITECTURES))
def test_trains_a_step_and_evaluates(family, tmp_path, monkeypatch):
    """``medr1 train --model tiny-<family>`` moves the weights; ``medr1 eval`` on the run answers every question."""
    import torch
    from transformers import AutoModelForImageTextToText

    monkeypatch.setenv("MEDR1_CACHE", str(tmp_path / "cache"))
    reward = tmp_path / "spread.py"
    reward.write_text(SPREAD_REWARD)
    run = tmp_path / "run"
    code = main(["train", "--model", f"tiny-{family}", "--data", "sample", "--max-steps", "1", "--output-dir", str(run),
                 "--rewards", f"{reward}:spread", "--report-to", "none", "--num-generations", "2",
                 "--set", "grpo.per_device_train_batch_size=4", "--set", "grpo.max_completion_length=8"])
    assert code == 0
    before = AutoModelForImageTextToText.from_pretrained(tf.default_tiny_family_dir(family)).state_dict()
    after = AutoModelForImageTextToText.from_pretrained(run / "final").state_dict()
    assert type(AutoModelForImageTextToText.from_pretrained(run / "final")).__name__ == ARCHITECTURES[family][0]
    assert any(not torch.equal(before[k], after[k]) for k in before)

    out = tmp_path / "eval"
    code = main(["eval", "--model", str(run), "--data", "sample", "--limit", "3", "--max-new-tokens", "6",
                 "--device", "cpu", "--quiet", "--output-dir", str(out)])
    assert code == 0
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(predictions) == 3 and all(isinstance(p["completion"], str) for p in predictions)
