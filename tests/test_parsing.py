"""The completion parser: tags, structure checks and letter extraction."""

import pytest

from medr1_core.parsing import CHECKS, completion_text, extract_letters, make_rollouts, parse_completion
from medr1_core.samples import Sample

OPTIONS = {"A": "MRI", "B": "X-ray", "C": "CT", "D": "Ultrasound"}


@pytest.mark.parametrize(
    "answer",
    ["c", "C)", "(C)", "\nC\n", "C. CT", "CT", "The answer is C", "answer: c", "**C**", "C: CT", "Option (C)",
     "[C]", "I think the answer is C", "Answer is option C", "a CT scan", "The answer is a CT", "ct"],
)
def test_letter_c(answer):
    assert extract_letters(answer, OPTIONS) == ("C",)


@pytest.mark.parametrize(
    "answer,letters",
    [
        ("A or B", ("A", "B")),
        ("A, B, C, D", ("A", "B", "C", "D")),
        ("A/B", ("A", "B")),
        ("Both A and B", ("A", "B")),
        ("C. MRI", ("A", "C")),  # letter and text disagree: a hedge
        ("E", ("E",)),  # not an option, but named
        ("(E)", ("E",)),
        ("CT or MRI", ("C", "A")),
    ],
)
def test_several_or_invalid_letters(answer, letters):
    assert set(extract_letters(answer, OPTIONS)) == set(letters)


def test_articles_and_words_are_not_letters():
    opts = {"A": "Pneumonia", "B": "Normal", "C": "Effusion", "I": "Other"}
    assert extract_letters("A consolidation is seen, so pneumonia", opts) == ("A",)  # from the text, not 'A'
    assert extract_letters("A lesion is visible", opts) == ()
    assert extract_letters("I think it is B", opts) == ("B",)
    assert extract_letters("X-ray shows B", {"A": "p", "B": "q", "X": "r"}) == ("B",)


def test_longest_option_text_wins():
    opts = {"A": "MRI", "B": "MRI with contrast", "C": "CT"}
    assert extract_letters("MRI with contrast", opts) == ("B",)
    assert extract_letters("mri", opts) == ("A",)
    assert extract_letters("an MRI", opts) == ("A",)


def test_letters_inside_option_texts_do_not_count():
    opts = {"A": "Vitamin D deficiency", "B": "Anemia", "C": "Scurvy", "D": "Rickets"}
    assert extract_letters("Vitamin D deficiency", opts) == ("A",)
    assert extract_letters("A) Vitamin D deficiency", opts) == ("A",)


def test_option_text_needs_whole_words():
    opts = {"A": "Normal", "B": "Abnormal"}
    assert extract_letters("abnormal", opts) == ("B",)
    assert extract_letters("normal", opts) == ("A",)
    opts = {"A": "No, It's normal", "B": "Yes."}
    assert extract_letters("No, it's normal", opts) == ("A",)
    assert extract_letters("Yes", opts) == ("B",)


def test_open_question_has_no_letters():
    assert extract_letters("C", None) == ()
    assert parse_completion("<think>x</think><answer>left kidney</answer>").answer == "left kidney"


def test_think_variant_well_formed():
    c = parse_completion("<think>axial slices</think>\n<answer> C </answer>\n", options=OPTIONS)
    assert c.well_formed and c.problems == ()
    assert c.think == "axial slices" and c.answer == "C" and c.letter == "C"


