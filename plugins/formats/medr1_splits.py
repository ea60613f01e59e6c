"""Med-R1 split JSON: the format of Med-R1's published train/test splits.

Each file is a JSON list of records::

    {"image": "Images/MIAS/mdb084.png",
     "problem": "What imaging technique ...? A)X-ray, B)MRI, C)Echocardiogram, D)Mammography",
     "solution": "<answer> D </answer>"}

The options are inline in ``problem`` (2 to 4 of them; their texts may hold
parentheses and commas), the answer letter is in ``solution``, and the modality
*or* the question type is the file's name (``modality/X-Ray_test.json``,
``question_type/Disease Diagnosis_test.json``), resolved through the plugins'
aliases.

A directory is one dataset. Med-R1 publishes each question twice, once in the
``modality/`` grouping and once in ``question_type/``; reading both merges
records with the same ``(image, problem)`` into one sample that gets the
modality from one file and the task from the other (``extras["also_in"]``
lists the other files it appeared in; nothing is counted twice). A question
found only in ``question_type/`` takes the modality of its image when that image
appears in ``modality/`` (``extras["modality_from"] == "image"``): an image has
one modality.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from medr1_core.samples import Sample
from medr1_core.specs import BadRecord

from ._common import CachedLabels, json_files, label_from_filename, load_json_list, peek

NAME = "medr1-split"
DESCRIPTION = (
    "Med-R1 split JSON: records {image, problem with inline 'A)x, B)y' options, "
    "solution '<answer> X </answer>'}; modality or question type from the file name"
)

_SOLUTION = re.compile(r"\s*<answer>\s*([A-Za-z])\s*</answer>\s*")
_FIRST_OPTION = re.compile(r"(?:^|(?<=\s))A\)")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def parse_problem(problem: str) -> tuple[str, dict[str, str]] | None:
    """Split a Med-R1 ``problem`` into its question and its inline options.

    >>> parse_problem("Which? A)CT, B)Electrocardiogram (ECG), C)MRI")
    ('Which?', {'A': 'CT', 'B': 'Electrocardiogram (ECG)', 'C': 'MRI'})

    Options start at an ``A)`` that begins a word and continue while the next
    letter follows a comma (``", B)"``, ``", C)"``...); an option's text may
    contain anything else, commas and parentheses included. Returns ``None``
    when fewer than two options are found.
    """
    for first in _FIRST_OPTION.finditer(problem):
        starts = [first.start()]  # where each marker begins
        ends = [first.end()]  # where each option's text begins
        for letter in _LETTERS[1:]:
            marker = re.compile(r",\s*" + letter + r"\)")
            found = marker.search(problem, ends[-1])
            if found is None:
                break
            starts.append(found.start())
            ends.append(found.end())
        if len(starts) < 2:
            continue
        bounds = starts[1:] + [len(problem)]
        options = {_LETTERS[i]: problem[ends[i]:bounds[i]].strip() for i in range(len(starts))}
        return problem[: starts[0]].strip(), options
    return None


def parse_solution(solution: object) -> str | None:
    """The letter in ``"<answer> X </answer>"`` (upper-cased), or ``None``."""
    if not isinstance(solution, str):
        return None
    match = _SOLUTION.fullmatch(solution)
    return match.group(1).upper() if match else None


def sample_id(image: str, problem: str) -> str:
    """A stable id from the record's content: the same question gets the same id in every grouping."""
    digest = hashlib.sha1(f"{image}\0{problem}".encode()).hexdigest()[:12]
    return f"{dataset_of(image) or 'medr1'}/{digest}"


def dataset_of(image: str) -> str | None:
    """The source dataset: the first folder after ``Images/`` (``Images/MIAS/x.png`` -> ``MIAS``)."""
    parts = image.replace("\\", "/").split("/")
    if len(parts) >= 3 and parts[0] == "Images":
        return parts[1]
    return parts[0] if len(parts) >= 2 else None


