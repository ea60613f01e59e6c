"""Hugging Face dataset files (parquet, arrow) for the benchmark formats (not a public API).

A benchmark downloaded from the Hub (``huggingface-cli download --repo-type dataset
flaviagiammarino/vqa-rad``) is a folder of parquet shards
(``data/train-00000-of-00001-<hash>.parquet``); one saved with
``datasets.save_to_disk`` is a folder of arrow files (``train/data-00000-of-00001.arrow``).
Images are cells ``{"bytes": ..., "path": ...}`` inside the table.

:func:`table_files` finds the files, :func:`read_columns` reads the text
columns, and :func:`extracted_images` writes each image cell once into medr1's
cache (``<cache>/images/<file>-<key>/``, built atomically, keyed by the file's
path, size and modification time) so the rest of medr1 opens images as files;
later reads find the folder complete and do not read the image bytes again.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

TABLE_SUFFIXES = (".parquet", ".arrow")
_SHARD = re.compile(r"^(?P<split>[A-Za-z_]+?)(?:[-_]\d{5}-of-\d{5}.*)?$")
_MARKER = ".medr1-images.json"
_FORMAT = 1


def table_files(path: Path) -> list[Path]:
    """``path`` if it is a parquet/arrow file, else those below it, sorted (hidden folders skipped)."""
    if path.is_file():
        return [path] if path.suffix in TABLE_SUFFIXES else []
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath, n) for n in filenames if n.endswith(TABLE_SUFFIXES) and not n.startswith("."))
    return sorted(found)


def split_of(file: Path) -> str:
    """The split a shard belongs to: ``train-00000-of-00001-x.parquet`` -> ``train``;
    ``train/data-00000-of-00001.arrow`` or ``default/test/0000.parquet`` -> the folder's name."""
    stem = file.stem
    match = _SHARD.match(stem)
    if match and match.group("split") not in ("data",) and not stem[0].isdigit():
        return match.group("split")
    return file.parent.name


def schema_names(file: Path) -> list[str]:
    """The column names of a parquet/arrow file (reads only its schema); [] when unreadable."""
    try:
        if file.suffix == ".parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(file).names)
        return list(_open_arrow(file).schema.names)
    except Exception:  # noqa: BLE001 - an unreadable file is simply not this format
        return []


def _open_arrow(file: Path):
    import pyarrow as pa
    import pyarrow.ipc as ipc

    source = pa.memory_map(str(file), "r")
    try:
        return ipc.open_stream(source)  # what datasets.save_to_disk writes
    except pa.ArrowInvalid:
        return ipc.open_file(source)


def read_table(file: Path, columns: list[str]):
    """The named columns of a parquet/arrow file as a ``pyarrow.Table`` (raises ValueError with the reason)."""
    try:
        if file.suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(file, columns=columns)
        reader = _open_arrow(file)
        table = reader.read_all()
        return table.select(columns)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for bad files
        raise ValueError(f"cannot be read as {file.suffix[1:]}: {type(exc).__name__}: {exc}") from None


def read_columns(file: Path, columns: list[str]) -> list[dict]:
    """The rows of ``columns`` (those the file has) as dicts; raises ValueError with the reason."""
    present = [c for c in columns if c in set(schema_names(file))]
    return read_table(file, present).to_pylist()


def _cache_key(file: Path) -> str:
    stat = file.stat()
    text = f"{file.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _suffix(data: bytes, path: str | None) -> str:
    if path and Path(path).suffix:
        return Path(path).suffix.lower()
    if data[:3] == b"\xff\xd8\xff":
        return ".jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png"
    if data[128:132] == b"DICM":
        return ".dcm"
    return ".img"


def extracted_images(file: Path, image_columns: list[str]) -> tuple[Path, dict[str, list[str | None]]]:
    """The cache folder holding ``file``'s images, and per column the file name of each row's image
    (``None`` where the cell has no image bytes); extracts them on first use."""
    from medr1_core.offline.cache import build_atomically, cache_dir, read_marker, write_marker

    present = [c for c in image_columns if c in set(schema_names(file))]
    target = cache_dir() / "images" / f"{file.stem[:40]}-{_cache_key(file)}"

    def complete(p: Path) -> bool:
        marker = read_marker(p, _MARKER) or {}
        return marker.get("format") == _FORMAT and set(present) <= set(marker.get("columns", {}))

    def build(tmp: Path) -> None:
        names = dict(_write_images(file, present, tmp))
        write_marker(tmp, _MARKER, {"format": _FORMAT, "source": str(file), "columns": names})

    build_atomically(target, build, is_complete=complete, is_ours=lambda p: read_marker(p, _MARKER) is not None,
                     what="a medr1 image cache folder")
    return target, (read_marker(target, _MARKER) or {}).get("columns", {})


def _batches(file: Path, columns: list[str]):
    """Record batches of ``columns``, a few hundred rows at a time (images are not all held at once)."""
    if file.suffix == ".parquet":
        import pyarrow.parquet as pq

        yield from pq.ParquetFile(file).iter_batches(columns=columns, batch_size=256)
        return
    for batch in _open_arrow(file):
        yield batch.select(columns)


def _write_images(file: Path, columns: list[str], out: Path) -> Iterator[tuple[str, list[str | None]]]:
    from tqdm.auto import tqdm

    names: dict[str, list[str | None]] = {c: [] for c in columns}
    row = 0
    with tqdm(desc=f"extracting images of {file.name}", unit="row", disable=None, leave=False) as bar:
        try:
            for batch in _batches(file, columns):
                cells = {c: batch.column(c).to_pylist() for c in columns}
                for i in range(batch.num_rows):
                    for column in columns:
                        names[column].append(_write_cell(cells[column][i], row, column, out))
                    row += 1
                bar.update(batch.num_rows)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for bad files
            raise ValueError(f"images cannot be read: {type(exc).__name__}: {exc}") from None
    yield from names.items()


def _write_cell(cell, row: int, column: str, out: Path) -> str | None:
    data = cell.get("bytes") if isinstance(cell, dict) else cell if isinstance(cell, bytes) else None
    if not data:
        return None
    name = f"{row:06d}-{column}{_suffix(data, cell.get('path') if isinstance(cell, dict) else None)}"
    (out / name).write_bytes(data)
    return name