@pytest.mark.parametrize(
    "text,variant,problems",
    [
        ("<answer>C</answer>", "nothink", ()),
        ("<answer>C</answer><think>x</think>", "think_after", ()),
        ("<think>x</think><answer>C</answer>", "nothink", ("think_count",)),
        ("<think>x</think><answer>C</answer>", "think_after", ("order",)),
        ("<answer>C</answer><think>x</think>", "think", ("order",)),
        ("<answer>C</answer>", "think", ("think_count", "order")),
        ("<think>x</think>so<answer>C</answer>", "think", ("outside_text",)),
        ("prefix <think>x</think><answer>C</answer>", "think", ("outside_text",)),
        ("<think>x</think><answer>C</answer> trailing", "think", ("outside_text",)),
        ("<think> </think><answer>C</answer>", "think", ("non_empty",)),
        ("<think>x</think><answer>  </answer>", "think", ("non_empty",)),
        ("<think>x</think><think>y</think><answer>C</answer>", "think", ("think_count",)),
        ("<think>x</think><answer>C</answer><answer>C</answer>", "think", ("answer_count",)),
        ("</think><think>x</think><answer>C</answer>", "think", ("outside_text", "tags")),
        ("<think>x<think>y</think><answer>C</answer>", "think", ("tags",)),
    ],
)
def test_structure_problems(text, variant, problems):
    c = parse_completion(text, options=OPTIONS, variant=variant)
    assert c.problems == problems
    assert c.well_formed == (not problems)
    assert set(c.problems) <= set(CHECKS[variant])


def test_answer_hidden_in_think_is_not_an_answer():
    c = parse_completion("<think>maybe <answer>C</answer></think>", options=OPTIONS)
    assert c.answers == () and c.answer is None and "tags" in c.problems


def test_unclosed_block_is_not_a_block():
    c = parse_completion("<think>x</think><answer>C", options=OPTIONS)
    assert c.answer is None and {"answer_count", "tags", "outside_text"} <= set(c.problems)


def test_no_tags_at_all():
    c = parse_completion("The image is a CT, so C", options=OPTIONS)
    assert c.answer is None and c.letters == () and c.think is None
    assert not c.well_formed


def test_several_answer_blocks():
    agree = parse_completion("<think>x</think><answer>C</answer><answer>(C) CT</answer>", options=OPTIONS)
    assert agree.answer == "C" and agree.letters == ("C",) and not agree.well_formed
    disagree = parse_completion("<think>x</think><answer>C</answer><answer>A</answer>", options=OPTIONS)
    assert disagree.answer is None and disagree.letters == ()
    assert disagree.answers == ("C", "A")


def test_empty_and_huge_inputs():
    assert parse_completion("").problems == ("think_count", "answer_count", "order", "non_empty")
    huge = "<think>" + "consolidation " * 80_000 + "</think><answer>" + "C " * 200_000 + "</answer>"
    assert len(huge) > 1_000_000
    c = parse_completion(huge, options=OPTIONS)
    assert c.letter == "C" and c.well_formed
    junk = "<answer>" + "answer is " * 100_000 + "\x00\ud7ff\U0010ffff" + "</answer>"
    assert parse_completion(junk, options=OPTIONS).answer is not None
    # a megabyte of option texts and letters (once quadratic in the number of matches)
    texts = "<think>x</think><answer>" + "CT or MRI (A) " * 75_000 + "</answer>"
    assert set(parse_completion(texts, options=OPTIONS).letters) == {"A", "C"}
    tags = "<think>" * 150_000 + "</answer>" * 10_000
    assert parse_completion(tags).problems == ("think_count", "answer_count", "order", "non_empty", "outside_text", "tags")


def test_unknown_variant_is_an_error():
    with pytest.raises(ValueError, match="think_after"):
        parse_completion("x", variant="cot")


def test_completion_text_of_chat_messages():
    assert completion_text("plain") == "plain"
    assert completion_text([{"role": "assistant", "content": "<answer>C</answer>"}]) == "<answer>C</answer>"
    parts = [{"role": "assistant", "content": [{"type": "text", "text": "<think>a</think>"},
                                               {"type": "text", "text": "<answer>C</answer>"}]}]
    assert completion_text(parts) == "<think>a</think><answer>C</answer>"


def test_make_rollouts_parses_each_once_against_its_sample():
    samples = [Sample(id="1", question="q", answer="C", options=OPTIONS),
               Sample(id="2", question="q", answer="yes")]
    rollouts = make_rollouts(samples, ["<answer>CT</answer>", "<answer>yes</answer>"], "nothink")
    assert rollouts[0].completion.letter == "C" and rollouts[1].completion.letters == ()
    with pytest.raises(ValueError, match="2 samples but 1"):
        make_rollouts(samples, ["x"])
