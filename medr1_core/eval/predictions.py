"""``predictions.jsonl``: one line per question answered, the record of an evaluation.

Appended as batches finish, so an interrupted evaluation resumes where it
stopped. Read with the one JSON-lines policy of :mod:`medr1_core.files`: a
half-written last line (a crash) or any other bad line is reported with its
line number, never dropped silently; the first record of an id wins.

Each record carries what produced it: ``weights`` (:func:`model_fingerprint`:
a hash of the model's weight files, or the hub revision) and ``key``
(:func:`prediction_key`: those weights, the prompt variant, the decoding
settings and the question's content: text, options, answer, images, modality,
task). A resumed evaluation reuses a record only when its key is the one the
question has now; the others are moved to ``predictions.superseded.jsonl``
(:func:`supersede`: kept, never deleted) and answered again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..files import append_jsonl, drop_partial_tail, read_jsonl

PREDICTIONS_FILE = "predictions.jsonl"
SUPERSEDED_FILE = "predictions.superseded.jsonl"
#: the files of a model folder whose bytes are its weights (and what reads them)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".msgpack", ".h5")

__all__ = ["PREDICTIONS_FILE", "SUPERSEDED_FILE", "PredictionsFile", "read_predictions", "append_predictions",
           "drop_partial_tail", "model_fingerprint", "prediction_key", "supersede"]


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


def _file_digest(path: Path, known: Mapping[str, Any]) -> str:
    """sha256 of ``path``, reused from ``known[name]`` when its size and modification time are unchanged."""
    stat = path.stat()
    seen = known.get(path.name)
    if isinstance(seen, list) and seen[:2] == [stat.st_size, stat.st_mtime_ns]:
        return seen[2]
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def model_fingerprint(source: str, known: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """What identifies the weights at ``source``, and the per-file digests to remember (for ``known`` next time).

    A local folder: a hash of its weight files' contents (and ``config.json``),
    re-hashing only files whose size or modification time changed. A hub id:
    ``hub:<id>@<revision>`` of the locally cached snapshot (``hub:<id>`` when
    none is cached).
    """
    known = known or {}
    path = Path(source)
    if path.is_dir():
        digests: dict[str, Any] = {}
        whole = hashlib.sha256()
        for file in sorted(path.iterdir()):
            if file.is_file() and (file.suffix in WEIGHT_SUFFIXES or file.name == "config.json"):
                digest = _file_digest(file, known)
                stat = file.stat()
                digests[file.name] = [stat.st_size, stat.st_mtime_ns, digest]
                whole.update(f"{file.name}\0{digest}\n".encode())
        return f"sha256:{whole.hexdigest()[:20]}", digests
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(source, "config.json")
    except Exception:  # noqa: BLE001 - no hub library or a malformed id: the id alone
        cached = None
    revision = Path(cached).parent.name if isinstance(cached, (str, os.PathLike)) else None
    return (f"hub:{source}@{revision}" if revision else f"hub:{source}"), {}


def prediction_key(sample, weights: str, variant: str, sampling: Mapping[str, Any], prompt_set: str = "medr1") -> str:
    """The key of a prediction: the weights, prompt variant (and set) and decoding settings, and the question as
    asked. medr1's own prompt set is the one a key without a set was made with."""
    content = {"question": sample.question, "options": sample.options, "answer": sample.answer,
               "images": list(sample.images), "modality": sample.modality, "task": sample.task}
    prompts = variant if prompt_set == "medr1" else f"{prompt_set}:{variant}"
    text = json.dumps([weights, prompts, dict(sampling), content], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def supersede(path: str | Path, ids_and_keys: Mapping[str, str], *, keep: Collection[str] = ()) -> list[dict]:
    """Move the records of ``path`` whose id is in ``ids_and_keys`` but whose key is not the one given there
    to :data:`SUPERSEDED_FILE` beside it; returns them. The file is rewritten whole (atomically)."""
    path = Path(path)
    found = read_jsonl(path, missing_ok=True)
    stale = {r.line for r in found.records if isinstance(r.value, dict) and r.value.get("id") in ids_and_keys
             and r.value.get("key") != ids_and_keys[r.value["id"]] and r.value.get("id") not in keep}
    if not stale:
        return []
    moved = [r.value for r in found.records if r.line in stale]
    append_jsonl(path.with_name(SUPERSEDED_FILE), moved)
    kept = [line for number, line in enumerate(path.read_bytes().splitlines(keepends=True), 1) if number not in stale]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(b"".join(kept))
    os.replace(tmp, path)
    return moved
