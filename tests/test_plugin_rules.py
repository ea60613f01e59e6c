"""Rule files are a registered kind: plugins ship decision trees that medr1 finds by name."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from medr1_core import Modality, hookimpl
from medr1_core import plugins as plugins_mod
from medr1_core.composition import compose, read_config
from medr1_core.parsing import make_rollouts
from medr1_core.plugins import PluginWarning, load_plugins
from medr1_core.samples import Sample
from medr1_plugins.rewards.dtree_rules import TreeError

from helpers import run_cli

# A small Paris-classification tree, scoped to microscopy: the endoscopy modality's default_trees brings it in.
PARIS = """\
id: paris_polyp
title: Paris classification of superficial lesions (endoscopy)
references: ["The Paris endoscopic classification of superficial neoplastic lesions. Gastrointest Endosc 2003;58:S3-43"]
scope:
  modalities: [microscopy]
  tasks: [disease_diagnosis]
findings:
  stalk: [stalk, pedunculated, stalked]
  elevated: [elevated, protruding, raised]
  flat: [flat, slightly elevated, plaque]
conclusions:
  ip: [0-Ip, pedunculated polyp]
  is: [0-Is, sessile polyp]
  iia: [0-IIa, flat lesion]
nodes:
  - {id: stalk, if: {finding: stalk}, then: {conclude: ip}, else: raised}
  - {id: raised, if: {finding: elevated}, then: {conclude: is}, else: flat}
  - {id: flat, if: {finding: flat}, then: {conclude: iia}}
"""

ENDO_PLUGIN = """
from pathlib import Path
from medr1_core import Modality, hookimpl

@hookimpl
def medr1_register_modalities(register):
    register(Modality(id="endoscopy", name="Endoscopy", aliases=("Colonoscopy",), default_trees=("paris_polyp",)))

@hookimpl
def medr1_register_rules(register):
    register(Path(__file__).with_name("endo_trees"))
