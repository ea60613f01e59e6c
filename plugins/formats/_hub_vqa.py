"""The Hub layout VQA-RAD and PathVQA share (``flaviagiammarino/vqa-rad``, ``flaviagiammarino/path-vqa``).

Parquet shards (or ``save_to_disk`` arrow files) with exactly three columns:
``image`` (bytes), ``question``, ``answer``. Question types are not published
in this layout; a question is *closed* when its answer is yes or no, which is
how both datasets' cards (and the papers' tables) define closed-ended. The
images are extracted once into medr1's cache (:mod:`._tables`). Ids are
``<name>/<split>/<shard>/<row>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from medr1_core.samples import Sample
from medr1_core.specs import BadRecord

from ._tables import extracted_images, read_columns, schema_names, split_of, table_files
from ._common import text

COLUMNS = {"image", "question", "answer"}


def is_hub_table(files: list[Path]) -> bool:
    """Whether the first file has exactly the columns image, question, answer."""
    return bool(files) and set(schema_names(files[0])) == COLUMNS


def name_matches(path: Path, needles: tuple[str, ...]) -> bool:
    """Whether the path (or a folder above it) is named like the dataset (``vqa-rad``, ``VQA_RAD``...)."""
    key = "".join(ch for ch in str(path.resolve()).lower() if ch.isalnum())
    return any(n in key for n in needles)


def read_hub(path: Path, *, name: str, dataset: str, open_metric: str) -> Iterator[Sample | BadRecord]:
    """Yield a Sample per row of each parquet/arrow file under ``path`` (see the module doc)."""
    from medr1_plugins.rewards.answer_match import is_yes_no

    shards: dict[str, int] = {}
    for file in table_files(path):
        split = split_of(file)
        shard = shards[split] = shards.get(split, -1) + 1
        try:
            rows = read_columns(file, ["question", "answer"])
            folder, images = extracted_images(file, ["image"])
        except ValueError as exc:
            yield BadRecord(str(file), -1, f"file skipped: {exc}")
            continue
        names = images.get("image", [])
        for index, row in enumerate(rows):
            question, answer = text(row.get("question")), text(row.get("answer"))
            image = names[index] if index < len(names) else None
            reason = ("no 'question' text" if not question else "no 'answer' text" if not answer
                      else "no image bytes in the 'image' column" if image is None else None)
            if reason:
                yield BadRecord(str(file), index, reason)
                continue
            yield Sample(
                id=f"{name}/{split}/{shard}/{index}",
                question=question,
                answer=answer,
                images=(image,),
                dataset=dataset,
                extras={
                    "answer_type": "closed" if is_yes_no(answer) else "open", "answer_type_from": "answer",
                    "language": "en", "split": split, "open_metric": open_metric,
                    "image_root": str(folder), "source": f"{file}#{index}",
                },
            )
