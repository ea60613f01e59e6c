"""MMMU's Health & Medicine subjects (Yue et al., CVPR 2024), as published (``MMMU/MMMU`` on the Hub)::

    MMMU/
      Basic_Medical_Science/dev-00000-of-00001.parquet  validation-...parquet  test-...parquet
      Clinical_Medicine/  Diagnostics_and_Laboratory_Medicine/  Pharmacy/  Public_Health/
      Accounting/ ... (the other 25 subjects: not read by this format)

Each row: ``id`` (``validation_Clinical_Medicine_3``), ``question`` with
``<image n>`` placeholders, ``options`` (a Python list literal, ``"['A text',
'B text']"``; empty for open questions), ``answer`` (a letter, or the text of
an open answer; a list literal when several are accepted), ``image_1`` ..
``image_7`` (bytes), ``img_type`` (a list literal of MMMU's image types),
``question_type`` (``multiple-choice`` / ``open``), ``subfield``,
``topic_difficulty``, ``explanation``.

- Up to seven images per question, given to the model in order: the text's
  ``<image n>`` stays and names the n-th; a placeholder without its image is
  a bad record. Images are extracted once into medr1's cache.
- Multiple-choice questions are closed (options A, B, ...); open ones are open
  and scored as MMMU scores them (the reference contained in the answer,
  ``extras["open_metric"] = "contains"``); several accepted answers are
  ``extras["answers"]``.
- ``img_type`` goes through the modality aliases (``Microscopic Images`` is
  microscopy); MMMU's other image types name no single modality (``Body
  Scans: MRI, CT scans, and X-rays``, ``Medical Images``, ``Diagrams``...):
  those samples have none. An image type MMMU does not publish is counted
  (``extras["unmapped"]``). MMMU labels no question type: no task.
- The test split's answers are not public: its files are skipped with a note.
  Folders of other subjects (and rows of them, in a merged file) are not read,
  and counted in one note.

``dataset`` is ``MMMU/<subject>``; ``extras`` keep subject, subfield, image
types, difficulty and split.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from medr1_core.samples import Sample
from medr1_core.specs import BadRecord

from ._common import CachedLabels, text
from ._tables import extracted_images, read_columns, schema_names, split_of, table_files

NAME = "mmmu-med"
DESCRIPTION = (
    "MMMU Health & Medicine subjects: parquet per subject (id, question with <image n>, options list, answer, "
    "image_1..image_7, img_type, question_type)"
)
MEDICAL_SUBJECTS = ("Basic_Medical_Science", "Clinical_Medicine", "Diagnostics_and_Laboratory_Medicine",
                    "Pharmacy", "Public_Health")
#: MMMU's published image types (``img_type``); those no modality alias claims name no single modality.
MMMU_IMAGE_TYPES = frozenset({
    "Diagrams", "Tables", "Plots and Charts", "Chemical Structures", "Photographs", "Paintings",
    "Geometric Shapes", "Sheet Music", "Medical Images", "Pathological Images", "Microscopic Images",
    "Body Scans: MRI, CT scans, and X-rays", "Sketches and Drafts", "Maps", "Technical Blueprints",
    "Trees and Graphs", "Mathematical Notations", "Comics and Cartoons", "Sculpture", "Portraits",
    "Screenshots", "Other", "Poster", "Icons and Symbols", "Historical Timelines", "3D Renderings",
    "DNA Sequences", "Landscapes", "Logos and Branding", "Advertisements", "Scientific Figures",
})
IMAGE_COLUMNS = [f"image_{i}" for i in range(1, 8)]
TEXT_COLUMNS = ["id", "question", "options", "answer", "img_type", "question_type", "subfield", "topic_difficulty"]
_PLACEHOLDER = re.compile(r"<image (\d+)>")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _is_mmmu(file: Path) -> bool:
    names = set(schema_names(file))
    return {"id", "question", "options", "answer", "image_1", "question_type"} <= names


def detect(path: Path) -> bool:
    """MMMU parquet/arrow files (columns id, question, options, answer, image_1, question_type)."""
    files = table_files(path)
    return bool(files) and _is_mmmu(files[0])


def _subject_of(file: Path) -> str | None:
    return file.parent.name if file.parent.name.replace(" ", "_") in _ALL_SUBJECT_NAMES else None


def read(path: Path, labels) -> Iterator[Sample | BadRecord]:
    """Yield a Sample per medical question; notes (BadRecords) for what is not read (see the module doc)."""
    labels = CachedLabels(labels)
    others: Counter = Counter()
    for file in table_files(path):
        subject = _subject_of(file)
        if subject is not None and subject not in MEDICAL_SUBJECTS:
            others[subject] += 1
            continue
        split = split_of(file)
        if split == "test":
            yield BadRecord(str(file), -1, "file skipped: MMMU's test answers are not public (use dev or validation)")
            continue
        yield from _read_file(file, split, labels, others)
    if others:
        listed = ", ".join(f"{name} ({n})" for name, n in sorted(others.items()))
        yield BadRecord(str(path), -1, f"not read: {sum(others.values())} file(s)/row(s) of MMMU subjects outside "
                                       f"Health & Medicine ({listed}); format {NAME} reads {', '.join(MEDICAL_SUBJECTS)}")


def _read_file(file: Path, split: str, labels, others: Counter) -> Iterator[Sample | BadRecord]:
    try:
        rows = read_columns(file, TEXT_COLUMNS)
        folder, images = extracted_images(file, IMAGE_COLUMNS)
    except ValueError as exc:
        yield BadRecord(str(file), -1, f"file skipped: {exc}")
        return
    for index, row in enumerate(rows):
        subject = _subject_from_id(text(row.get("id")))
        if subject and subject not in MEDICAL_SUBJECTS:
            others[subject] += 1
            continue
        pictures = {int(c.split("_")[1]): names[index] for c, names in images.items()
                    if index < len(names) and names[index]}
        result = _sample(row, pictures, labels, subject, split)
        if isinstance(result, str):
            yield BadRecord(str(file), index, result)
            continue
        result.extras.update(image_root=str(folder), source=f"{file}#{index}")
        yield result


def _subject_from_id(row_id: str) -> str | None:
    """``validation_Clinical_Medicine_3`` -> ``Clinical_Medicine`` (MMMU's own rule)."""
    parts = row_id.split("_")
    return "_".join(parts[1:-1]) if len(parts) >= 3 else None


def _literal_list(value: str, field: str) -> tuple[list, str | None]:
    value = value.strip()
    if not value:
        return [], None
    try:
        parsed = ast.literal_eval(value)  # a literal only: nothing in it is evaluated as code
    except (ValueError, SyntaxError):
        return [], f"{field} {value[:60]!r} is not a list literal"
    if not isinstance(parsed, list):
        return [], f"{field} {value[:60]!r} is not a list"
    return [text(x) for x in parsed], None


def _sample(row: dict, pictures: dict[int, str], labels, subject: str | None, split: str) -> Sample | str:
    row_id, question, answer = text(row.get("id")), text(row.get("question")), text(row.get("answer"))
    if not row_id or not question:
        return "no 'id' or no 'question'"
    choices, reason = _literal_list(text(row.get("options")), "options")
    if reason:
        return reason
    kind = text(row.get("question_type"))
    if kind not in ("multiple-choice", "open"):
        return f"question_type {kind!r} is neither multiple-choice nor open"
    if not answer or answer == "?":
        return "no answer (MMMU's test answers are not public)"
    options = None
    answers: list[str] = [answer]
    if kind == "multiple-choice":
        options = {_LETTERS[i]: c for i, c in enumerate(choices)}
        if answer not in options:
            return f"answer {answer!r} is not one of the option letters ({', '.join(options) or 'no options'})"
    elif answer.startswith("["):
        answers, reason = _literal_list(answer, "answer")
        if reason or not answers:
            return reason or "empty answer list"
    referenced = sorted({int(n) for n in _PLACEHOLDER.findall(" ".join([question, *choices]))})
    missing = [n for n in referenced if n not in pictures]
    if missing:
        return f"{', '.join(f'<image {n}>' for n in missing)} referenced but the row has no such image"
    if not pictures:
        return "no image (image_1..image_7 are empty)"
    image_types, _ = _literal_list(text(row.get("img_type")), "img_type")
    modality, unmapped = _modality(image_types, labels)
    extras = {
        "answer_type": "closed" if options else "open", "language": "en", "split": split, "subject": subject,
        "subfield": text(row.get("subfield")) or None, "img_type": image_types or None,
        "topic_difficulty": text(row.get("topic_difficulty")) or None,
        "open_metric": None if options else "contains", "answers": answers if len(answers) > 1 else None,
        "unmapped": unmapped or None,
    }
    return Sample(
        id=row_id,
        question=question,
        answer=answers[0],
        options=options,
        images=tuple(pictures[n] for n in sorted(pictures)),
        modality=modality,
        dataset=f"MMMU/{subject}" if subject else "MMMU",
        extras={k: v for k, v in extras.items() if v is not None},
    )


def _modality(image_types: list[str], labels) -> tuple[str | None, dict[str, str]]:
    """The one modality the image types name (or None), and an image type MMMU does not publish."""
    found, unmapped = set(), {}
    for image_type in image_types:
        modality = labels.modality(image_type)
        if modality:
            found.add(modality)
        elif image_type not in MMMU_IMAGE_TYPES:
            unmapped["modality"] = image_type
    return (found.pop() if len(found) == 1 else None), unmapped


_ALL_SUBJECT_NAMES = frozenset({
    "Accounting", "Agriculture", "Architecture_and_Engineering", "Art", "Art_Theory", "Basic_Medical_Science",
    "Biology", "Chemistry", "Clinical_Medicine", "Computer_Science", "Design", "Diagnostics_and_Laboratory_Medicine",
    "Economics", "Electronics", "Energy_and_Power", "Finance", "Geography", "History", "Literature", "Manage",
    "Marketing", "Materials", "Math", "Mechanical_Engineering", "Music", "Pharmacy", "Physics", "Psychology",
    "Public_Health", "Sociology",
})
