"""`medr1 plugins new NAME` writes a package whose own tests pass as generated, installed or not."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from medr1_core.errors import UsageError
from medr1_core.scaffold import check_name, new_plugin

from helpers import run_cli


def run_tests(package, extra_path: list[str] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*extra_path, os.environ.get("PYTHONPATH", "")])}
    env.pop("MEDR1_DISABLE_PLUGINS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=package, env=env,
                          capture_output=True, text=True)


def test_generated_package_tests_pass_without_installing(tmp_path):
    proc = run_cli("plugins", "new", "demo", "--dir", str(tmp_path))
    root = tmp_path / "medr1-demo"
    assert f"wrote {root / 'pyproject.toml'}" in proc.stdout
    assert {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} == {
        "pyproject.toml", "README.md", "medr1_demo/__init__.py", "medr1_demo/trees/demo_lesion.yaml",
        "tests/test_demo.py"}
    pyproject = (root / "pyproject.toml").read_text()
    assert '[project.entry-points.medr1]\ndemo = "medr1_demo"' in pyproject
    assert '"medr1_demo" = ["trees/*.yaml"]' in pyproject
    result = run_tests(root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 passed" in result.stdout


@pytest.mark.slow
def test_generated_package_installs_and_its_tests_still_pass(tmp_path):
    root = new_plugin("endo_scope", tmp_path)
    assert root.name == "medr1-endo-scope"
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "install", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(root)], check=True)
    assert (target / "medr1_endo_scope" / "trees" / "endo_scope_lesion.yaml").is_file()  # package data shipped
    result = run_tests(root, [str(target)])
    assert result.returncode == 0, result.stdout + result.stderr
    env = {"PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    listed = {p["name"]: p for p in json.loads(run_cli("plugins", "--json", env=env).stdout)}
    assert listed["endo_scope"]["distribution"] == "medr1-endo-scope"
    assert listed["endo_scope"]["rules"] == ["endo_scope_lesion"]
    trees = json.loads(run_cli("rules", "list", "--json", env=env).stdout)
    assert any(t["name"] == "endo_scope_lesion" and "medr1-endo-scope 0.1.0" in t["plugin"] for t in trees)


@pytest.mark.parametrize("name", ["Demo", "medr1-demo", "demo_2"])
def test_names_are_normalised(name):
    assert check_name(name) in {"demo", "demo_2"}


@pytest.mark.parametrize("name", ["2demo", "de mo", "", "demo!", "x" * 50])
def test_bad_names_are_refused(name):
    with pytest.raises(UsageError, match="expected a short lower-case name"):
        check_name(name)


def test_an_existing_folder_is_not_overwritten(tmp_path):
    (tmp_path / "medr1-demo").mkdir()
    proc = run_cli("plugins", "new", "demo", "--dir", str(tmp_path), check=False)
    assert proc.returncode == 2 and "already exists" in proc.stderr
    assert list((tmp_path / "medr1-demo").iterdir()) == []
