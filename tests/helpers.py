"""Helpers shared by tests (import as ``from helpers import run_cli, SPLITS``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The tests' own subset of Med-R1's public splits (see tests/data/make_medr1_splits_subset.py).
SPLITS_SUBSET = REPO / "tests" / "data" / "medr1-splits"
#: The splits the data tests read: the full ones when MEDR1_SPLITS_DIR names them, else the subset.
SPLITS = Path(os.environ["MEDR1_SPLITS_DIR"]) if os.environ.get("MEDR1_SPLITS_DIR") else SPLITS_SUBSET
FULL_SPLITS = SPLITS != SPLITS_SUBSET
#: What the full splits hold, as published (checked only when they are the ones read).
PUBLISHED = {"records": 35_581, "questions": 32_072, "in_both_groupings": 3_509, "distinct_images": 31_123,
             "options": {4: 29_540, 2: 2_490, 3: 42}}


@lru_cache(maxsize=None)
def split_counts(root: Path = SPLITS) -> dict:
    """Counted straight from the JSON, independently of medr1's reader: records, distinct
    questions (image + problem), questions in more than one file, distinct images, options."""
    files = sorted(root.glob("*/*.json"))
    where: dict[tuple[str, str], int] = Counter()
    records = 0
    for file in files:
        rows = json.loads(file.read_text())
        records += len(rows)
        for r in rows:
            where[(r["image"], r["problem"])] += 1
    options = Counter(sum(f"{letter})" in problem.split("?")[-1] or f", {letter})" in problem
                          for letter in "ABCD") for _, problem in where)
    return {
        "files": len(files),
        "records": records,
        "questions": len(where),
        "in_both_groupings": sum(1 for n in where.values() if n > 1),
        "distinct_images": len({image for image, _ in where}),
        "options": dict(options),
    }


def run_cli(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``medr1 ARGS`` in a fresh interpreter (as a user would)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "medr1_core.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=REPO,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"medr1 {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc
