"""The five OmniMedVQA question types, and the question types of the medical VQA benchmarks, as medr1 task plugins.

Each :class:`~medr1_core.Task` has the labels datasets use for it (OmniMedVQA's
``question_type`` values, the Med-R1 split file names) and its prompt templates,
one per variant, with ``{question}`` and ``{options}`` fields (see
:func:`medr1_core.prompts.build_prompt`):

- ``think``: the R1 instruction as R1-V words it ("First output the thinking
  process in <think> </think> tags and then output the final answer in
  <answer> </answer> tags"), saying that the answer is the single option
  letter (Med-R1's own wording is the ``med-r1`` prompt set of
  :mod:`medr1_core.prompts`, which does not go through the task plugins);
- ``nothink``: the answer tags only, no reasoning;
- ``think_after``: the answer first, then the reasoning.

All five use :data:`medr1_core.prompts.CHOICE_PROMPTS` (Med-R1 uses one
instruction for every question type); a task plugin may give its own.

:data:`VQA_TASKS` are the question types SLAKE (``content_type``) and VQA-RAD
(``question_type``) label their questions with, where no OmniMedVQA type is the
same thing: their published labels (``"Position"``, ``"POS"``) are the aliases.
SLAKE's ``Organ`` and ``Modality`` and VQA-RAD's ``ORGAN`` and ``MODALITY`` are
aliases of ``anatomy_identification`` and ``modality_recognition``. Their
questions are mostly open (no options), so these tasks' answer kind is
``open``; an open question is prompted with
:data:`medr1_core.prompts.OPEN_PROMPTS` whatever its task.
"""

from __future__ import annotations

from medr1_core import Task, hookimpl
from medr1_core.prompts import CHOICE_PROMPTS


def _task(id: str, name: str, aliases: tuple[str, ...]) -> Task:
    return Task(id=id, name=name, aliases=aliases, prompts=dict(CHOICE_PROMPTS), answer_kind="choice")


TASKS = (
    _task("modality_recognition", "Modality recognition",
          ("Modality Recognition", "Imaging modality recognition", "Modality identification",
           "Modality")),  # SLAKE content_type, VQA-RAD question_type MODALITY
    _task("anatomy_identification", "Anatomy identification",
          ("Anatomy Identification", "Anatomy recognition", "Organ identification", "Anatomical structure",
           "Organ", "Organ system")),  # SLAKE content_type, VQA-RAD question_type ORGAN
    _task("disease_diagnosis", "Disease diagnosis",
          ("Disease Diagnosis", "Diagnosis", "Disease recognition", "Disease classification")),
    _task("lesion_grading", "Lesion grading",
          ("Lesion Grading", "Grading", "Severity grading", "Disease grading")),
    _task("other_biological_attributes", "Other biological attributes",
          ("Other Biological Attributes", "Biological attributes", "Other attributes")),
)



def _vqa_task(id: str, name: str, aliases: tuple[str, ...]) -> Task:
    return Task(id=id, name=name, aliases=aliases, prompts=dict(CHOICE_PROMPTS), answer_kind="open")


VQA_TASKS = (
    _vqa_task("abnormality", "Abnormality", ("Abnormality", "ABN", "Abnormalities")),
    _vqa_task("presence", "Presence of an object or condition", ("Presence", "PRES", "Object presence")),
    _vqa_task("position", "Position", ("Position", "POS", "Positional reasoning")),
    _vqa_task("plane", "Imaging plane", ("Plane", "PLANE", "Imaging plane")),
    _vqa_task("quantity", "Quantity and counting", ("Quantity", "COUNT", "Counting", "Count")),
    _vqa_task("size", "Size", ("Size", "SIZE")),
    _vqa_task("color", "Colour", ("Color", "COLOR", "Colour")),
    _vqa_task("shape", "Shape", ("Shape", "SHAPE")),
    _vqa_task("attribute", "Other attribute", ("Attribute", "ATTRIB", "Attribute other")),
    _vqa_task("knowledge", "Medical knowledge", ("KG", "Knowledge", "Knowledge graph")),
    _vqa_task("other_question", "Other question", ("Other", "OTHER")),
)


@hookimpl
def medr1_register_tasks(register):
    for task in (*TASKS, *VQA_TASKS):
        register(task)
