"""The five task plugins, their prompt templates and the prompts built from them."""

from __future__ import annotations

import pytest

from medr1_core import Sample, Task
from medr1_core.plugins import get_plugins
from medr1_core.prompts import build_conversation, build_prompt, conversation

from helpers import SPLITS

SPLIT_FILES = {
    "Modality Recognition_test.json": "modality_recognition",
    "Anatomy Identification_test.json": "anatomy_identification",
    "Disease Diagnosis_test.json": "disease_diagnosis",
    "Lesion Grading_test.json": "lesion_grading",
    "Other Biological Attributes_test.json": "other_biological_attributes",
}

SAMPLE = Sample(
    id="q1",
    question="What imaging technique is used? ",
    answer="B",
    options={"A": "X-ray", "B": "Electrocardiogram (ECG), resting", "C": "MRI"},
    images=("Images/x.png",),
    modality="xray",
    task="modality_recognition",
)


def test_the_five_tasks_are_registered_with_all_three_variants():
    plugins = get_plugins()
    assert set(SPLIT_FILES.values()) <= set(plugins.tasks.names())
    for tid in SPLIT_FILES.values():
        task = plugins.tasks.get(tid)
        assert isinstance(task, Task) and task.answer_kind == "choice"
        assert set(task.prompts) == {"think", "nothink", "think_after"}
        for template in task.prompts.values():
            assert "{question}" in template and "{options}" in template


def test_every_question_type_file_of_the_splits_resolves():
    from medr1_plugins.formats._common import label_from_filename

    files = sorted(p.name for p in (SPLITS / "question_type").glob("*.json"))
    assert set(files) == set(SPLIT_FILES)
    plugins = get_plugins()
    for name, expected in SPLIT_FILES.items():
        assert plugins.tasks.resolve(label_from_filename(SPLITS / "question_type" / name)) == expected


@pytest.mark.parametrize("label", ["Disease Diagnosis", "disease-diagnosis", "DISEASE_DIAGNOSIS", "diagnosis"])
def test_question_type_labels_resolve(label):
    assert get_plugins().tasks.resolve(label) == "disease_diagnosis"


def test_think_prompt_is_med_r1_instruction_asking_for_the_option_letter():
    task = get_plugins().tasks.get("modality_recognition")
    prompt = build_prompt(SAMPLE, task, "think")
    assert prompt.startswith("What imaging technique is used?\nA) X-ray\nB) Electrocardiogram (ECG), resting\nC) MRI\n")
    assert "First output the thinking process in <think> </think> tags" in prompt
    assert "then output the final answer" in prompt and "<answer> </answer>" in prompt
    assert "letter of the single correct option" in prompt
    assert prompt.index("<think>") < prompt.index("<answer>")


def test_nothink_and_think_after_variants():
    task = get_plugins().tasks.get("disease_diagnosis")
    nothink = build_prompt(SAMPLE, task, "nothink")
    assert "<answer> </answer>" in nothink and "<think>" not in nothink
    after = build_prompt(SAMPLE, task, "think_after")
    assert after.index("<answer>") < after.index("<think>")


def test_open_question_and_missing_task_get_default_templates():
    open_sample = Sample(id="o", question="Describe the lesion.", answer="a nodule", images=("x.png",))
    prompt = build_prompt(open_sample, get_plugins().tasks.get("disease_diagnosis"))
    assert prompt.startswith("Describe the lesion.\nFirst output") and "letter" not in prompt
    assert build_prompt(SAMPLE, None) == build_prompt(SAMPLE, get_plugins().tasks.get("lesion_grading"))


def test_bad_variant_and_missing_template_are_named():
    with pytest.raises(ValueError, match="unknown prompt variant 'cot'"):
        build_prompt(SAMPLE, None, "cot")
    partial = Task(id="custom", name="Custom", prompts={"think": "{question} {options}"})
    with pytest.raises(ValueError, match="task 'custom' has no 'nothink' prompt template"):
        build_prompt(SAMPLE, partial, "nothink")


def test_conversation_has_one_image_placeholder_per_image_before_the_text():
    assert conversation("hi", 2) == [
        {"role": "user", "content": [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "hi"}]}
    ]
    chat = build_conversation(SAMPLE, None)
    assert [part["type"] for part in chat[0]["content"]] == ["image", "text"]
