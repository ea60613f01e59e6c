"""Prompt sets: medr1's own wording (the default) and Med-R1's published prompts, in training and evaluation;
SFT targets in each variant's format."""

from __future__ import annotations

import json

import pytest

from medr1_core import Sample
from medr1_core.errors import ConfigError
from medr1_core.parsing import parse_completion
from medr1_core.prompts import MED_R1_PROMPTS, build_prompt, inline_question
from medr1_core.train.sft import sft_target

CHOICE = Sample(id="q1", question="What modality is used to capture this image?", answer="B",
                options={"A": "Endoscopy imaging", "B": "Dermoscopic imaging", "C": "Ultrasound imaging"},
                images=("x.png",), modality="dermoscopy", task="modality_recognition")
OPEN = Sample(id="q2", question="Which organ is shown?", answer="lung", images=("x.png",))

# Med-R1's strings as its repository has them (src/r1-v/src/open_r1/grpo_vqa.py and
# src/eval_vqa/test_qwen2vl_vqa.py, QUESTION_TEMPLATE), typed in here again from the source files.
PUBLISHED_TRAIN_THINK = (
    "{Question} Your task: 1. Think through the question step by step, enclose your reasoning process in "
    "<think>...</think> tags. 2. Then provide the correct single-letter choice (A, B, C, D,...) inside "
    "<answer>...</answer> tags. 3. No extra information or text outside of these tags."
)
PUBLISHED_EVAL_THINK = (
    "{Question} Think through the question step by step in <think>...</think> tags. Then provide the correct "
    "single-letter choice (A, B, C, D,...) inside <answer>...</answer> tags."
)


def test_med_r1_prompts_are_the_published_strings_with_the_options_inline():
    problem = ("What modality is used to capture this image? A)Endoscopy imaging, B)Dermoscopic imaging, "
               "C)Ultrasound imaging")  # as Med-R1's split files write a question
    assert inline_question(CHOICE) == problem
    assert build_prompt(CHOICE, None, "think", prompt_set="med-r1") == PUBLISHED_TRAIN_THINK.format(Question=problem)
    assert build_prompt(CHOICE, None, "think", prompt_set="med-r1", stage="eval") == \
        PUBLISHED_EVAL_THINK.format(Question=problem)
    assert MED_R1_PROMPTS["train"]["nothink"].endswith("2. No extra information or text outside of this tag.")
    # medr1's own set is the default, and it is not Med-R1's wording
    own = build_prompt(CHOICE, None, "think")
    assert own == build_prompt(CHOICE, None, "think", prompt_set="medr1", stage="eval")
    assert "B) Dermoscopic imaging" in own and "Your task" not in own


def test_med_r1_set_refuses_what_it_has_no_prompt_for():
    with pytest.raises(ConfigError, match="no 'think_after' prompt"):
        build_prompt(CHOICE, None, "think_after", prompt_set="med-r1")
    with pytest.raises(ConfigError, match="no prompt for open questions"):
        build_prompt(OPEN, None, "think", prompt_set="med-r1")
    with pytest.raises(ConfigError, match="unknown prompt set 'medr2'"):
        build_prompt(CHOICE, None, "think", prompt_set="medr2")


@pytest.mark.parametrize("variant", ["think", "nothink", "think_after"])
@pytest.mark.parametrize("prompt_set", ["medr1", "med-r1"])
def test_sft_targets_are_well_formed_answers_in_the_variant(variant, prompt_set):
    parsed = parse_completion(sft_target(CHOICE, variant, prompt_set), options=CHOICE.options, variant=variant)
    assert parsed.well_formed and parsed.letters == ("B",)
    assert (parsed.think is not None) == (variant != "nothink")


def test_sft_target_uses_the_samples_own_reasoning_when_it_has_one():
    sample = Sample(id="q", question="Q?", answer="A", options={"A": "x", "B": "y"},
                    extras={"thinking": "The lesion is round."})
    assert sft_target(sample, "think") == "<think>The lesion is round.</think>\n<answer>A</answer>"


def test_training_rows_and_evaluation_use_the_sets_training_and_evaluation_prompts(tmp_path):
    from medr1_core.data import load_samples, training_dataset
    from medr1_core.eval.run import evaluate
    from medr1_core.data import Selection

    samples = load_samples("sample").samples[:4]
    rows = training_dataset(samples, prompt_set="med-r1", variant="nothink", completions=["<answer>A</answer>"] * 4)
    text = rows[0]["prompt"][0]["content"][-1]["text"]
    assert text == MED_R1_PROMPTS["train"]["nothink"].format(question=inline_question(samples[0]))
    assert rows[0]["completion"] == [{"role": "assistant", "content": "<answer>A</answer>"}]

    asked = []

    class Echo:
        def generate(self, conversations, images):
            asked.extend(c[0]["content"][-1]["text"] for c in conversations)
            return ["<answer>A</answer>"] * len(conversations)

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    out = tmp_path / "eval"
    report = evaluate(str(model), "sample", out, variant="nothink", prompt_set="med-r1", generator=Echo(),
                      progress=False, selection=Selection(limit=3))
    assert len(asked) == 3 and all(t.endswith("inside <answer>...</answer> tags.") and "Your task" not in t
                                   for t in asked)
    assert report.results["prompt_set"] == "med-r1"
    assert json.loads((out / "eval_config.json").read_text())["prompt_set"] == "med-r1"
    # the same questions asked in other words are other predictions: not mixed into this folder
    from medr1_core.eval.run import EvalError

    with pytest.raises(EvalError, match="prompt_set 'med-r1' there, 'medr1' now"):
        evaluate(str(model), "sample", out, variant="nothink", prompt_set="medr1", generator=Echo(), progress=False,
                 selection=Selection(limit=3))
    evaluate(str(model), "sample", tmp_path / "own", variant="nothink", generator=Echo(), progress=False,
             selection=Selection(limit=3))
    assert "Output only the final answer" in asked[-1]


def test_a_run_asking_med_r1_for_a_prompt_it_never_published_fails_before_anything_loads():
    from medr1_core.train.config import load_train_config
    from medr1_core.train.sft_config import load_sft_config

    for load in (load_train_config, load_sft_config):
        with pytest.raises(ConfigError, match="prompt set med-r1 has no 'think_after' prompt"):
            load(overrides={"prompt_set": "med-r1", "variant": "think_after"})
        assert load(overrides={"prompt_set": "med-r1", "variant": "nothink"}).prompt_set == "med-r1"
