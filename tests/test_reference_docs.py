"""The docs' reference tables are the code's: generated from it, and checked against it here."""

from __future__ import annotations

import dataclasses

import pytest

from helpers import REPO

from medr1_core import DataFormat, Modality, RuleFile, Task
from medr1_core import reference
from medr1_core.plugins import get_plugins

DOCS = sorted((REPO / "docs").glob("*.md"))
#: every table the docs must carry, and where
REQUIRED = {
    "plugins.md": {"modality", "task", "answer-kinds", "data-format", "rule-file", "reward-decorator"},
    "rewards.md": {"rewards:format", "rewards:accuracy", "rewards:dtree"},
    "training.md": {"tiny-defaults"},
}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_reference_block_matches_the_code(doc):
    for name, body in reference.blocks(doc.read_text()):
        assert body == reference.render(name) + "\n", (
            f"docs/{doc.name}: the '{name}' table differs from the code; run python -m medr1_core.reference")


def test_the_docs_carry_every_required_table():
    for doc, names in REQUIRED.items():
        present = {name for name, _ in reference.blocks((REPO / "docs" / doc).read_text())}
        assert names <= present, f"docs/{doc} lacks {sorted(names - present)}"
    documented = {name for doc in DOCS for name, _ in reference.blocks(doc.read_text())}
    builtin = {f"rewards:{n}" for n, cls in get_plugins().rewards.items() if "medr1 " in get_plugins().rewards.origin(n)}
    assert builtin <= documented  # a new built-in reward gets its table


@pytest.mark.parametrize("cls", [Modality, Task, DataFormat, RuleFile])
def test_every_spec_field_is_described(cls):
    table = reference.render({Modality: "modality", Task: "task", DataFormat: "data-format",
                              RuleFile: "rule-file"}[cls])
    for f in dataclasses.fields(cls):
        assert f.metadata.get("doc"), f"{cls.__name__}.{f.name} has no doc"
        assert f"| `{f.name}` |" in table


def test_reward_tables_show_constraints_and_the_cli_shows_the_same():
    table = reference.render("rewards:dtree")
    assert "| `fuzzy_threshold` | `float` | `90.0` | >= 50; <= 100 |" in table
    accuracy = reference.render("rewards:accuracy")
    assert "one of auto, fuzzy, exact, contains, recall, f1" in accuracy


def test_rewrite_regenerates_a_stale_block():
    stale = "intro\n<!-- reference: answer-kinds -->\nold text\n<!-- /reference -->\nend\n"
    assert reference.rewrite(stale) == ("intro\n<!-- reference: answer-kinds -->\n`answer_kind` is one of: `choice`, "
                                        "`open`.\n<!-- /reference -->\nend\n")
