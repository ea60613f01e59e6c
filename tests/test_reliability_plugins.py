"""Reliability, class 7: one bad plugin never breaks medr1.

A plugin registering a name another already has, a hook name medr1 does not
define, ``sys.exit()`` or ``KeyboardInterrupt`` in its import, hook or reward:
each is skipped (or stopped) with a message naming the plugin; only
``MEDR1_STRICT_PLUGINS=1`` makes a skipped plugin fatal.
"""

from __future__ import annotations

import json
import os

import pytest

from medr1_core.cli import main
from medr1_core.composition import ComposedRewards, RewardFailureWarning
from medr1_core.errors import RunFailed
from medr1_core.parsing import make_rollouts
from medr1_core.plugins import PluginError, PluginWarning, load_plugins
from medr1_core.rewards import reward
from medr1_core.samples import Sample

CLAIMS_FORMAT = """
from medr1_core import hookimpl, reward

@reward(name="format")
def my_format(rollout):
    "A second reward called format."
    return 1.0

@reward(name="mine_too")
def mine_too(rollout):
    return 1.0

@hookimpl
def medr1_register_rewards(register):
    register(my_format)
    register(mine_too)
"""

MISSPELT_HOOK = """
from medr1_core import hookimpl, reward

@reward(name="never_seen")
def never_seen(rollout):
    return 1.0

@hookimpl
def medr1_register_reward(register):
    register(never_seen)
"""


def test_a_plugin_claiming_an_existing_name_is_skipped_and_both_are_named(make_distribution):
    make_distribution("aaa-claims-format", "claims_format", CLAIMS_FORMAT)  # sorts before "medr1"
    with pytest.warns(PluginWarning) as caught:
        plugins = load_plugins()
    message = "\n".join(str(w.message) for w in caught)
    assert "aaa-claims-format" in message and "reward 'format'" in message and "medr1" in message
    assert plugins.rewards.origin("format").startswith("plugin 'rewards' (medr1 ")  # the built-in keeps it
    assert "mine_too" not in plugins.rewards  # the clashing plugin registers nothing
    info = next(i for i in plugins.infos if i.distribution == "aaa-claims-format")
    assert info.error and "registered twice" in info.error and info.registered["rewards"] == []


def test_a_duplicate_name_is_fatal_only_when_strict(make_distribution, monkeypatch):
    make_distribution("aaa-claims-format", "claims_format2", CLAIMS_FORMAT)
    monkeypatch.setenv("MEDR1_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="aaa-claims-format"):
        load_plugins()


def test_a_misspelt_hook_name_skips_that_plugin_only(make_distribution):
    make_distribution("medr1-misspelt", "misspelt_plugin", MISSPELT_HOOK)
    with pytest.warns(PluginWarning, match=r"medr1-misspelt.*medr1_register_reward\b.*medr1_register_rewards"):
        plugins = load_plugins()
    assert "format" in plugins.rewards and "never_seen" not in plugins.rewards


@pytest.mark.parametrize("source", ["import sys\nsys.exit(3)\n", "raise SystemExit('bye')\n"])
def test_sys_exit_in_a_plugin_import_is_reported_with_its_name(make_distribution, source):
    make_distribution("medr1-exits", "exiting_plugin", source)
    with pytest.warns(PluginWarning, match=r"medr1-exits.*SystemExit"):
        plugins = load_plugins()
    assert "format" in plugins.rewards


def test_medr1_plugins_lists_everything_despite_bad_plugins(make_distribution, capsys):
    make_distribution("aaa-claims-format", "claims_format3", CLAIMS_FORMAT)
    make_distribution("medr1-misspelt", "misspelt_plugin2", MISSPELT_HOOK)
    make_distribution("medr1-exits", "exiting_plugin2", "import sys\nsys.exit(3)\n")
    assert main(["plugins", "--json"]) == 0
    listed = {p["distribution"]: p for p in json.loads(capsys.readouterr().out) if p["distribution"] != "medr1"}
    builtin = {p["name"]: p for p in json.loads(main(["plugins", "--json"]) or capsys.readouterr().out)}
    assert {"format", "accuracy", "dtree"} <= set(builtin["rewards"]["rewards"])
    for dist in ("aaa-claims-format", "medr1-misspelt", "medr1-exits"):
        assert listed[dist]["error"], dist


def test_keyboard_interrupt_in_a_plugin_import_names_the_plugin(make_distribution, capsys):
    make_distribution("medr1-interrupts", "interrupting_plugin", "raise KeyboardInterrupt\n")
    assert main(["plugins"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "medr1-interrupts" in err and "Traceback" not in err


def _rollouts(n=3):
    sample = Sample(id="s", question="Which?", answer="A", options={"A": "CT", "B": "MRI"})
    return make_rollouts([sample] * n, ["<think>x</think><answer>A</answer>"] * n)


def test_sys_exit_in_a_reward_counts_as_a_failure_naming_it():
    @reward(name="quitter")
    def quitter(rollout):
        raise SystemExit(4)

    composed = ComposedRewards([quitter()])
    with pytest.warns(RewardFailureWarning, match="reward 'quitter' raised SystemExit"):
        scores = composed.score(_rollouts())
    assert scores.per_reward["quitter"] == [None, None, None] and composed.failures["quitter"] == 1
    with pytest.raises(RunFailed, match="reward 'quitter'.*SystemExit"):
        ComposedRewards([quitter()], strict=True).score(_rollouts())


def test_keyboard_interrupt_in_a_reward_stops_and_names_it(tmp_path, capsys):
    code = tmp_path / "stopper.py"
    code.write_text("def stopper(prompts, completions, **kwargs):\n    raise KeyboardInterrupt\n")
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"id": "1", "question": "Which?", "options": {"A": "CT", "B": "MRI"}, "answer": "A",
                                "completion": "<answer>A</answer>"}) + "\n")
    assert main(["rewards", "score", "--rewards", f"{code}:stopper", "--input", str(data)]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "reward 'stopper'" in err
