"""OmniMedVQA native layout, as the dataset is published::

    OmniMedVQA/
      Images/<dataset>/...
      QA_information/Open-access/<dataset>.json
      QA_information/Restricted-access/<dataset>.json

Each JSON file is a list of records with ``question``, ``option_A`` ..
``option_D`` (two to four of them), ``gt_answer`` (the *text* of the correct
option, not its letter), ``image_path`` (relative to the ``OmniMedVQA/`` root),
``question_type``, ``modality_type`` (one file calls it ``modality``),
``dataset`` and, when present, ``question_id``.

Any folder of such files is read as one dataset: the root, ``QA_information``,
one access folder, or a single file. Image paths resolve against the nearest
folder above that holds ``QA_information`` (else the folder read).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from medr1_core.samples import Sample
from medr1_core.specs import BadRecord

from ._common import CachedLabels, json_files, load_json_list, peek, unknown_label

NAME = "omnimedvqa"
DESCRIPTION = (
    "OmniMedVQA native: QA_information/{Open,Restricted}-access/*.json beside Images/; "
    "records with question, option_A..D, gt_answer (option text), image_path, question_type, modality_type"
)

_QA = "QA_information"


def dataset_root(path: Path) -> Path:
    """The folder image paths are relative to: the nearest one holding ``QA_information``."""
    start = path if path.is_dir() else path.parent
    for folder in (start, *start.parents):
        if folder.name == _QA:
            return folder.parent
        if (folder / _QA).is_dir():
            return folder
    return start


def _qa_files(path: Path) -> list[Path]:
    if path.is_dir() and (path / _QA).is_dir():
        return json_files(path / _QA)
    return json_files(path)


def detect(path: Path) -> bool:
    """A folder with ``QA_information/``, or JSON whose records have ``gt_answer`` and ``option_A``."""
    if path.is_dir() and (path / _QA).is_dir():
        return True
    files = _qa_files(path) if path.is_dir() else [path]
    if not files or files[0].suffix != ".json":
        return False
    head = peek(files[0])
    return '"gt_answer"' in head and '"option_A"' in head


def answer_letter(gt_answer: object, options: dict[str, str]) -> tuple[str | None, str | None]:
    """The letter of the option whose text is ``gt_answer``: ``(letter, None)`` or ``(None, reason)``.

    Texts match exactly, else ignoring case, surrounding space and a final
    full stop. A ``gt_answer`` that is itself one of the option letters (and
    no option's text) is taken as that letter.
    """
    if not isinstance(gt_answer, str) or not gt_answer.strip():
        return None, "no gt_answer (expected the text of the correct option)"
    exact = [letter for letter, text in options.items() if text == gt_answer]
    if not exact:
        wanted = _loose(gt_answer)
        exact = [letter for letter, text in options.items() if _loose(text) == wanted]
    if len(exact) == 1:
        return exact[0], None
    if len(exact) > 1:
        return None, f"gt_answer {gt_answer!r} matches several options ({', '.join(exact)})"
    if gt_answer.strip() in options:
        return gt_answer.strip(), None
    shown = ", ".join(f"{k}) {v}" for k, v in options.items())
    return None, f"gt_answer {gt_answer!r} is not among the options ({shown})"


def _loose(text: str) -> str:
    return text.strip().rstrip(".").strip().casefold()


def read(path: Path, labels) -> Iterator[Sample | BadRecord]:
    """Yield one Sample per usable record and a BadRecord (with the reason) per other."""
    labels = CachedLabels(labels)
    root = dataset_root(path)
    image_root = str(root)
    for file in _qa_files(path):
        try:
            records = load_json_list(file)
        except ValueError as exc:
            yield BadRecord(str(file), -1, f"file skipped: {exc}")
            continue
        source = str(file)
        for index, record in enumerate(records):
            result = _sample(record, file, index, labels)
            if isinstance(result, str):
                yield BadRecord(str(file), index, result)
            else:
                result.extras = {"image_root": image_root, "source": f"{source}#{index}"}
                yield result


def _sample(record: object, file: Path, index: int, labels) -> Sample | str:
    """A Sample from one record, or the reason it cannot be one."""
    if not isinstance(record, dict):
        return f"expected an object, got {type(record).__name__}"
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        return "no 'question' text"
    options = {}
    for key, text in record.items():
        if not key.startswith("option_") or text is None:
            continue
        letter = key[7:]
        if len(letter) != 1 or not "A" <= letter <= "Z":
            continue
        if not isinstance(text, str):
            text = str(text)  # numeric option texts ("1", "2") are written as numbers in some files
        text = text.strip()
        if text:
            options[letter] = text
    if list(options) != sorted(options):
        options = dict(sorted(options.items()))
    if len(options) < 2:
        return f"no options parsed: found {len(options)} non-empty option_A..option_D field(s), need at least 2"
    letter, reason = answer_letter(record.get("gt_answer"), options)
    if reason:
        return reason
    image = record.get("image_path")
    if not isinstance(image, str) or not image.strip():
        return "no 'image_path'"
    modality_label = record.get("modality_type", record.get("modality"))
    if modality_label is None:
        return "no 'modality_type' (or 'modality') field"
    modality = labels.modality(str(modality_label))
    if modality is None:
        return unknown_label("modality", modality_label)
    task_label = record.get("question_type")
    if task_label is None:
        return "no 'question_type' field"
    task = labels.task(str(task_label))
    if task is None:
        return unknown_label("task", task_label)
    dataset = record.get("dataset") or file.stem
    question_id = record.get("question_id")
    return Sample(
        id=str(question_id) if question_id not in (None, "") else f"{file.stem}#{index}",
        question=question.strip(),
        answer=letter,
        options=options,
        images=(image.strip(),),
        modality=modality,
        task=task,
        dataset=str(dataset),
    )
