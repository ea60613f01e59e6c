"""Property tests: on any unicode text no reward raises, and every score is in range or None."""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medr1_core.parsing import CHECKS, _scan_tags, parse_completion
from medr1_core.plugins import get_plugins
from medr1_core.samples import Rollout, Sample

TAGS = ["<think>", "</think>", "<answer>", "</answer>"]
WORDS = ["A", "B", "C", "E", "a", "(C)", "C)", "or", "no", "not", "consolidation", "opacity", "normal", "abnormal",
         "the answer is", "CT", "MRI", "X-ray", "bilateral", "peripheral", "ground-glass", ",", ".", "\n", " ", "3",
         "microaneurysms", "asymmetric", "yes", "Yes", "No, It's normal"]

text_pieces = st.one_of(st.sampled_from(TAGS), st.sampled_from(WORDS), st.text(max_size=12))
completions = st.lists(text_pieces, max_size=30).map("".join)
option_texts = st.one_of(st.sampled_from(["CT", "MRI", "X-ray", "Normal", "Pneumonia", "COVID-19", "Yes", "No",
                                          "Mild diabetic retinopathy.", "Grade 2", "Malignant"]), st.text(max_size=15))
options = st.one_of(
    st.none(),
    st.lists(option_texts, min_size=2, max_size=5).map(lambda texts: {"ABCDE"[i]: t for i, t in enumerate(texts)}),
)
samples = st.builds(
    lambda question, opts, answer, modality, task: Sample(
        id="p", question=question, options=opts, answer=answer if opts is None else (answer[:1] or "A").upper(),
        modality=modality, task=task),
    question=st.one_of(st.sampled_from(["Is this chest X-ray normal?", "What is the severity of diabetic retinopathy?",
                                        "Which imaging modality is this?", "Is this CT indicative of COVID-19?"]),
                       st.text(max_size=40)),
    opts=options,
    answer=st.text(max_size=10),
    modality=st.sampled_from([None, "xray", "ct", "fundus", "dermoscopy", "oct"]),
    task=st.sampled_from([None, "disease_diagnosis", "lesion_grading", "modality_recognition"]),
)


@pytest.fixture(scope="module")
def rewards():
    registry = get_plugins().rewards
    return [registry.get(name)() for name in ("format", "accuracy", "dtree")] + [
        registry.get("format")({"partial": True}),
        registry.get("accuracy")({"require_tags": False}),
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sample=samples, text=completions, variant=st.sampled_from(["think", "nothink", "think_after"]))
def test_no_reward_raises_and_scores_are_in_range(rewards, sample, text, variant):
    completion = parse_completion(text, options=sample.options, variant=variant)
    assert set(completion.problems) <= set(CHECKS[variant])
    assert completion.well_formed == (not completion.problems)
    rollout = Rollout(sample, completion)
    for reward in rewards:
        (score,) = reward.score([rollout])
        if score is not None:
            assert isinstance(score, float) and not math.isnan(score)
            low, high = reward.range
            assert low <= score <= high, (reward.name, score)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200), opts=options)
def test_parser_never_raises_on_arbitrary_unicode(text, opts):
    c = parse_completion(text, options=opts)
    assert c.text == text
    assert all(letter == letter.upper() for letter in c.letters)


@settings(max_examples=300, deadline=None)
@given(text=completions)
def test_well_formed_means_exactly_the_expected_blocks(text):
    thinks, answers, order, outside, bad = _scan_tags(text)
    c = parse_completion(text)
    if c.well_formed:
        assert order == ["think", "answer"] and not outside and not bad
        assert text.strip().startswith("<think>") and text.strip().endswith("</answer>")


def test_huge_completion_with_every_reward(rewards):
    sample = Sample(id="h", question="Is this chest X-ray normal?", options={"A": "Normal", "B": "Pneumonia"},
                    answer="B", modality="xray", task="disease_diagnosis")
    think = "Dense lobar consolidation with air bronchograms, no effusion. " * 17_000
    text = f"<think>{think}</think><answer>B</answer>"
    assert len(text) > 1_000_000
    rollout = Rollout(sample, parse_completion(text, options=sample.options))
    assert [r.score([rollout])[0] for r in rewards[:3]] == [1.0, 1.0, 1.0]
    empty = Rollout(sample, parse_completion("", options=sample.options))
    assert [r.score([empty])[0] for r in rewards[:3]] == [0.0, 0.0, 0.0]
