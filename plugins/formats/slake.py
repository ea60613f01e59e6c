"""SLAKE (Liu et al., ISBI 2021), as published (``BoKelvin/SLAKE`` on the Hub, the authors' release)::

    SLAKE/
      train.json  validate.json (or validation.json)  test.json
      imgs/xmlab102/source.jpg  (mask.png, detection.json, question.json)

Each split file is a JSON list of records::

    {"img_id": 102, "img_name": "xmlab102/source.jpg", "question": "What modality is used ...?",
     "answer": "CT", "q_lang": "en", "location": "Lung", "modality": "CT", "answer_type": "OPEN",
     "base_type": "vqa", "content_type": "Modality", "triple": ["vhead", "_", "_"], "qid": 11934}

- ``modality`` (CT, MRI, X-Ray) and ``content_type`` (Organ, Position,
  Abnormality, Modality, Plane, Quantity, Color, Size, Shape, KG) go through
  the modality and task aliases; a label no plugin knows is counted
  (``extras["unmapped"]``), not guessed;
- ``answer_type`` CLOSED/OPEN -> ``extras["answer_type"]``; ``q_lang`` (en, zh)
  -> ``extras["language"]``; ``location``, ``base_type`` (vqa / kvqa) and the
  split (the file name) are kept in ``extras``;
- questions have no options (closed ones are yes/no or name their choices);
  open answers are scored as LLaVA-Med scores SLAKE (token recall,
  ``extras["open_metric"]``), see the ``accuracy`` reward;
- ``img_name`` is relative to ``imgs/`` beside the split files; ids are
  ``slake/<qid>``.

Only the split files are read (``imgs/`` holds a ``question.json`` per image,
which is not a split). Point ``--data`` at the folder (all three splits) or at
one split file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from medr1_core.samples import Sample
from medr1_core.specs import BadRecord

from ._common import CachedLabels, answer_type, load_json_list, peek, resolve_label, text

NAME = "slake"
DESCRIPTION = (
    "SLAKE: train.json / validate.json / test.json beside imgs/; records with img_name, question, answer, "
    "q_lang, answer_type OPEN/CLOSED, modality, content_type, location"
)

SPLIT_FILES = ("train.json", "validate.json", "validation.json", "test.json")
OPEN_METRIC = "recall"


def _split_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return [path / name for name in SPLIT_FILES if (path / name).is_file()]


def _looks_like_slake(file: Path) -> bool:
    head = peek(file, 4096)
    return '"q_lang"' in head and '"img_name"' in head


def detect(path: Path) -> bool:
    """A SLAKE split file, or a folder holding one (records with ``q_lang`` and ``img_name``)."""
    files = _split_files(path)
    return bool(files) and files[0].suffix == ".json" and _looks_like_slake(files[0])


def read(path: Path, labels) -> Iterator[Sample | BadRecord]:
    """Yield a Sample per record of each split file and a BadRecord (with the reason) per other."""
    labels = CachedLabels(labels)
    for file in _split_files(path):
        root = file.parent
        prefix = "imgs/" if (root / "imgs").is_dir() else ""
        split = "validation" if file.stem == "validate" else file.stem
        try:
            records = load_json_list(file)
        except ValueError as exc:
            yield BadRecord(str(file), -1, f"file skipped: {exc}")
            continue
        for index, record in enumerate(records):
            result = _sample(record, labels, prefix, split, index)
            if isinstance(result, str):
                yield BadRecord(str(file), index, result)
                continue
            result.extras.update(image_root=str(root), source=f"{file}#{index}")
            yield result


def _sample(record: object, labels, prefix: str, split: str, index: int) -> Sample | str:
    if not isinstance(record, dict):
        return f"expected an object, got {type(record).__name__}"
    question, answer, image = text(record.get("question")), text(record.get("answer")), text(record.get("img_name"))
    if not question:
        return "no 'question' text"
    if not answer:
        return "no 'answer' text"
    if not image:
        return "no 'img_name'"
    if image.startswith("/") or ".." in Path(image).parts:
        return f"img_name {image!r} is not a path inside imgs/"
    kind = answer_type(record.get("answer_type"))
    if kind is None:
        return f"answer_type {record.get('answer_type')!r} is neither OPEN nor CLOSED"
    unmapped: dict[str, str] = {}
    modality = resolve_label(labels, "modality", record.get("modality"), unmapped)
    task = resolve_label(labels, "task", record.get("content_type"), unmapped)
    extras = {
        "answer_type": kind, "language": text(record.get("q_lang")) or None, "split": split,
        "location": text(record.get("location")) or None, "base_type": text(record.get("base_type")) or None,
        "open_metric": OPEN_METRIC,
    }
    if unmapped:
        extras["unmapped"] = unmapped
    qid = text(record.get("qid"))
    return Sample(
        id=f"slake/{qid}" if qid else f"slake/{split}#{index}",
        question=question,
        answer=answer,
        images=(prefix + image,),
        modality=modality,
        task=task,
        dataset="SLAKE",
        extras={k: v for k, v in extras.items() if v is not None},
    )
