"""Tests of the example plugin's reward, run in-process."""

import pytest

from medr1_core import Completion, Rollout, Sample
from medr1_laterality import laterality, sides

SAMPLE = Sample(
    id="q1",
    question="Which side shows the consolidation?",
    answer="A",
    options={"A": "Left lower lobe", "B": "Right lower lobe", "C": "Both lungs"},
)


def rollout(think: str, letter: str) -> Rollout:
    return Rollout(SAMPLE, Completion(text="", think=think, answer=letter, letters=(letter,), well_formed=True))


@pytest.mark.parametrize(
    "think, letter, expected",
    [
        ("Dense opacity in the left lower zone.", "A", 1.0),
        ("Dense opacity in the left lower zone.", "B", 0.0),
        ("Opacity at the right base; the left lung is clear.", "A", 0.0),
        ("Opacity at the right base, no left-sided change.", "B", 1.0),
        ("No focal finding described by side.", "A", None),
        ("Opacity at the left base.", "C", None),
    ],
)
def test_laterality_scores(think, letter, expected):
    assert laterality().score([rollout(think, letter)]) == [expected]


def test_negated_side_is_not_a_mention():
    assert sides("No left-sided effusion; right basal opacity.") == {"right"}


def test_hedged_answer_is_not_applicable():
    c = Completion(text="", think="left lung", answer="A or B", letters=("A", "B"))
    assert laterality().score([Rollout(SAMPLE, c)]) == [None]


def test_registered_and_scored_through_medr1s_test_kit():
    """The same checks a run makes, installed or not (medr1_core.testing)."""
    import medr1_laterality
    from medr1_core import testing

    with testing.use_plugins(medr1_laterality) as plugins:
        assert "laterality" in plugins.rewards
        scores = testing.score("laterality", ["<think>Opacity at the left base.</think><answer>A</answer>",
                                              "<think>Opacity at the left base.</think><answer>B</answer>"],
                               question=SAMPLE.question, options=SAMPLE.options, answer=SAMPLE.answer)
    assert scores == [1.0, 0.0]
