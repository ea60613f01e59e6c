"""Prompts: a Sample plus its task plugin's template -> the text and the chat the model sees.

The ``think`` variant is Med-R1's instruction (arXiv 2503.13939: "{Question}
First output the thinking process in <think> </think> tags and then output the
final answer in <answer> </answer> tags."), with the options listed under the
question and the answer asked for as the single option letter::

    >>> from medr1_core import Sample
    >>> s = Sample(id="1", question="Which modality?", answer="B", options={"A": "CT", "B": "MRI"})
    >>> print(build_prompt(s, None))
    Which modality?
    A) CT
    B) MRI
    First output the thinking process in <think> </think> tags and then output the final answer, the letter of the single correct option, in <answer> </answer> tags.

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


def build_prompt(sample: "Sample", task: "Task | None", variant: str = "think") -> str:
    """The prompt text for ``sample``, from ``task``'s template for ``variant``.

    ``task`` is the sample's task plugin (``plugins.tasks.get(sample.task)``),
    or ``None`` for the default templates. A sample without options gets the
    open-question template. Unknown variants and templates missing a variant
    raise :class:`~medr1_core.errors.ConfigError` naming what exists.
    """
    check_variant(variant)
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


def build_conversation(sample: "Sample", task: "Task | None", variant: str = "think") -> list[dict[str, Any]]:
    """:func:`build_prompt` wrapped in :func:`conversation` with the sample's image count."""
    return conversation(build_prompt(sample, task, variant), len(sample.images))