"""

QUESTION = {"question": "What is the Paris class of this polyp?",
            "options": {"A": "0-Ip", "B": "0-Is", "C": "0-IIa"}, "answer": "A", "task": "disease_diagnosis"}


@pytest.fixture
def endo(make_distribution):
    path = make_distribution("medr1-endo", "medr1_endo", ENDO_PLUGIN, entry_point="endo")
    (path / "endo_trees").mkdir()
    (path / "endo_trees" / "paris_polyp.yaml").write_text(PARIS)
    return path


def use(monkeypatch, plugins):
    monkeypatch.setattr(plugins_mod, "_PLUGINS", plugins)
    return plugins


def test_a_plugin_tree_is_registered_and_applied_through_default_trees(endo, monkeypatch):
    plugins = use(monkeypatch, load_plugins(strict=True))
    info = next(i for i in plugins.infos if i.name == "endo")
    assert info.registered["rules"] == ["paris_polyp"]
    assert "medr1-endo 1.0" in plugins.rules.origin("paris_polyp")
    assert "ct_covid_rsna" in plugins.rules  # medr1's own trees are registered the same way

    dtree = plugins.rewards.get("dtree")()
    tree = next(t for t in dtree.trees if t.id == "paris_polyp")
    assert "medr1-endo" in tree.origin
    endo_sample = Sample(id="e", modality="endoscopy", **QUESTION)
    ct_sample = Sample(id="c", modality="ct", **QUESTION)
    texts = ["<think>A pedunculated lesion on a long stalk.</think><answer>A</answer>",
             "<think>A flat, slightly elevated plaque.</think><answer>A</answer>"]
    assert dtree.score(make_rollouts([endo_sample] * 2, texts, "think")) == [1.0, 0.0]
    # out of the tree's scope and not in the modality's default_trees: it does not apply
    assert dtree.score(make_rollouts([ct_sample], texts[:1], "think")) == [None]


def test_rules_list_and_rewards_score_see_the_installed_tree(endo, tmp_path):
    env = {"PYTHONPATH": os.pathsep.join([str(endo), os.environ.get("PYTHONPATH", "")])}
    listed = json.loads(run_cli("rules", "list", "--json", env=env).stdout)
    paris = next(t for t in listed if t["name"] == "paris_polyp")
    assert "medr1-endo 1.0" in paris["plugin"] and paris["source"].endswith("paris_polyp.yaml")
    assert "medr1-endo 1.0" in run_cli("rules", "list", env=env).stdout

    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "q1", **QUESTION, "modality": "Colonoscopy",
                               "completion": "<think>Pedunculated, on a stalk.</think><answer>A</answer>"}) + "\n")
    scored = json.loads(run_cli("rewards", "score", "--rewards", "dtree", "--input", str(src), env=env).stdout)
    assert scored["rewards"] == {"dtree": 1.0}


def test_a_default_tree_that_nothing_registers_is_a_warning_naming_the_plugin():
    class Mine:
        @staticmethod
        @hookimpl
        def medr1_register_modalities(register):
            register(Modality(id="pet", name="PET", default_trees=("ct_covid_rnsa", "pet_staging")))

    with pytest.warns(PluginWarning) as caught:
        load_plugins(extra=[("mine", Mine)])
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    assert messages[0].startswith("plugin 'mine' (in-process): default trees that no plugin registers: modality 'pet' "
                                  "lists 'ct_covid_rnsa' (did you mean 'ct_covid_rsna'?); modality 'pet' lists "
                                  "'pet_staging'")


def test_a_bad_registered_tree_fails_naming_the_plugin(make_distribution, monkeypatch):
    path = make_distribution("medr1-badtree", "badtree", """
        from pathlib import Path
        from medr1_core import hookimpl

        @hookimpl
        def medr1_register_rules(register):
            register(Path(__file__).with_name("wrong.yaml"))
            register(Path(__file__).with_name("renamed.yaml"))
        """)
    (path / "wrong.yaml").write_text(PARIS.replace("id: paris_polyp", "id: wrong").replace("{finding: flat}",
                                                                                         "{finding: flt}"))
    (path / "renamed.yaml").write_text(PARIS)
    plugins = use(monkeypatch, load_plugins())
    with pytest.raises(TreeError) as err:
        plugins.rewards.get("dtree")()
    text = str(err.value)
    assert "rule file 'wrong' registered by plugin 'medr1-badtree' (medr1-badtree 1.0)" in text
    assert "unknown finding 'flt'" in text
    assert "tree id 'paris_polyp' differs from the name it is registered under ('renamed'" in text
    # without the registered trees the reward still builds
    assert plugins.rewards.get("dtree")({"shipped": False}).trees == []


def test_registering_a_missing_path_skips_the_plugin_with_a_warning(make_distribution):
    make_distribution("medr1-notrees", "notrees", """
        from medr1_core import hookimpl

        @hookimpl
        def medr1_register_rules(register):
            register("no/such/trees")
        """)
    with pytest.warns(PluginWarning, match=r"medr1-notrees.*no such rule file or folder: no/such/trees.*package data"):
        plugins = load_plugins()
    assert "format" in plugins.rewards


def test_a_tree_registered_as_data(monkeypatch):
    import yaml

    class Inline:
        @staticmethod
        @hookimpl
        def medr1_register_rules(register):
            register(yaml.safe_load(PARIS))

    plugins = use(monkeypatch, load_plugins(extra=[("inline", Inline)], strict=True))
    assert plugins.rules.origin("paris_polyp") == "plugin 'inline' (in-process)"
    dtree = plugins.rewards.get("dtree")({"only": ["paris_polyp"]})
    sample = Sample(id="e", modality="microscopy", **QUESTION)
    assert dtree.score(make_rollouts([sample], ["<think>On a stalk.</think><answer>A</answer>"], "think")) == [1.0]


def test_relative_tree_paths_in_a_config_resolve_against_the_config_file(tmp_path, monkeypatch):
    folder = tmp_path / "configs"
    (folder / "trees").mkdir(parents=True)
    (folder / "trees" / "paris_polyp.yaml").write_text(PARIS)
    config = folder / "run.yaml"
    config.write_text(textwrap.dedent("""
        rewards:
          dtree: {params: {trees: [trees/paris_polyp.yaml], shipped: false}}
          second: {reward: dtree, params: {trees: [trees], shipped: false}}
        """))
    monkeypatch.chdir(tmp_path)  # not the config's folder
    data = read_config(config)
    assert data["rewards"]["dtree"]["params"]["trees"] == [str(folder.resolve() / "trees" / "paris_polyp.yaml")]
    composed = compose(None, None, data)
    sample = Sample(id="e", modality="microscopy", **QUESTION)
    scores = composed.score(make_rollouts([sample], ["<think>On a stalk.</think><answer>A</answer>"], "think"))
    assert scores.row(0) == {"dtree": 1.0, "second": 1.0}
