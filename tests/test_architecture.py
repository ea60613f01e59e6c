"""The layout is the architecture: the core at the top of medr1_core, features below, nothing tangled."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import medr1_core
from medr1_core.errors import Medr1Error

PACKAGE = Path(medr1_core.__file__).parent
FEATURES = {"composition", "data", "train", "eval", "experiment", "report", "offline", "scaffold", "cli"}
CORE = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def _module_level_imports(path: Path) -> set[str]:
    """The medr1_core sub-packages/modules a file imports at module level (not inside functions)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.level:
            base = (node.module or "").split(".")[0]
            names.update([base] if base else [a.name for a in node.names])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("medr1_core."):
            names.add(node.module.split(".")[1])
    return names


def test_the_tree_shows_the_core_and_the_feature_packages():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages == FEATURES
    assert {"hookspecs", "plugins", "registry", "specs", "samples", "parsing", "prompts", "rewards"} <= set(CORE)
    assert not any(p.is_dir() and (p / "__init__.py").exists() for pkg in FEATURES for p in (PACKAGE / pkg).iterdir())


def test_core_modules_import_only_the_core():
    for name in CORE:
        imported = _module_level_imports(PACKAGE / f"{name}.py") - {"__future__"}
        assert imported <= set(CORE), f"medr1_core/{name}.py imports {sorted(imported - set(CORE))} at module level"


def test_features_do_not_import_the_cli_and_every_module_imports_alone():
    for info in pkgutil.walk_packages([str(PACKAGE)], "medr1_core."):
        if info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)  # no import cycle anywhere
        if info.name.startswith("medr1_core.cli"):
            continue
        path = Path(importlib.import_module(info.name).__file__)
        assert "cli" not in _module_level_imports(path), f"{info.name} imports the CLI"


def test_the_core_names_no_first_party_plugin():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(m.startswith("medr1_plugins") for m in modules), f"{path} imports a built-in plugin"


def test_no_function_in_medr1_core_is_longer_than_about_80_lines():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 85:
                long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert long == []


def test_every_error_medr1_raises_for_users_is_a_medr1error():
    for info in pkgutil.walk_packages([str(PACKAGE)], "medr1_core."):
        if info.name.startswith("medr1_core.cli"):  # the CLI turns Medr1Errors into click's exits
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, Exception) and not issubclass(obj, Warning)
                    and obj.__module__ == module.__name__):
                assert issubclass(obj, Medr1Error), f"{info.name}.{name} does not derive from Medr1Error"
