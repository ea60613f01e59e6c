"""VQA-RAD (Lau et al., Scientific Data 2018), in its two published layouts.

1. **The Hub layout** (``flaviagiammarino/vqa-rad``: 1,793 train and 451 test
   questions): parquet (or arrow) with ``image`` bytes, ``question``,
   ``answer``; closed = a yes/no answer (the dataset card's definition); no
   question types, no modality. See :mod:`._hub_vqa`. Detected when the
   path is named like the dataset (``vqa-rad``, ``VQA_RAD``, ``vqarad``);
   otherwise name the format: ``--format vqa-rad``.
2. **The original JSON** (the OSF release's ``VQA_RAD Dataset Public.json``
   beside ``VQA_RAD Image Folder/``, or MEVF's ``trainset.json`` /
   ``testset.json`` beside ``images/``)::

       {"qid": 1, "image_name": "synpic54610.jpg", "image_organ": "HEAD", "answer": "Yes",
        "answer_type": "CLOSED", "question_type": "PRES", "question": "Are regions of the brain infarcted?",
        "phrase_type": "freeform"}

   ``answer_type`` -> ``extras["answer_type"]``; ``question_type`` (PRES, ABN,
   MODALITY, ORGAN, POS, PLANE, SIZE, COLOR, ATTRIB, COUNT, OTHER; a few are
   two joined, ``"PRES, POS"``: the first is the task, all are kept in
   ``extras["question_types"]``) goes through the task aliases, unknown ones
   counted (``extras["unmapped"]``); ``image_organ`` -> ``extras["organ"]``;
   the split is ``test`` for ``phrase_type`` ``test_freeform``/``test_para``
   (the official test set) or a ``testset`` file, else ``train``.
   VQA-RAD labels no modality: samples have none. Ids are ``vqa-rad/<qid>``.

Open answers are scored as LLaVA-Med scores VQA-RAD (token recall,
``extras["open_metric"]``), see the ``accuracy`` reward.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from medr1_core.samples import Sample
from medr1_core.specs import BadRecord

from ._common import CachedLabels, answer_type, load_json_list, peek, resolve_label, text
from ._hub_vqa import is_hub_table, name_matches, read_hub
from ._tables import table_files

NAME = "vqa-rad"
DESCRIPTION = (
    "VQA-RAD: the Hub layout (parquet/arrow with image bytes, question, answer) or the original JSON "
    "(qid, image_name, answer_type CLOSED/OPEN, question_type, image_organ) beside its image folder"
)
OPEN_METRIC = "recall"
IMAGE_FOLDERS = ("VQA_RAD Image Folder", "images", "imgs")
_NEEDLES = ("vqarad",)


def _json_files(path: Path) -> list[Path]:
    files = [path] if path.is_file() else sorted(p for p in path.glob("*.json") if not p.name.startswith("."))
    return [f for f in files if f.suffix == ".json" and _looks_like_vqa_rad(f)]


def _looks_like_vqa_rad(file: Path) -> bool:
    head = peek(file, 4096)
    return '"image_organ"' in head and '"answer_type"' in head and '"image_name"' in head


def detect(path: Path) -> bool:
    """The original JSON, or Hub-layout tables in a path named like VQA-RAD."""
    if _json_files(path):
        return True
    return name_matches(path, _NEEDLES) and is_hub_table(table_files(path))


def read(path: Path, labels) -> Iterator[Sample | BadRecord]:
    """Yield the samples of whichever layout ``path`` is in (JSON first)."""
    files = _json_files(path)
    if not files:
        yield from read_hub(path, name=NAME, dataset="VQA-RAD", open_metric=OPEN_METRIC)
        return
    labels = CachedLabels(labels)
    for file in files:
        root = file.parent
        folder = next((f for f in IMAGE_FOLDERS if (root / f).is_dir()), None)
        prefix = f"{folder}/" if folder else ""
        try:
            records = load_json_list(file)
        except ValueError as exc:
            yield BadRecord(str(file), -1, f"file skipped: {exc}")
            continue
        for index, record in enumerate(records):
            result = _sample(record, labels, prefix, "test" if file.stem.startswith("test") else None)
            if isinstance(result, str):
                yield BadRecord(str(file), index, result)
                continue
            result.extras.update(image_root=str(root), source=f"{file}#{index}")
            yield result


def _sample(record: object, labels, prefix: str, split: str | None) -> Sample | str:
    if not isinstance(record, dict):
        return f"expected an object, got {type(record).__name__}"
    question, answer, image = text(record.get("question")), text(record.get("answer")), text(record.get("image_name"))
    missing = [k for k, v in (("question", question), ("answer", answer), ("image_name", image)) if not v]
    if missing:
        return f"no {', '.join(repr(m) for m in missing)}"
    if image.startswith("/") or ".." in Path(image).parts:
        return f"image_name {image!r} is not a path inside the image folder"
    kind = answer_type(record.get("answer_type"))
    if kind is None:
        return f"answer_type {record.get('answer_type')!r} is neither OPEN nor CLOSED"
    types = [t for t in re.split(r"[,/]\s*|\s+", text(record.get("question_type"))) if t]
    unmapped: dict[str, str] = {}
    task = resolve_label(labels, "task", types[0], unmapped) if types else None
    phrase = text(record.get("phrase_type"))
    extras = {
        "answer_type": kind, "language": "en", "open_metric": OPEN_METRIC,
        "split": split or ("test" if phrase.startswith("test") else "train"),
        "organ": text(record.get("image_organ")) or None, "phrase_type": phrase or None,
        "question_types": types if len(types) > 1 else None, "unmapped": unmapped or None,
    }
    qid = text(record.get("qid"))
    return Sample(
        id=f"vqa-rad/{qid}" if qid else f"vqa-rad/{image}#{question[:40]}",
        question=question,
        answer=answer,
        images=(prefix + image,),
        task=task,
        dataset="VQA-RAD",
        extras={k: v for k, v in extras.items() if v is not None},
    )
