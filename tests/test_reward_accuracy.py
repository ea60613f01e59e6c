"""The accuracy reward: one committed, correct answer; hard to game."""

import pytest

from medr1_core.parsing import make_rollouts
from medr1_core.plugins import get_plugins
from medr1_core.samples import Sample

OPTIONS = {"A": "MRI", "B": "X-ray", "C": "CT", "D": "Ultrasound"}
CHOICE = Sample(id="1", question="Which modality?", answer="C", options=OPTIONS)


def score(sample, answers, variant="think", raw=False, **params):
    texts = answers if raw else [f"<think>reasoning</think><answer>{a}</answer>" for a in answers]
    reward = get_plugins().rewards.get("accuracy")(params)
    return reward.score(make_rollouts([sample] * len(texts), texts, variant))


CORRECT = ["c", "C)", "(C)", "\nC\n", "C. CT", "CT", "The answer is C", "Answer: (C) CT", "ct"]


@pytest.mark.parametrize("answer", CORRECT)
def test_correct_letter_forms_score_one(answer):
    assert score(CHOICE, [answer]) == [1.0]


@pytest.mark.parametrize(
    "answer", ["A or B", "A, B, C, D", "A/B", "C or D", "E", "(E)", "B", "MRI", "", "C. MRI", "none"]
)
def test_hedges_wrong_and_invalid_score_zero(answer):
    assert score(CHOICE, [answer]) == [0.0]


def test_disagreeing_answer_blocks_score_zero():
    texts = ["<think>x</think><answer>C</answer><answer>A</answer>",
             "<think>x</think><answer>C</answer><answer>C) CT</answer>"]
    assert score(CHOICE, texts, raw=True) == [0.0, 1.0]


def test_letter_outside_tags_only_counts_when_tags_not_required():
    texts = ["<think>The image is axial, so C</think>", "The image is axial... so C", "<think>x</think>So the answer is C"]
    assert score(CHOICE, texts, raw=True) == [0.0, 0.0, 0.0]
    assert score(CHOICE, texts, raw=True, require_tags=False) == [0.0, 1.0, 1.0]


def test_answer_hidden_inside_think_does_not_count():
    assert score(CHOICE, ["<think>x <answer>C</answer></think>"], raw=True) == [0.0]


def test_longest_option_text_is_preferred():
    sample = Sample(id="2", question="q", answer="B", options={"A": "MRI", "B": "MRI with contrast", "C": "CT"})
    assert score(sample, ["MRI with contrast", "MRI", "B) MRI with contrast"]) == [1.0, 0.0, 1.0]


def test_fuzzy_option_text_fallback():
    sample = Sample(id="3", question="q", answer="D", options=OPTIONS)
    assert score(sample, ["Ultrasond"]) == [1.0]
    assert score(sample, ["Ultrasond"], option_threshold=100) == [0.0]


def test_articles_are_not_letters():
    sample = Sample(id="4", question="q", answer="B", options={"A": "Pneumonia", "B": "Normal", "C": "Effusion"})
    assert score(sample, ["A normal chest", "Normal", "A"]) == [1.0, 1.0, 0.0]


def test_all_variants():
    assert score(CHOICE, ["<answer>C</answer>"], variant="nothink", raw=True) == [1.0]
    assert score(CHOICE, ["<answer>C</answer><think>x</think>"], variant="think_after", raw=True) == [1.0]


def test_open_answers():
    kidney = Sample(id="o1", question="Which organ?", answer="Left kidney")
    assert score(kidney, ["left kidney", "The left kidney.", "Left kidny", "right kidney", "kidney"]) == [
        1.0, 1.0, 1.0, 0.0, 0.0]
    yes = Sample(id="o2", question="Is there an effusion?", answer="Yes")
    assert score(yes, ["yes", "Yes, there is a small effusion", "No", "maybe"]) == [1.0, 1.0, 0.0, 0.0]
    neg = Sample(id="o3", question="Finding?", answer="pneumonia")
    assert score(neg, ["no pneumonia", "pneumonia"]) == [0.0, 1.0]
    count = Sample(id="o4", question="How many nodules?", answer="3")
    assert score(count, ["3", "three", "3 or 4", "3.01", "4", "three or four"]) == [1.0, 1.0, 0.0, 1.0, 0.0, 0.0]
    assert score(count, ["3.01"], number_rel_tol=0) == [0.0]


def test_open_threshold_param():
    kidney = Sample(id="o1", question="Which organ?", answer="Left kidney")
    assert score(kidney, ["Left kidny"], open_threshold=100) == [0.0]


def test_unusable_reference_is_not_applicable():
    bad = Sample(id="5", question="q", answer="F", options=OPTIONS)
    empty = Sample(id="6", question="q", answer="")
    assert score(bad, ["F"]) == [None]
    assert score(empty, ["x"]) == [None]


def test_every_med_r1_split_question_reads_letters_and_option_texts():
    """On every Med-R1 evaluation question (all 32k with MEDR1_SPLITS_DIR): the letter, the correct option's
    text and both together score 1; another option's text scores 0."""
    from helpers import SPLITS, split_counts

    from medr1_core.specs import BadRecord

    plugins = get_plugins()
    samples = [s for s in plugins.data_formats.get("medr1-split").read(SPLITS, plugins) if not isinstance(s, BadRecord)]
    assert len(samples) == split_counts()["questions"]
    reward = plugins.rewards.get("accuracy")()
    forms = {
        1.0: [lambda s: s.answer, lambda s: s.options[s.answer], lambda s: f"{s.answer}. {s.options[s.answer]}"],
        0.0: [lambda s: next(v for k, v in s.options.items() if k != s.answer)],
    }
    for expected, makers in forms.items():
        for make in makers:
            texts = [f"<think>x</think><answer>{make(s)}</answer>" for s in samples]
            scores = reward.score(make_rollouts(samples, texts))
            wrong = [(s.options, t) for s, t, x in zip(samples, texts, scores) if x != expected]
            assert not wrong, wrong[:3]
