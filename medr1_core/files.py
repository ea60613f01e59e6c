"""Reading and writing the user's files: JSON lines and YAML configs, with one policy.

JSON lines (datasets, completions to score, a run's metrics, predictions) are
read one line at a time, and a line that cannot be used never costs the others:

- a line that is not UTF-8 or not JSON is a :class:`BadLine` with its
  ``file:line`` and why, and reading goes on;
- a UTF-8 byte-order mark at the start of the file is ignored;
- a last line with no newline that does not parse is reported as cut off
  mid-write (``partial_tail``): what a killed process leaves;
- blank lines are skipped.

Nothing is dropped silently: every line is either a record or a bad line.
Writers append whole lines and flush, and write NaN and infinities as
``null`` so the files stay valid JSON.

YAML configs are read with ``yaml.safe_load`` (no tags that run code); a file
that is missing, not UTF-8, not YAML or not a mapping is a
:class:`~medr1_core.errors.ConfigError` naming the file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .errors import ConfigError

_BOM = b"\xef\xbb\xbf"
_CUT_OFF = "partially written last line (cut off mid-write: no newline at the end)"


class BadLine(NamedTuple):
    """A line of a JSON-lines file that could not be used: where, and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


class JsonLine(NamedTuple):
    """A parsed line: its number (from 1) and the JSON value."""

    line: int
    value: Any


try:  # orjson parses and writes JSON lines several times faster than the standard library
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a dependency; the standard library does the same, slower
    _orjson = None


#: orjson reads an integer beyond 64 bits as a float; any float this large is read again by ``json``
_HUGE = 2.0 ** 63


def _has_huge_float(value: Any) -> bool:
    """Whether a parsed value holds a float of magnitude 2**63 or more (NaN included), at any depth."""
    t = type(value)
    if t is float:
        return not -_HUGE < value < _HUGE
    if t is dict:
        value = value.values()
    elif t is not list:
        return False
    for item in value:
        kind = type(item)
        if kind is str or kind is int or item is None or kind is bool:
            continue
        if _has_huge_float(item):
            return True
    return False


def loads(raw: bytes | str) -> Any:
    """One JSON value: orjson when it can, the standard library for what orjson refuses or reads
    differently (``NaN`` literals; integers beyond 64 bits, which it would make floats) and for the error
    message of a bad line."""
    if _orjson is not None:
        try:
            value = _orjson.loads(raw)
        except _orjson.JSONDecodeError:
            pass
        else:
            if not _has_huge_float(value):
                return value
    return json.loads(raw)


def _decode(raw: bytes, path: str, number: int, is_tail: bool) -> JsonLine | BadLine:
    try:
        return JsonLine(number, loads(raw))
    except UnicodeDecodeError as exc:
        return BadLine(path, number, f"not UTF-8 text (byte {exc.start + 1} of the line is {raw[exc.start]:#04x})")
    except ValueError as exc:
        if is_tail:
            return BadLine(path, number, _CUT_OFF)
        return BadLine(path, number, f"invalid JSON: {getattr(exc, 'msg', exc)} (column {getattr(exc, 'colno', '?')})")


def iter_jsonl(path: str | os.PathLike) -> Iterator[JsonLine | BadLine]:
    """Every non-blank line of ``path`` in order: a :class:`JsonLine` or a :class:`BadLine`.

    Reads in binary and decodes each line on its own, so one undecodable byte
    spoils one line, not the file. Raises ``OSError`` only if the file itself
    cannot be opened.
    """
    name = os.fspath(path)
    with open(path, "rb") as handle:
        number = 0
        for raw in handle:
            number += 1
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            if not raw or raw.isspace():
                continue
            yield _decode(raw, name, number, is_tail=not raw.endswith(b"\n"))


@dataclass
class JsonlFile:
    """What :func:`read_jsonl` found: the records, and every line it could not use."""

    path: Path
    records: list[JsonLine] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)

    @property
    def values(self) -> list[Any]:
        return [r.value for r in self.records]

    @property
    def partial_tail(self) -> bool:
        """Whether the last line was cut off mid-write (it is the last of ``bad_lines``)."""
        return bool(self.bad_lines) and self.bad_lines[-1].reason == _CUT_OFF


def read_jsonl(path: str | os.PathLike, *, missing_ok: bool = False) -> JsonlFile:
    """All of ``path`` (see :func:`iter_jsonl`); a missing file reads as empty with ``missing_ok``."""
    found = JsonlFile(Path(path))
    if missing_ok and not found.path.exists():
        return found
    for item in iter_jsonl(path):
        (found.bad_lines if isinstance(item, BadLine) else found.records).append(item)
    return found


def drop_partial_tail(path: str | os.PathLike) -> int:
    """Cut a half-written last line off ``path``, so appending starts on a fresh line.

    Returns the number of bytes removed (0 when the file ends cleanly, or is
    missing). A complete JSON value whose newline is missing is kept and gets
    its newline.
    """
    path = Path(path)
    if not path.exists():
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    tail = data[keep:]
    try:
        json.loads(tail)
        complete = True
    except ValueError:
        complete = False
    with open(path, "r+b") as handle:
        if complete:
            handle.seek(0, os.SEEK_END)
            handle.write(b"\n")
            return 0
        handle.truncate(keep)
    return len(tail)


def jsonable(value: Any) -> Any:
    """``value`` with NaN and infinities (also in nested dicts and lists) as ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return jsonable(value.item())
    return value


def dumps_line(record: Any) -> str:
    """One JSON line (with its newline); NaN and infinities become ``null``."""
    if _orjson is not None:
        try:  # orjson writes NaN and infinities as null itself
            return _orjson.dumps(record, option=_orjson.OPT_APPEND_NEWLINE).decode()
        except TypeError:  # a type orjson does not know (a torch scalar, ...), or an integer beyond 64 bits
            pass
    return json.dumps(jsonable(record), ensure_ascii=False, allow_nan=False) + "\n"


def append_jsonl(path: str | os.PathLike, records: Iterable[Any]) -> None:
    """Append records to ``path`` as JSON lines, flushed before returning.

    A last line cut off by an earlier crash is closed off first, so the new
    records start on a line of their own (the cut line stays a bad line).
    """
    path = Path(path)
    text = "".join(dumps_line(r) for r in records)
    if not text:
        return
    with open(path, "ab+") as handle:
        if handle.tell() > 0:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                handle.write(b"\n")
        handle.write(text.encode("utf-8"))
        handle.flush()


def read_yaml_mapping(path: str | os.PathLike, what: str = "config file") -> dict[str, Any]:
    """The top-level mapping of a YAML file (``{}`` when empty); :class:`ConfigError` naming the file."""
    import yaml

    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: cannot read the {what}: it is a folder, not a YAML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start + 1}); save the {what} as UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of fields at the top level, got {type(data).__name__}")
    return data
