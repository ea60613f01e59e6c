"""The example third-party package, pip-installed for real into this environment."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import REPO, run_cli

EXAMPLE = REPO / "examples" / "medr1-laterality"


@pytest.fixture(scope="module")
def installed_example():
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--no-deps", "--no-build-isolation", str(EXAMPLE)], check=True)
    try:
        yield
    finally:
        subprocess.run([*pip, "uninstall", "-y", "medr1-laterality"], check=True)


def test_installed_package_is_listed_by_medr1_plugins(installed_example):
    listed = {p["name"]: p for p in json.loads(run_cli("plugins", "--json").stdout)}
    assert listed["laterality"]["distribution"] == "medr1-laterality"
    assert listed["laterality"]["version"] == "0.1.0"
    assert listed["laterality"]["rewards"] == ["laterality"]


def test_installed_reward_is_selected_by_name(installed_example, tmp_path):
    line = {
        "id": "q1",
        "question": "Which side is the effusion on?",
        "options": {"A": "Left", "B": "Right"},
        "answer": "A",
        "completion": "<think>Blunted left costophrenic angle.</think><answer>A</answer>",
    }
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(line) + "\n")
    out = run_cli("rewards", "score", "--rewards", "accuracy,laterality", "--input", str(src)).stdout
    scored = json.loads(out.splitlines()[0])
    assert scored["rewards"] == {"accuracy": 1.0, "laterality": 1.0}
