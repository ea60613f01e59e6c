"""PMC-VQA (Zhang et al., 2023), as published (``xmcmic/PMC-VQA`` on the Hub)::

    PMC-VQA/
      train.csv  test.csv  test_clean.csv   (version 2: train_2.csv, test_2.csv)
      images/PMC1064097_F1.jpg ...          (images.zip unpacked; images_2.zip for version 2)

Each CSV row has ``Figure_path``, ``Question``, ``Answer`` (the correct
choice's text), ``Choice A`` .. ``Choice D`` (written ``"A:Diffuse uptake
pattern"``: the letter prefix is removed) and ``Answer_label`` (the letter);
other columns (``index``, ``Caption``, ``split``) are kept where useful.

- A four-option multiple-choice question (closed); the answer is
  ``Answer_label``, else the choice whose text is ``Answer``; a row whose label
  and text disagree is a bad record;
- images are looked for in ``images/``, ``images_2/``, ``figures/`` beside the
  CSV, else beside it (the first folder that holds the first row's figure);
- PMC-VQA labels no modality or question type: samples have none;
- ids are ``pmc-vqa/<file stem>/<index>`` (the ``index`` column, else the row).

A folder is read file by file; ``test_clean.csv`` (a cleaned subset of
``test.csv``) is skipped, with a note, when ``test.csv`` is read too: point
``--data`` at it to evaluate on it.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from medr1_core.samples import Sample
from medr1_core.specs import BadRecord

from ._common import peek, text

NAME = "pmc-vqa"
DESCRIPTION = (
    "PMC-VQA: CSV with Figure_path, Question, Answer, Choice A..D ('A:text'), Answer_label, "
    "beside images/ (images.zip unpacked)"
)
IMAGE_FOLDERS = ("images", "images_2", "figures", "")
_LETTERS = "ABCD"
_PREFIX = re.compile(r"^\s*([A-Da-d])\s*[:.)]\s*")


def _csv_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path] if path.suffix == ".csv" else []
    return sorted(p for p in path.glob("*.csv") if not p.name.startswith(".") and _looks_like_pmc(p))


def _looks_like_pmc(file: Path) -> bool:
    header = peek(file, 4096).splitlines()[:1]
    return bool(header) and "Figure_path" in header[0] and "Question" in header[0] and "Choice A" in header[0]


def detect(path: Path) -> bool:
    """A PMC-VQA CSV (header with Figure_path, Question, Choice A), or a folder holding one."""
    files = _csv_files(path)
    return bool(files) and _looks_like_pmc(files[0])


def read(path: Path, labels) -> Iterator[Sample | BadRecord]:
    """Yield a Sample per usable row of each CSV and a BadRecord (with the reason) per other."""
    files = _csv_files(path)
    names = {f.name for f in files}
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # captions can be long
    for file in files:
        if file.name == "test_clean.csv" and "test.csv" in names and path.is_dir():
            yield BadRecord(str(file), -1, "file skipped: test_clean.csv is a cleaned subset of test.csv, "
                                           "which is read; point --data at test_clean.csv to use it alone")
            continue
        yield from _read_file(file)


def _read_file(file: Path) -> Iterator[Sample | BadRecord]:
    try:
        handle = open(file, encoding="utf-8-sig", newline="")
    except OSError as exc:
        yield BadRecord(str(file), -1, f"file skipped: cannot be read: {exc}")
        return
    with handle:
        rows = csv.DictReader(handle)
        folder = None
        try:
            for index, row in enumerate(rows):
                if folder is None:
                    folder = _image_folder(file.parent, text(row.get("Figure_path")))
                result = _sample(row, file, index, folder)
                if isinstance(result, str):
                    yield BadRecord(str(file), index, result)
                    continue
                result.extras.update(image_root=str(file.parent), source=f"{file}#{index}")
                yield result
        except (csv.Error, UnicodeDecodeError) as exc:
            yield BadRecord(str(file), -1, f"reading stopped after row {rows.line_num}: {exc}")


def _image_folder(root: Path, first: str) -> str:
    for folder in IMAGE_FOLDERS:
        if first and (root / folder / first).is_file():
            return folder
    return next((f for f in IMAGE_FOLDERS if f and (root / f).is_dir()), "")


def _sample(row: dict, file: Path, index: int, folder: str) -> Sample | str:
    question, figure = text(row.get("Question")), text(row.get("Figure_path"))
    if not question:
        return "no 'Question' text"
    if not figure:
        return "no 'Figure_path'"
    if figure.startswith("/") or ".." in Path(figure).parts:
        return f"Figure_path {figure!r} is not a path inside the image folder"
    options = {}
    for letter in _LETTERS:
        choice = text(row.get(f"Choice {letter}"))
        match = _PREFIX.match(choice)
        if match and match.group(1).upper() == letter:
            choice = choice[match.end():].strip()
        if choice:
            options[letter] = choice
    if len(options) < 2:
        return f"only {len(options)} non-empty choice(s) in Choice A..D, need at least 2"
    letter, reason = _answer(text(row.get("Answer_label")).upper(), text(row.get("Answer")), options)
    if reason:
        return reason
    row_id = text(row.get("index")) or str(index)
    return Sample(
        id=f"pmc-vqa/{file.stem}/{row_id}",
        question=question,
        answer=letter,
        options=options,
        images=(f"{folder}/{figure}" if folder else figure,),
        dataset="PMC-VQA",
        extras={"answer_type": "closed", "language": "en", "split": text(row.get("split")) or file.stem},
    )


def _answer(label: str, answer: str, options: dict[str, str]) -> tuple[str, str | None]:
    """The answer letter from ``Answer_label``, checked against ``Answer``; else found from ``Answer``."""
    match = _PREFIX.match(answer)
    answer_text = answer[match.end():].strip() if match else answer
    by_text = [k for k, v in options.items() if v.casefold() == answer_text.casefold()]
    if label:
        if label not in options:
            return "", f"Answer_label {label!r} is not one of the choices ({', '.join(options)})"
        if answer_text and by_text and label not in by_text:
            return "", f"Answer_label {label} disagrees with Answer {answer!r} (choice {by_text[0]})"
        return label, None
    if len(by_text) == 1:
        return by_text[0], None
    return "", f"no Answer_label, and Answer {answer!r} is not exactly one choice's text"
