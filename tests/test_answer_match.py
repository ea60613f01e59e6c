"""Closed and open questions scored as the medical VQA benchmarks score them (the accuracy reward's
``open_metric``), with OmniMedVQA's behaviour unchanged by default."""

from __future__ import annotations

import pytest

from medr1_core import Sample
from medr1_core.parsing import make_rollouts
from medr1_core.plugins import get_plugins
from medr1_plugins.rewards.answer_match import closed_match, contains_match, token_f1, token_recall, tokens


def score(sample: Sample, answer: str, **params) -> float | None:
    reward = get_plugins().rewards.get("accuracy")(params)
    rollout = make_rollouts([sample], [f"<think>t</think><answer>{answer}</answer>"], "think")
    return reward.score(rollout)[0]


def open_q(answer: str, **extras) -> Sample:
    return Sample(id="q", question="Where?", answer=answer, extras={"answer_type": "open", **extras})


def closed_q(answer: str, **extras) -> Sample:
    return Sample(id="q", question="Is it?", answer=answer, extras={"answer_type": "closed", **extras})


@pytest.mark.parametrize("answer, reference, expected", [
    ("Yes, there is an infarct", "yes", True), ("no", "Yes", False), ("No.", "no", True),
    ("是的", "是", True), ("否", "是", False), ("不是", "否", True),
    ("right lung", "Right Lung", True), ("the right lung", "right lung", True), ("right", "right lung", False),
])
def test_closed_questions_compare_yes_no_or_the_exact_choice(answer, reference, expected):
    assert closed_match(answer, reference) is expected
    assert score(closed_q(reference), answer) == float(expected)


def test_open_metrics_score_as_the_benchmarks_do():
    ref, answer = "right lower lobe", "the right lobe"
    assert token_recall(answer, ref) == pytest.approx(2 / 3)  # LLaVA-Med's open accuracy
    assert token_f1(answer, ref) == pytest.approx(0.8)
    assert score(open_q(ref), answer, open_metric="recall") == pytest.approx(2 / 3)
    assert score(open_q(ref), answer, open_metric="f1") == pytest.approx(0.8)
    assert score(open_q(ref), answer, open_metric="exact") == 0.0
    assert score(open_q(ref), "Right lower lobe.", open_metric="exact") == 1.0
    assert score(open_q(ref), "consolidation in the right lower lobe", open_metric="contains") == 1.0
    assert contains_match("about 24 cells", "24") and not contains_match("240 cells", "24")
    assert tokens("左肺 lung") == ["左", "肺", "lung"]  # CJK characters are tokens


def test_auto_uses_the_metric_the_format_declares_and_fuzzy_otherwise():
    ref, answer = "right lower lobe", "the right lobe"
    assert score(open_q(ref, open_metric="recall"), answer) == pytest.approx(2 / 3)
    assert score(open_q(ref), answer) == 0.0  # fuzzy: not 90-similar
    assert score(open_q(ref), "right lower lobes") == 1.0  # fuzzy accepts a near miss
    # an explicit metric overrides what the format declares
    assert score(open_q(ref, open_metric="recall"), answer, open_metric="exact") == 0.0


def test_several_references_the_best_counts():
    sample = open_q("24", answers=["24", "twenty four cells"], open_metric="contains")
    assert score(sample, "there are 24") == 1.0
    assert score(sample, "twenty four cells counted") == 1.0
    assert score(sample, "12") == 0.0


def test_choice_questions_are_unchanged():
    sample = Sample(id="c", question="Which?", answer="B", options={"A": "CT", "B": "MRI"})
    assert sample.answer_type == "closed"
    assert score(sample, "B") == 1.0 and score(sample, "MRI") == 1.0 and score(sample, "A or B") == 0.0
    assert Sample(id="o", question="?", answer="x").answer_type == "open"
