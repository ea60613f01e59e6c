"""Small helpers the built-in data formats share (not a public API)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

_SPLIT_SUFFIX = re.compile(r"[_\-. ](test|train|val|valid|validation|dev)$", re.IGNORECASE)


def label_from_filename(path: Path) -> str:
    """The label a split file is named after: ``"X-Ray_test.json"`` -> ``"X-Ray"``."""
    return _SPLIT_SUFFIX.sub("", path.stem)


def peek(path: Path, size: int = 65536) -> str:
    """The first ``size`` characters of a text file ('' if it cannot be read)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(size)
    except OSError:
        return ""


def json_files(path: Path, *, suffix: str = ".json", skip_dirs: frozenset[str] = frozenset({"Images"})) -> list[Path]:
    """``path`` itself if it is a file, else every ``*suffix`` file below it, sorted.

    Directories named in ``skip_dirs`` (image folders with tens of thousands of
    files) are not walked.
    """
    if path.is_file():
        return [path]
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs and not d.startswith("."))
        found.extend(Path(dirpath, name) for name in filenames if name.endswith(suffix) and not name.startswith("."))
    return sorted(found)


def load_json_list(path: Path) -> list:
    """A JSON file that must hold a list of records; raises ValueError with the reason.

    A UTF-8 byte-order mark is fine; text that is not UTF-8 is named with its byte offset.
    """
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start + 1} of the file is {exc.object[exc.start]:#04x})") from None
    except (OSError, RecursionError) as exc:
        raise ValueError(f"cannot be read: {exc}") from None
    if not isinstance(data, list):
        raise ValueError(f"expected a JSON list of records, got a {type(data).__name__}")
    return data


class CachedLabels:
    """A label resolver that resolves each distinct label once (datasets repeat them)."""

    def __init__(self, labels):
        self._labels = labels
        self._modality: dict = {}
        self._task: dict = {}

    def modality(self, label):
        try:
            return self._modality[label]
        except KeyError:
            value = self._modality[label] = self._labels.modality(label)
            return value

    def task(self, label):
        try:
            return self._task[label]
        except KeyError:
            value = self._task[label] = self._labels.task(label)
            return value


def unknown_label(kind: str, label: object) -> str:
    """The reason for a record whose modality/task label no plugin claims."""
    return (
        f"unknown {kind} {label!r}: no {kind} plugin lists it as an id or alias "
        f"(`medr1 plugins` shows the registered ones)"
    )


def resolve_label(labels, kind: str, label: object, unmapped: dict[str, str]) -> str | None:
    """The canonical id of a modality/task ``label``, or None; a label no plugin knows is
    recorded in ``unmapped[kind]`` (kept in ``Sample.extras["unmapped"]`` and counted by
    ``medr1 data inspect``), never guessed. Blank labels are no label."""
    if label is None or not str(label).strip():
        return None
    text = str(label).strip()
    found = labels.modality(text) if kind == "modality" else labels.task(text)
    if found is None:
        unmapped[kind] = text
    return found


def answer_type(value: object) -> str | None:
    """SLAKE's and VQA-RAD's ``answer_type`` (``"CLOSED"``, ``"OPEN"``, any case) as ``closed``/``open``."""
    text = str(value or "").strip().lower()
    return text if text in ("closed", "open") else None


def text(value: object) -> str:
    """A cell as stripped text ('' for None); numbers become their text (answers like ``2``)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()
