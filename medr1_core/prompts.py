"""Prompts: a Sample plus its task plugin's template -> the text and the chat the model sees.

Two prompt sets (``prompt_set``, ``--prompt-set``):

``medr1`` (the default): medr1's own wording, from the task plugins'
templates. Its ``think`` variant is the R1 instruction R1-V uses ("First
output the thinking process in <think> </think> tags and then output the
final answer in <answer> </answer> tags."), with the options listed under the
question and the answer asked for as the single option letter::

    >>> from medr1_core import Sample
    >>> s = Sample(id="1", question="Which modality?", answer="B", options={"A": "CT", "B": "MRI"})
    >>> print(build_prompt(s, None))
    Which modality?
    A) CT
    B) MRI
    First output the thinking process in <think> </think> tags and then output the final answer, the letter of the single correct option, in <answer> </answer> tags.

``med-r1``: Med-R1's prompts as published (github.com/Yuxiang-Lai117/Med-R1),
which differ between training (``src/r1-v/src/open_r1/grpo_vqa.py``,
``grpo_vqa_nothink.py``) and evaluation (``src/eval_vqa/test_qwen2vl_vqa.py``,
``test_qwen2vl_vqa_nothink.py``), with the options inline in the question as
Med-R1's split files have them (``"Which? A)CT, B)MRI"``)::

    >>> print(build_prompt(s, None, prompt_set="med-r1", stage="eval"))
    Which modality? A)CT, B)MRI Think through the question step by step in <think>...</think> tags. Then provide the correct single-letter choice (A, B, C, D,...) inside <answer>...</answer> tags.

Med-R1 published ``think`` and ``nothink`` prompts for multiple-choice
questions only: ``think_after`` and open questions have no ``med-r1`` prompt
(:class:`~medr1_core.errors.ConfigError`).

Task plugins carry their own templates (``Task.prompts``); the ones here are
the defaults the built-in tasks use, and what a sample without a task (or an
open question, without options) is prompted with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .samples import check_variant

if TYPE_CHECKING:
    from .samples import Sample
    from .specs import Task

_LETTER = "the letter of the single correct option"

#: Templates for multiple-choice questions, by variant (``{question}``, ``{options}``).
CHOICE_PROMPTS: dict[str, str] = {
    "think": (
        "{question}\n{options}\n"
        "First output the thinking process in <think> </think> tags and then output the final answer, "
        f"{_LETTER}, in <answer> </answer> tags."
    ),
    "nothink": "{question}\n{options}\n" f"Output only the final answer, {_LETTER}, in <answer> </answer> tags.",
    "think_after": (
        "{question}\n{options}\n"
        f"First output the final answer, {_LETTER}, in <answer> </answer> tags and then output "
        "the thinking process that supports it in <think> </think> tags."
    ),
}

#: The prompt sets: medr1's own wording (the default) and Med-R1's, as published.
PROMPT_SETS = ("medr1", "med-r1")
#: Where a prompt is used: training (GRPO and SFT) or evaluation (Med-R1 words them differently).
STAGES = ("train", "eval")

#: Med-R1's published templates, by stage and variant; ``{question}`` is the question with its options
#: inline (:func:`inline_question`). Copied verbatim from Med-R1's repository (commit 88d76c7).
MED_R1_PROMPTS: dict[str, dict[str, str]] = {
    "train": {  # src/r1-v/src/open_r1/grpo_vqa.py, grpo_vqa_nothink.py: QUESTION_TEMPLATE
        "think": "{question} Your task: 1. Think through the question step by step, enclose your reasoning process "
                 "in <think>...</think> tags. 2. Then provide the correct single-letter choice (A, B, C, D,...) inside "
                 "<answer>...</answer> tags. 3. No extra information or text outside of these tags.",
        "nothink": "{question} Your task: 1. Provide the correct single-letter choice (A, B, C, D,...) inside "
                   "<answer>...</answer> tags. 2. No extra information or text outside of this tag.",
    },
    "eval": {  # src/eval_vqa/test_qwen2vl_vqa.py, test_qwen2vl_vqa_nothink.py: QUESTION_TEMPLATE
        "think": "{question} Think through the question step by step in <think>...</think> tags. Then provide the "
                 "correct single-letter choice (A, B, C, D,...) inside <answer>...</answer> tags.",
        "nothink": "{question} Provide the correct single-letter choice (A, B, C, D,...) inside <answer>...</answer> "
                   "tags.",
    },
}

#: Templates for open questions (no options), by variant.
OPEN_PROMPTS: dict[str, str] = {
    "think": (
        "{question}\n"
        "First output the thinking process in <think> </think> tags and then output the final answer, "
        "in a few words, in <answer> </answer> tags."
    ),
    "nothink": "{question}\nOutput only the final answer, in a few words, in <answer> </answer> tags.",
    "think_after": (
        "{question}\n"
        "First output the final answer, in a few words, in <answer> </answer> tags and then output "
        "the thinking process that supports it in <think> </think> tags."
    ),
}


def format_options(options: dict[str, str] | None) -> str:
    """Options as lines: ``"A) CT\\nB) MRI"`` ('' for an open question)."""
    if not options:
        return ""
    return "\n".join(f"{letter}) {text}" for letter, text in options.items())


def inline_question(sample: "Sample") -> str:
    """The question with its options inline, as Med-R1's split files write them.

    >>> from medr1_core import Sample
    >>> inline_question(Sample(id="1", question="Which?", answer="A", options={"A": "CT", "B": "MRI"}))
    'Which? A)CT, B)MRI'
    """
    options = ", ".join(f"{letter}){text}" for letter, text in (sample.options or {}).items())
    return f"{sample.question.strip()} {options}".strip()


def check_prompt_set(prompt_set: str, where: str = "prompt set") -> str:
    """``prompt_set`` if it is one of :data:`PROMPT_SETS`, else a ConfigError naming ``where``."""
    if prompt_set not in PROMPT_SETS:
        raise ConfigError(f"{where}: unknown prompt set {prompt_set!r}; expected one of {', '.join(PROMPT_SETS)}")
    return prompt_set


def med_r1_template(variant: str, stage: str = "train", *, open_question: bool = False) -> str:
    """Med-R1's published template for ``variant`` at ``stage``; a ConfigError where Med-R1 published none."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    if open_question:
        raise ConfigError("prompt set med-r1 has no prompt for open questions (Med-R1 published multiple-choice "
                          "prompts only); use the medr1 prompt set for questions without options")
    template = MED_R1_PROMPTS[stage].get(variant)
    if template is None:
        raise ConfigError(f"prompt set med-r1 has no {variant!r} prompt (Med-R1 published: "
                          f"{', '.join(MED_R1_PROMPTS[stage])}); use the medr1 prompt set for {variant}")
    return template


