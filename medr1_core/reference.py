"""Reference tables of the docs, generated from the code so they cannot drift.

A doc holds each table between two markers::

    <!-- reference: modality -->
    ...generated...
    <!-- /reference -->

:func:`render` makes a table from the code (the fields of ``Modality``,
``Task``, ``DataFormat``, the ``@reward`` signature, ``answer_kind`` values,
each registered reward's parameters with constraints, the training defaults
``--model tiny`` changes); ``tests/test_reference_docs.py`` fails when a doc's
block differs, and ``python -m medr1_core.reference`` rewrites the blocks.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import typing
from collections.abc import Callable
from pathlib import Path

BLOCK = re.compile(r"(<!-- reference: (?P<name>[\w:-]+) -->\n)(?P<body>.*?)(<!-- /reference -->)", re.S)
DOCS = Path(__file__).resolve().parents[1] / "docs"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown(rst: str) -> str:
    """A docstring's reStructuredText roles and double backticks as Markdown code."""
    return re.sub(r":\w+:`~?([^`]+)`", r"`\1`", rst).replace("``", "`")


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        return f"`{f.default!r}`"
    if f.default_factory is not dataclasses.MISSING:
        return f"`{f.default_factory()!r}`"
    return "required"


def spec_fields(cls: type) -> str:
    """The fields of a spec dataclass: name, type, default and the ``doc`` of its metadata."""
    rows = ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    for f in dataclasses.fields(cls):
        kind = _cell(str(f.type).replace("'", ""))
        rows.append(f"| `{f.name}` | `{kind}` | {_cell(_default(f))} | {_cell(f.metadata.get('doc', ''))} |")
    return "\n".join(rows)


def answer_kinds() -> str:
    from .specs import Task

    kinds = typing.get_args(typing.get_type_hints(Task)["answer_kind"])
    return "`answer_kind` is one of: " + ", ".join(f"`{k}`" for k in kinds) + "."


def reward_signature() -> str:
    from .rewards import reward

    sig = inspect.signature(reward)
    params = ", ".join(f"{name}: {str(p.annotation).strip(chr(39))} = {p.default!r}"
                       for name, p in sig.parameters.items() if name != "fn")
    return "\n".join([
        "```python",
        f"@reward({params})",
        "def f(rollout) -> float | None: ...                   # batched=False (default), no parameters",
        "def f(rollout, params) -> float | None: ...           # with params=: the validated Params instance",
        "def f(rollouts) -> list[float | None]: ...            # batched=True: the whole batch, one score each",
        "def f(rollouts, params) -> list[float | None]: ...    # batched=True with params=",
        "```",
    ])


def reward_params(name: str) -> str:
    """The parameter table of the registered reward ``name``."""
    from .plugins import get_plugins
    from .rewards import param_info

    cls = get_plugins().rewards.get(name)
    rows = ["| parameter | type | default | constraints | meaning |", "| --- | --- | --- | --- | --- |"]
    for p in param_info(cls.Params):
        rows.append(f"| `{p['name']}` | `{_cell(p['type'])}` | `{_cell(repr(p['default']))}` | "
                    f"{_cell('; '.join(p['constraints']))} | {_cell(_markdown(p['description']))} |")
    return "\n".join(rows)


def tiny_defaults() -> str:
    """The GRPO settings ``--model tiny`` (and every ``tiny-*`` model) changes, next to medr1's defaults."""
    from .train.config import TINY_PRESET, GRPOSettings

    rows = ["| `grpo` field | medr1 default | with a tiny model |", "| --- | --- | --- |"]
    for key, value in TINY_PRESET.items():
        info = GRPOSettings.model_fields.get(key)
        default = info.get_default(call_default_factory=True) if info is not None else "TRL's"
        rows.append(f"| `{key}` | `{default!r}` | `{value!r}` |")
    return "\n".join(rows)


def _spec(name: str) -> Callable[[], str]:
    def make() -> str:
        from . import specs

        return spec_fields(getattr(specs, name))

    return make


TABLES: dict[str, Callable[[], str]] = {
    "modality": _spec("Modality"),
    "task": _spec("Task"),
    "data-format": _spec("DataFormat"),
    "rule-file": _spec("RuleFile"),
    "answer-kinds": answer_kinds,
    "reward-decorator": reward_signature,
    "tiny-defaults": tiny_defaults,
}


def render(name: str) -> str:
    """The generated text of block ``name`` (``rewards:<reward>`` for a reward's parameters)."""
    if name.startswith("rewards:"):
        return reward_params(name.split(":", 1)[1])
    return TABLES[name]()


def blocks(text: str) -> list[tuple[str, str]]:
    """``(name, body)`` of each reference block in ``text``."""
    return [(m["name"], m["body"]) for m in BLOCK.finditer(text)]


def rewrite(text: str) -> str:
    """``text`` with every reference block regenerated."""
    return BLOCK.sub(lambda m: f"{m.group(1)}{render(m['name'])}\n{m.group(4)}", text)


def main(argv: list[str] | None = None) -> int:
    """Regenerate the reference blocks of docs/*.md in place; print which files changed."""
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        new = rewrite(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
