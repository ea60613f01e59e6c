"""The format reward: strict per prompt variant, optional partial credit."""

import pytest

from medr1_core.parsing import CHECKS, make_rollouts
from medr1_core.plugins import get_plugins
from medr1_core.rewards import RewardParamsError
from medr1_core.samples import Sample

SAMPLE = Sample(id="1", question="Which modality?", answer="C", options={"A": "MRI", "B": "X-ray", "C": "CT"})


def score(texts, variant="think", **params):
    reward = get_plugins().rewards.get("format")(params)
    return reward.score(make_rollouts([SAMPLE] * len(texts), texts, variant))


@pytest.mark.parametrize(
    "variant,good,bad",
    [
        ("think", "<think>axial slice</think>\n<answer>C</answer>", "<answer>C</answer><think>axial</think>"),
        ("nothink", "<answer>C</answer>", "<think>axial</think><answer>C</answer>"),
        ("think_after", "<answer>C</answer>\n<think>axial</think>", "<think>axial</think><answer>C</answer>"),
    ],
)
def test_each_variant_is_strict(variant, good, bad):
    assert score([good, bad], variant) == [1.0, 0.0]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "C",
        "<think>x</think><answer>C</answer> done",
        "<think>x</think><answer></answer>",
        "<think>x</think><answer>C</answer><answer>C</answer>",
        "<think>x</think><think>y</think><answer>C</answer>",
        "<think>x<answer>C</answer></think>",
        "<think>x</think><answer>C",
        "<Think>x</Think><Answer>C</Answer>",
        "<think>x</think><answer>C</answer></answer>",
    ],
)
def test_malformed_scores_zero(text):
    assert score([text]) == [0.0]


def test_partial_credit_is_the_fraction_of_checks_passed():
    texts = ["<think>x</think><answer>C</answer>", "<think>x</think> so <answer>C</answer>", "so C", ""]
    n = len(CHECKS["think"])
    assert score(texts, partial=True) == [1.0, 1 - 1 / n, 1 - 5 / n, 1 - 4 / n]
    assert score(texts) == [1.0, 0.0, 0.0, 0.0]


def test_params_are_validated():
    with pytest.raises(RewardParamsError, match="format.*partal"):
        get_plugins().rewards.get("format")({"partal": True})
