"""Write tests/data/medr1-splits/: a small subset of Med-R1's public evaluation splits.

Source: Med-R1 (arXiv 2503.13939), its splits of OmniMedVQA's open-access part,
as published (``modality/<Modality>_test.json``, ``question_type/<Type>_test.json``;
records ``{"image", "problem", "solution"}``); no images. Run once with the full
splits to (re)build the subset the tests carry::

    python tests/data/make_medr1_splits_subset.py ../shared/data/medr1-splits

Deterministic: from every file, every k-th record (about 14 per file), plus
records that make the subset exercise what the full splits have: questions in
both groupings (so they merge), one for every modality x question type that
has them; images asked about by several question types (they leak across a
cross-task split); questions only in a question-type file whose image has a
modality elsewhere (the reader gives them that modality); 2- and 3-option
questions; option texts with parentheses. File names keep the split's own
labels, typos included.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PER_FILE = 14
OUT = Path(__file__).with_name("medr1-splits")


def _options(problem: str) -> int:
    return sum(f"{letter})" in problem for letter in "ABCDEF")


def _coverage(records: dict[Path, list[dict]], by_key: dict) -> dict[Path, list[dict]]:
    """Records that cover each merged modality x type cell, shared images and inherited modalities."""
    out: dict[Path, list[dict]] = {}
    cells: set[tuple[str, str]] = set()
    modality_images = {r["image"] for f, rows in records.items() if f.parent.name == "modality" for r in rows}
    type_files = [f for f in records if f.parent.name == "question_type"]
    for f in type_files:
        inherited = 0
        for r in records[f]:
            modality_files = [o for o in by_key[(r["image"], r["problem"])] if o.parent.name == "modality"]
            cell = (modality_files[0].name, f.name) if modality_files else None
            if cell and cell not in cells:
                cells.add(cell)
                out.setdefault(f, []).append(r)
            elif not modality_files and r["image"] in modality_images and inherited < 2:
                inherited += 1  # its image's other question, in a modality file, brings the modality
                out.setdefault(f, []).append(r)
                for mf, mrows in records.items():
                    if mf.parent.name == "modality":
                        out.setdefault(mf, []).extend(x for x in mrows if x["image"] == r["image"])
    types_of_image: dict[str, list[tuple[Path, dict]]] = {}
    for f in type_files:
        for r in records[f]:
            types_of_image.setdefault(r["image"], []).append((f, r))
    several = [entries for entries in types_of_image.values() if len({f for f, _ in entries}) > 1][:6]
    for entries in several:
        for f, r in entries:
            out.setdefault(f, []).append(r)
    return out


def main(full: Path) -> None:
    files = sorted(full.glob("*/*.json"))
    records = {f: json.loads(f.read_text()) for f in files}
    by_key: dict[tuple[str, str], list[Path]] = {}
    for f, rows in records.items():
        for r in rows:
            by_key.setdefault((r["image"], r["problem"]), []).append(f)
    chosen: dict[Path, list[dict]] = {f: [] for f in files}
    extra = _coverage(records, by_key)
    for f, rows in records.items():
        step = max(1, len(rows) // PER_FILE)
        picks = rows[::step][:PER_FILE]
        shared = [r for r in rows if len(by_key[(r["image"], r["problem"])]) > 1][:3]
        odd = [r for r in rows if _options(r["problem"]) in (2, 3)][:2]
        paren = [r for r in rows if "(" in r["problem"].split("A)", 1)[-1]][:1]
        for r in [*picks, *shared, *odd, *paren, *extra.get(f, [])]:
            for owner in by_key[(r["image"], r["problem"])]:  # keep a shared question in every file it is in
                match = next(x for x in records[owner] if (x["image"], x["problem"]) == (r["image"], r["problem"]))
                if match not in chosen[owner]:
                    chosen[owner].append(match)
    for f, rows in chosen.items():
        target = OUT / f.relative_to(full)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {sum(map(len, chosen.values()))} records in {len(files)} files under {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
