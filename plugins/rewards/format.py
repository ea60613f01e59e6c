"""The ``format`` reward: does the completion follow the prompt's tag structure?"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from medr1_core import reward
from medr1_core.parsing import CHECKS


class FormatParams(BaseModel):
    """Parameters of the ``format`` reward."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    partial: bool = False
    """Give the fraction of structural checks passed instead of all-or-nothing."""


@reward(name="format", params=FormatParams)
def format_reward(rollout, params: FormatParams) -> float:
    """1 if the completion has exactly the tags its prompt variant asks for, else 0.

    Strict by default: ``think`` needs ``<think>…</think><answer>…</answer>``,
    ``nothink`` only ``<answer>…</answer>``, ``think_after``
    ``<answer>…</answer><think>…</think>``; one block of each, non-empty,
    nothing but whitespace outside them, no stray or nested tags. With
    ``partial: true`` the score is the fraction of those checks passed
    (:data:`medr1_core.parsing.CHECKS`).

    Example: ``"<think>opacity</think>\\n<answer>B</answer>"`` scores 1 for
    ``think``; ``"so B"`` scores 0 (and 0.2 with ``partial: true``: only the
    ``tags`` check passes).
    """
    completion = rollout.completion
    if completion.well_formed:
        return 1.0
    if not params.partial:
        return 0.0
    checks = CHECKS[completion.variant]
    return 1.0 - len(completion.problems) / len(checks)