def build_prompt(sample: "Sample", task: "Task | None", variant: str = "think", *, prompt_set: str = "medr1",
                 stage: str = "train") -> str:
    """The prompt text for ``sample``, from ``task``'s template for ``variant``.

    ``task`` is the sample's task plugin (``plugins.tasks.get(sample.task)``),
    or ``None`` for the default templates. A sample without options gets the
    open-question template. Unknown variants and templates missing a variant
    raise :class:`~medr1_core.errors.ConfigError` naming what exists.
    ``prompt_set="med-r1"`` uses Med-R1's published wording for ``stage``
    (``train`` or ``eval``) instead of the task's template.
    """
    check_variant(variant)
    if check_prompt_set(prompt_set) == "med-r1":
        template = med_r1_template(variant, stage, open_question=not sample.options)
        return template.format(question=inline_question(sample)).strip()
    if not sample.options:
        template = OPEN_PROMPTS[variant]
    elif task is None:
        template = CHOICE_PROMPTS[variant]
    else:
        template = task.prompts.get(variant)
        if template is None:
            raise ConfigError(
                f"task {task.id!r} has no {variant!r} prompt template (it has: {', '.join(task.prompts) or 'none'})"
            )
    return template.format(question=sample.question.strip(), options=format_options(sample.options)).strip()


def conversation(prompt: str, n_images: int = 1) -> list[dict[str, Any]]:
    """The chat TRL's GRPOTrainer expects: one user turn, one image placeholder per image, then the text.

    >>> conversation("Which?", 1)
    [{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': 'Which?'}]}]

    The trainer fills each ``{"type": "image"}`` placeholder with the row's
    ``image`` (or ``images``) in order.
    """
    content: list[dict[str, Any]] = [{"type": "image"} for _ in range(n_images)]
    content.append({"type": "text", "text": prompt})
    return [{"role": "user", "content": content}]


def build_conversation(sample: "Sample", task: "Task | None", variant: str = "think", *, prompt_set: str = "medr1",
                       stage: str = "train") -> list[dict[str, Any]]:
    """:func:`build_prompt` wrapped in :func:`conversation` with the sample's image count."""
    return conversation(build_prompt(sample, task, variant, prompt_set=prompt_set, stage=stage), len(sample.images))
