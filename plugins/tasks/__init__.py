"""The five OmniMedVQA question types, as medr1 task plugins.

Each :class:`~medr1_core.Task` has the labels datasets use for it (OmniMedVQA's
``question_type`` values, the Med-R1 split file names) and its prompt templates,
one per variant, with ``{question}`` and ``{options}`` fields (see
:func:`medr1_core.prompts.build_prompt`):

- ``think``: Med-R1's instruction ("First output the thinking process in
  <think> </think> tags and then output the final answer in <answer> </answer>
  tags"), saying that the answer is the single option letter;
- ``nothink``: the answer tags only, no reasoning;
- ``think_after``: the answer first, then the reasoning.

All five use :data:`medr1_core.prompts.CHOICE_PROMPTS` (Med-R1 uses one
instruction for every question type); a task plugin may give its own.
"""

from __future__ import annotations

from medr1_core import Task, hookimpl
from medr1_core.prompts import CHOICE_PROMPTS


def _task(id: str, name: str, aliases: tuple[str, ...]) -> Task:
    return Task(id=id, name=name, aliases=aliases, prompts=dict(CHOICE_PROMPTS), answer_kind="choice")


TASKS = (
    _task("modality_recognition", "Modality recognition",
          ("Modality Recognition", "Imaging modality recognition", "Modality identification")),
    _task("anatomy_identification", "Anatomy identification",
          ("Anatomy Identification", "Anatomy recognition", "Organ identification", "Anatomical structure")),
    _task("disease_diagnosis", "Disease diagnosis",
          ("Disease Diagnosis", "Diagnosis", "Disease recognition", "Disease classification")),
    _task("lesion_grading", "Lesion grading",
          ("Lesion Grading", "Grading", "Severity grading", "Disease grading")),
    _task("other_biological_attributes", "Other biological attributes",
          ("Other Biological Attributes", "Biological attributes", "Other attributes")),
)


@hookimpl
def medr1_register_tasks(register):
    for task in TASKS:
        register(task)
