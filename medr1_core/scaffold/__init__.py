"""``medr1 plugins new NAME``: write a working plugin package to start from.

The package (``medr1-NAME/``) has a pyproject with the ``medr1`` entry point
and its rule files as package data, one module with a reward, a modality and
the hook registering its decision tree, one tree, a README, and tests written
with :mod:`medr1_core.testing` that pass as generated, installed or not. The
files are made from the templates in ``templates/`` (``string.Template``).
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from .._version import __version__
from ..errors import UsageError

TEMPLATES = Path(__file__).with_name("templates")
NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")

#: template -> the path it is written to, inside the package folder
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "plugin.py.tmpl": "{module}/__init__.py",
    "tree.yaml.tmpl": "{module}/trees/{name}_lesion.yaml",
    "test_plugin.py.tmpl": "tests/test_{name}.py",
}


def check_name(name: str) -> str:
    """``name`` as the plugin's entry-point name (``-`` read as ``_``); :class:`UsageError` if it cannot be one."""
    norm = name.strip().lower().replace("-", "_")
    if norm.startswith("medr1_"):
        norm = norm[len("medr1_"):]
    if not NAME.fullmatch(norm) or norm.endswith("_"):
        raise UsageError(f"plugin name {name!r}: expected a short lower-case name of letters, digits and _ "
                         "starting with a letter (e.g. endoscopy); the package becomes medr1-NAME")
    return norm


def render(name: str) -> dict[str, str]:
    """``{relative path: text}`` of the package for plugin ``name`` (already checked)."""
    values = {
        "name": name,
        "module": f"medr1_{name}",
        "dist": f"medr1-{name.replace('_', '-')}",
        "title": name.replace("_", " ").capitalize(),
        "constant": name.upper(),
        "medr1_version": __version__,
    }
    return {
        target.format(**values): Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)
        for template, target in FILES.items()
    }


def new_plugin(name: str, parent: str | Path = ".") -> Path:
    """Write the package for plugin ``name`` into ``parent/medr1-NAME``; returns that folder.

    Refuses (:class:`UsageError`) an invalid name or a folder that already exists.
    """
    name = check_name(name)
    root = Path(parent) / f"medr1-{name.replace('_', '-')}"
    if root.exists():
        raise UsageError(f"{root} already exists; choose another name or folder (--dir)")
    for rel, text in render(name).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