def detect(path: Path) -> bool:
    """A .json file (or a directory of them) whose records have ``problem`` and ``solution``."""
    files = json_files(path) if path.is_dir() else [path]
    if not files or files[0].suffix != ".json":
        return False
    head = peek(files[0])
    return '"problem"' in head and '"solution"' in head and '"image"' in head


def read(path: Path, labels) -> Iterator[Sample | BadRecord]:
    """Yield the samples of a split file or directory, then (for a directory) merged ones."""
    labels = CachedLabels(labels)
    root = path if path.is_dir() else path.parent
    merged: dict[tuple[str, str], Sample] = {}
    for file in json_files(path):
        yield from _read_file(file, root, labels, merged)
    _modality_from_image(merged.values())
    yield from merged.values()


def _read_file(file: Path, root: Path, labels, merged: dict) -> Iterator[BadRecord]:
    try:
        records = load_json_list(file)
    except ValueError as exc:
        yield BadRecord(str(file), -1, f"file skipped: {exc}")
        return
    label = label_from_filename(file)
    modality, task = labels.modality(label), labels.task(label)
    if modality is None and task is None:
        yield BadRecord(
            str(file), -1,
            f"file name label {label!r} is neither a known modality nor a known task: "
            f"its {len(records)} records are read without modality and task",
        )
    source = str(file)
    image_root = str(root)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            yield BadRecord(str(file), index, f"expected an object with image, problem, solution; got {type(record).__name__}")
            continue
        image, problem, solution = record.get("image"), record.get("problem"), record.get("solution")
        if not isinstance(image, str) or not image:
            yield BadRecord(str(file), index, "no 'image' path (expected a string)")
            continue
        if not isinstance(problem, str):
            yield BadRecord(str(file), index, "no 'problem' text (expected a string)")
            continue
        parsed = parse_problem(problem)
        if parsed is None:
            yield BadRecord(str(file), index, "no options parsed from 'problem' (expected inline 'A)x, B)y')")
            continue
        question, options = parsed
        letter = parse_solution(solution)
        if letter is None:
            yield BadRecord(str(file), index, f"solution {solution!r} is not '<answer> X </answer>' with a letter")
            continue
        if letter not in options:
            yield BadRecord(str(file), index, f"answer {letter} is not among the options {', '.join(options)}")
            continue
        where = f"{source}#{index}"
        key = (image, problem)
        seen = merged.get(key)
        if seen is None:
            merged[key] = Sample(
                id=sample_id(image, problem),
                question=question,
                answer=letter,
                options=options,
                images=(image,),
                modality=modality,
                task=task,
                dataset=dataset_of(image),
                extras={"image_root": image_root, "source": where},
            )
            continue
        conflict = _conflict(seen, letter, modality, task)
        if conflict:
            yield BadRecord(str(file), index, f"same question as {seen.extras['source']} but {conflict}")
            continue
        seen.modality = seen.modality or modality
        seen.task = seen.task or task
        seen.extras.setdefault("also_in", []).append(where)


def _conflict(seen: Sample, letter: str, modality: str | None, task: str | None) -> str | None:
    if seen.answer != letter:
        return f"a different answer ({letter} vs {seen.answer})"
    if modality and seen.modality and modality != seen.modality:
        return f"a different modality ({modality} vs {seen.modality})"
    if task and seen.task and task != seen.task:
        return f"a different task ({task} vs {seen.task})"
    return None


def _modality_from_image(samples) -> None:
    """Give questions without a modality the modality their image has elsewhere (if unique)."""
    by_image: dict[str, set[str]] = {}
    for sample in samples:
        if sample.modality:
            by_image.setdefault(sample.images[0], set()).add(sample.modality)
    for sample in samples:
        if sample.modality is None:
            found = by_image.get(sample.images[0])
            if found and len(found) == 1:
                sample.modality = next(iter(found))
                sample.extras["modality_from"] = "image"
