"""medr1_core.testing: the plugin author's test kit, with and without the package installed."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

from medr1_core import Completion, Rollout, Sample, reward, testing
from medr1_core.errors import RunFailed
from medr1_core.plugins import PluginError, get_plugins, load_plugins
from medr1_core.rewards import RewardParamsError
from medr1_core.composition import RewardOutputError

ENDO = """
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from medr1_core import Modality, hookimpl, reward


class HedgeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    penalty: float = 1.0


@reward(name="no_hedging", params=HedgeParams)
def no_hedging(rollout, params):
    "1 unless the reasoning hedges ('maybe', 'possibly'); None without reasoning."
    think = rollout.completion.think
    if think is None:
        return None
    return 1.0 - params.penalty * any(w in think.lower() for w in ("maybe", "possibly"))


@hookimpl
def medr1_register_rewards(register):
    register(no_hedging)


@hookimpl
def medr1_register_modalities(register):
    register(Modality(id="endoscopy", name="Endoscopy", aliases=("Colonoscopy",), default_trees=("polyp",)))


@hookimpl
def medr1_register_rules(register):
    register(Path(__file__).with_name("polyp.yaml"))
"""

TREE = """\
id: polyp
title: Polyp shape
scope: {}
findings: {stalk: [stalk, pedunculated]}
conclusions: {ip: [pedunculated polyp], other: [sessile polyp]}
nodes:
  - {id: stalk, if: {finding: stalk}, then: {conclude: ip}, else: {conclude: other}}
"""

QUESTION = dict(question="Which shape?", options={"A": "Pedunculated polyp", "B": "Sessile polyp"}, answer="A",
                modality="Colonoscopy")


def write_package(tmp_path, name="medr1_kit_endo"):
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(ENDO))
    (tmp_path / "polyp.yaml").write_text(TREE)
    return name


@pytest.fixture
def not_installed(tmp_path, monkeypatch):
    """The plugin module importable but not installed (no entry point): a checkout under test."""
    name = write_package(tmp_path, "medr1_kit_endo")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module(name)
    sys.modules.pop(name, None)


@pytest.fixture
def installed(make_distribution):
    """The same plugin installed: a distribution whose entry point names the module."""
    path = make_distribution("medr1-kit-endo", "medr1_kit_endo2", ENDO, entry_point="endo")
    (path / "polyp.yaml").write_text(TREE)
    yield importlib.import_module("medr1_kit_endo2")
    sys.modules.pop("medr1_kit_endo2", None)


@pytest.mark.parametrize("which", ["not_installed", "installed"])
def test_kit_loads_scores_and_checks_trees_installed_or_not(which, request):
    module = request.getfixturevalue(which)
    with testing.use_plugins(module) as plugins:
        assert get_plugins() is plugins
        holders = [i for i in plugins.infos if "no_hedging" in i.registered["rewards"]]
        assert len(holders) == 1  # loaded once, however it is found
        assert plugins.modalities.resolve("Colonoscopy") == "endoscopy"
        assert "polyp" in plugins.rules
        texts = ["<think>A pedunculated lesion.</think><answer>A</answer>",
                 "<think>Maybe pedunculated.</think><answer>A</answer>",
                 "<answer>A</answer>"]
        assert testing.score("no_hedging", texts, **QUESTION) == [1.0, 0.0, None]
        assert testing.score(module.no_hedging, texts[1:2], params={"penalty": 0.5}, **QUESTION) == [0.5]
        # the plugin's tree applies through the modality's default_trees
        assert testing.score("dtree", texts[:1], **QUESTION) == [1.0]
        assert testing.tree_problems("polyp") == []
    assert get_plugins() is not plugins  # restored after the block


def test_the_documented_in_process_recipe_works_when_installed(installed):
    plugins = load_plugins(extra=[("endo_in_process", installed)], strict=True)  # used to raise pluggy's ValueError
    assert [i.name for i in plugins.infos if "no_hedging" in i.registered["rewards"]] == ["endo"]


def test_an_in_process_plugin_with_an_installed_plugins_name_is_named(installed):
    class Other:
        pass

    with pytest.raises(PluginError, match=r"plugin 'endo' \(in-process\).*has the name of plugin 'endo' "
                                          r"\(medr1-kit-endo 1\.0\)"):
        load_plugins(extra=[("endo", Other)], strict=True)


def test_rollouts_are_parsed_by_medr1_and_resolve_aliases(not_installed):
    with testing.use_plugins(not_installed):
        (r,) = testing.rollouts(["<think>x</think><answer>B</answer>"], task="Disease Diagnosis", **QUESTION)
    assert r.sample.modality == "endoscopy" and r.sample.task == "disease_diagnosis"
    assert r.completion.letter == "B" and r.completion.well_formed and r.completion.think == "x"


def test_score_checks_what_a_run_checks():
    @reward(name="two_for_one", batched=True)
    def two_for_one(rollouts):
        return [1.0, 1.0, 1.0][: len(rollouts) + 1]

    @reward(name="too_big")
    def too_big(rollout):
        return 2.0

    text = ["<answer>A</answer>"]
    with pytest.raises(RewardOutputError, match="reward 'two_for_one' returned 2 scores for 1 completions"):
        testing.score(two_for_one, text, **QUESTION)
    with pytest.raises(RunFailed, match=r"reward 'too_big' returned 2, outside its declared range \[0, 1\]"):
        testing.score(too_big, text, **QUESTION)
    with pytest.raises(RewardParamsError, match="reward 'accuracy': parameter 'open_threshold'"):
        testing.score("accuracy", text, params={"open_threshold": 101}, **QUESTION)
    done = Rollout(Sample(id="1", question="?", answer="A", options={"A": "x", "B": "y"}),
                   Completion(text="", answer="A", letters=("A",), well_formed=True))
    assert testing.score("accuracy", [done]) == [1.0]


def test_tree_problems(tmp_path):
    good = tmp_path / "polyp.yaml"
    good.write_text(TREE)
    assert testing.tree_problems(good) == [] and testing.tree_problems(tmp_path) == []
    bad = TREE.replace("{finding: stalk}", "{finding: stalks}")
    (tmp_path / "bad.yaml").write_text(bad)
    problems = testing.tree_problems(tmp_path / "bad.yaml")
    assert len(problems) == 1 and "bad.yaml: $.nodes[0].if.finding: unknown finding 'stalks'" in problems[0]
    import yaml

    assert "unknown finding 'stalks'" in testing.tree_problems(yaml.safe_load(bad))[0]
    assert testing.tree_problems("cxr_pneumonia_covid") == []
    assert "no registered tree of that name" in testing.tree_problems("no_such_tree")[0]
