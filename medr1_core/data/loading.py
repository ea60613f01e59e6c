"""Loading a dataset through the data-format plugins: :func:`load_samples` and its :class:`LoadReport`.

A dataset is a file or a folder in one registered format (detected, or named
with ``--format``). Every record is either a :class:`~medr1_core.Sample` or a
:class:`~medr1_core.specs.BadRecord` with its file, index and reason: nothing
is dropped silently.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from ..samples import Sample
from ..specs import BadRecord

if TYPE_CHECKING:
    from ..plugins import Plugins

#: The name ``load_samples`` and ``--data`` take for the bundled synthetic set.
SAMPLE_DATA = "sample"
#: ``--data sample-heldout``: the sample set's held-out questions (other images, same kinds of question).
SAMPLE_HELDOUT = "sample-heldout"


class DataWarning(UserWarning):
    """Something in the data worth knowing (skipped rows, images shared by train and test)."""


@dataclass
class LoadReport:
    """What :func:`load_samples` read: the samples, and every record it could not use.

    ``bad`` lists each unusable record as ``BadRecord(file, index, reason)``
    (index -1: a problem with the whole file). ``merged`` counts samples that
    were found in more than one file and merged (Med-R1's two groupings);
    ``excluded`` counts good samples left out by the selection.
    """

    path: str
    format: str
    samples: list[Sample] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)
    excluded: int = 0

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self):
        return iter(self.samples)

    @property
    def merged(self) -> int:
        return sum(1 for s in self.samples if s.extras.get("also_in"))

    def by_modality(self) -> dict[str, int]:
        return _count(s.modality for s in self.samples)

    def by_task(self) -> dict[str, int]:
        return _count(s.task for s in self.samples)

    def by_dataset(self) -> dict[str, int]:
        return _count(s.dataset for s in self.samples)

    def by_answer_type(self) -> dict[str, int]:
        """Closed and open questions (:attr:`Sample.answer_type`), as the VQA benchmarks split them."""
        return _count(s.answer_type for s in self.samples)

    def by_language(self) -> dict[str, int]:
        """Questions by language (``"none"`` where the dataset does not say)."""
        return _count(s.language for s in self.samples)

    def unmapped_labels(self) -> dict[str, dict[str, int]]:
        """Dataset labels no modality or task plugin knows, by kind, with how many questions carry
        each (``Sample.extras["unmapped"]``): those questions are read without that label."""
        out: dict[str, Counter] = {}
        for s in self.samples:
            for kind, label in (s.extras.get("unmapped") or {}).items():
                out.setdefault(kind, Counter())[str(label)] += 1
        return {kind: dict(counts.most_common()) for kind, counts in sorted(out.items())}

    def table(self) -> dict[str, dict[str, int]]:
        """Counts by modality, then task (``"none"`` where a sample has no label)."""
        out: dict[str, Counter] = {}
        for s in self.samples:
            out.setdefault(s.modality or "none", Counter())[s.task or "none"] += 1
        return {m: dict(sorted(c.items())) for m, c in sorted(out.items())}

    def option_counts(self) -> dict[str, int]:
        """How many questions have 2, 3, 4 ... options (``"open"``: none)."""
        return _count(str(len(s.options)) if s.options else "open" for s in self.samples)

    def answer_letters(self) -> dict[str, int]:
        """How often each letter is the correct answer (a skew a model can exploit)."""
        return _count(s.answer for s in self.samples if s.options)

    def summary(self, missing_images: int | None = None) -> dict[str, Any]:
        """Everything ``medr1 data inspect --json`` prints (one JSON-ready dict)."""
        out: dict[str, Any] = {
            "path": self.path,
            "format": self.format,
            "total": len(self.samples),
            "by_modality": self.by_modality(),
            "by_task": self.by_task(),
            "by_modality_task": self.table(),
            "by_dataset": self.by_dataset(),
            "by_answer_type": self.by_answer_type(),
            "by_language": self.by_language(),
            "unmapped_labels": self.unmapped_labels(),
            "options": self.option_counts(),
            "answer_letters": self.answer_letters(),
            "merged": self.merged,
            "excluded": self.excluded,
            "bad": [{"file": b.file, "index": b.index, "line": b.line, "reason": b.reason} for b in self.bad],
        }
        if missing_images is not None:
            out["missing_images"] = missing_images
        return out


def _count(values: Iterable[str | None]) -> dict[str, int]:
    counts = Counter(v if v is not None else "none" for v in values)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def detect_format(path: Path, plugins: "Plugins") -> str:
    """The name of the first registered data format whose ``detect`` accepts ``path``."""
    for name, data_format in plugins.data_formats.items():
        try:
            if data_format.detect(path):
                return name
        except Exception as exc:  # noqa: BLE001 - a broken detector must not hide the others
            warnings.warn(f"data format {name!r} failed to inspect {path}: {exc}", DataWarning, stacklevel=2)
    known = ", ".join(plugins.data_formats.names()) or "(none registered)"
    raise DataError(f"cannot tell the format of {path}: none of the data formats ({known}) recognises it; name one with --format")


def load_samples(
    path_or_name: str | os.PathLike,
    *,
    format: str | None = None,
    modalities: Iterable[str] | str | None = None,
    tasks: Iterable[str] | str | None = None,
    datasets: Iterable[str] | str | None = None,
    image_root: str | os.PathLike | None = None,
    plugins: "Plugins | None" = None,
) -> LoadReport:
    """Read a dataset (a file or a folder of files of one format) through the format plugins.

    ``path_or_name`` is a path, or ``"sample"`` / ``"sample-heldout"`` for the bundled
    synthetic set's training and held-out questions (generated into the cache on first
    use; see :mod:`medr1_core.offline.sample_data`).
    ``format`` names a data format (else it is detected). ``modalities``,
    ``tasks`` (ids or aliases) and ``datasets`` (source dataset names) select
    samples, see :func:`select`. ``image_root`` overrides the folder relative
    image paths are resolved against. Samples with an id seen before are
    reported as bad records, not counted twice.
    """
    from ..plugins import get_plugins
    from .selection import select

    plugins = plugins or get_plugins()
    if str(path_or_name) in (SAMPLE_DATA, SAMPLE_HELDOUT):
        from ..offline.sample_data import ensure_sample_data

        path = ensure_sample_data(split="train" if str(path_or_name) == SAMPLE_DATA else "heldout")
    else:
        path = Path(path_or_name).expanduser()
    if not path.exists():
        raise DataError(f"no such file or directory: {path}")
    name = format or detect_format(path, plugins)
    data_format = plugins.data_formats.get(name)
    report = LoadReport(path=str(path), format=data_format.name)
    seen: dict[str, str] = {}
    try:
        for item in data_format.read(path, plugins):
            if isinstance(item, BadRecord):
                report.bad.append(item)
                continue
            first = seen.get(item.id)
            if first is not None:
                file, index = _source(item)
                report.bad.append(BadRecord(file, index, f"duplicate id {item.id!r}: first seen at {first}"))
                continue
            seen[item.id] = item.extras.get("source", "?")
            report.samples.append(item)
    except Exception as exc:  # noqa: BLE001 - keep what was read, say what broke
        report.bad.append(BadRecord(str(path), -1, f"data format {name!r} stopped reading: {type(exc).__name__}: {exc}"))
    if image_root is not None:
        root = str(Path(image_root).expanduser())
        for sample in report.samples:
            sample.extras["image_root"] = root
    if modalities or tasks or datasets:
        selected = select(report.samples, modalities=modalities, tasks=tasks, datasets=datasets, plugins=plugins)
        report.excluded = len(report.samples) - len(selected)
        report.samples = selected
    return report


def _source(sample: Sample) -> tuple[str, int]:
    file, _, index = str(sample.extras.get("source", "?#-1")).rpartition("#")
    try:
        return file, int(index)
    except ValueError:
        return file, -1
