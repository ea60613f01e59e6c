"""Helpers shared by tests (import as ``from helpers import run_cli, SPLITS``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SPLITS = SHARED_DATA / "medr1-splits"


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
