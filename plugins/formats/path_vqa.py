"""PathVQA (He et al., 2020), in the Hub layout (``flaviagiammarino/path-vqa``).

Parquet (or arrow) with ``image`` bytes, ``question``, ``answer``: 19,654
train, 6,259 validation and 6,719 test questions, duplicates of the original
release removed by the card's author. Closed = a yes/no answer (half the
questions), as the card and the paper define it; the release labels no
modality or question type (pathology slides and gross photographs are mixed),
so samples have none. See :mod:`._hub_vqa`. Detected when the path is named
like the dataset (``path-vqa``, ``PathVQA``); otherwise ``--format path-vqa``.

The original release stores its questions as Python pickles, which medr1 does
not load (unpickling runs code from the file); use the Hub layout.
Open answers are scored as LLaVA-Med scores PathVQA (token recall,
``extras["open_metric"]``), see the ``accuracy`` reward.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from medr1_core.samples import Sample
from medr1_core.specs import BadRecord

from ._hub_vqa import is_hub_table, name_matches, read_hub
from ._tables import table_files

NAME = "path-vqa"
DESCRIPTION = "PathVQA: the Hub layout (parquet/arrow with image bytes, question, answer), closed = yes/no answers"
OPEN_METRIC = "recall"
_NEEDLES = ("pathvqa",)


def detect(path: Path) -> bool:
    """Hub-layout tables in a path named like PathVQA."""
    return name_matches(path, _NEEDLES) and is_hub_table(table_files(path))


def read(path: Path, labels) -> Iterator[Sample | BadRecord]:
    """Yield a Sample per row (see :func:`._hub_vqa.read_hub`)."""
    yield from read_hub(path, name=NAME, dataset="PathVQA", open_metric=OPEN_METRIC)
