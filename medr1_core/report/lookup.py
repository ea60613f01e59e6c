"""Questions and images of records written before medr1 recorded them, found through their data.

``completions.jsonl`` and ``predictions.jsonl`` record each question's text,
options and image paths. Older files hold only the sample id (and some
labels); :func:`fill_from_data` finds the rest in the run's dataset (its
``config.yaml`` or ``results.json`` names it), by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: What a record needs for the report, and the Sample attribute it comes from.
FIELDS = {"question": "question", "options": "options", "modality": "modality", "task": "task"}


def fill_from_data(records: Sequence[dict[str, Any]], data: str | None, *, format: str | None = None,
                   image_root: str | None = None) -> str | None:
    """Give each record without ``images`` its sample's question, options, labels and image paths.

    Returns a sentence for the page when something could not be found (the
    data cannot be read, or ids it does not hold), else ``None``.
    """
    missing = [r for r in records if "images" not in r]
    if not missing:
        return None
    if not data:
        return f"{len(missing)} record(s) name no images and the run names no dataset to find them in."
    from ..data import image_path, load_samples
    from ..errors import Medr1Error

    try:
        loaded = load_samples(data, format=format)
    except (Medr1Error, OSError) as exc:
        return f"{len(missing)} record(s) name no images, and their dataset {data} cannot be read now: {exc}"
    by_id = {s.id: s for s in loaded.samples}
    unknown = 0
    for record in missing:
        sample = by_id.get(record.get("id"))
        if sample is None:
            unknown += 1
            record["images"] = []
            continue
        for key, attr in FIELDS.items():
            if record.get(key) is None:
                record[key] = getattr(sample, attr)
        record["images"] = [image_path(sample, p, image_root) for p in sample.images]
    if unknown:
        return f"{unknown} record(s) name ids that {data} does not hold now; they are shown without images."
    return None
