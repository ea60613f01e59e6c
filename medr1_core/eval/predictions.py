"""``predictions.jsonl``: one line per question answered, the record of an evaluation.

Appended as batches finish, so an interrupted evaluation resumes where it
stopped. Read with the one JSON-lines policy of :mod:`medr1_core.files`: a
half-written last line (a crash) or any other bad line is reported with its
line number, never dropped silently; the first record of an id wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..files import append_jsonl, drop_partial_tail, read_jsonl

PREDICTIONS_FILE = "predictions.jsonl"

__all__ = ["PREDICTIONS_FILE", "PredictionsFile", "read_predictions", "append_predictions", "drop_partial_tail"]


@dataclass
class PredictionsFile:
    """What :func:`read_predictions` found in a ``predictions.jsonl``.

    ``records`` holds the first record of each id, in file order. Lines that
    are not JSON objects with an ``id`` are listed in ``bad_lines`` as
    ``(line_number, reason)``; ``partial_tail`` says the last line was cut off
    mid-write (a crash), and ``duplicates`` counts repeated ids (ignored).
    """

    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    partial_tail: bool = False
    duplicates: int = 0

    @property
    def ids(self) -> set[str]:
        return {r["id"] for r in self.records}


def read_predictions(path: str | Path) -> PredictionsFile:
    """Read a ``predictions.jsonl`` (a missing file reads as empty); see the module doc."""
    found = read_jsonl(path, missing_ok=True)
    result = PredictionsFile(Path(path), bad_lines=[(b.line, b.reason) for b in found.bad_lines],
                             partial_tail=found.partial_tail)
    seen: set[str] = set()
    for line in found.records:
        record = line.value
        if not (isinstance(record, dict) and isinstance(record.get("id"), str)):
            result.bad_lines.append((line.line, "not a prediction: expected a JSON object with a string 'id'"))
            continue
        if record["id"] in seen:
            result.duplicates += 1
            continue
        seen.add(record["id"])
        result.records.append(record)
    result.bad_lines.sort()
    return result


def append_predictions(path: str | Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Append records to ``predictions.jsonl``, one JSON line each, flushed to disk."""
    append_jsonl(path, records)
