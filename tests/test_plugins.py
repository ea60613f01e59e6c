"""The plugin system: discovery, isolation of broken plugins, names."""

from __future__ import annotations

import json
import os

import pytest

from medr1_core import Modality, hookimpl, reward
from medr1_core.plugins import PluginError, PluginWarning, load_plugins
from medr1_core.registry import UnknownNameError

from helpers import run_cli

GOOD_PLUGIN = """
from medr1_core import hookimpl, reward

@reward(name="always_one")
def always_one(rollout):
    "Scores every rollout 1."
    return 1.0

@hookimpl
def medr1_register_rewards(register):
    register(always_one)
"""


def test_builtin_plugins_are_found_through_entry_points():
    plugins = load_plugins()
    builtin = {i.name: i for i in plugins.infos if i.distribution == "medr1"}
    assert {"rewards", "modalities", "tasks", "formats"} <= set(builtin)
    for info in builtin.values():
        assert info.error is None
        assert info.module.startswith("medr1_plugins.")


def test_third_party_distribution_is_discovered(make_distribution):
    make_distribution("medr1-always-one", "always_one_plugin", GOOD_PLUGIN)
    plugins = load_plugins()
    info = next(i for i in plugins.infos if i.distribution == "medr1-always-one")
    assert info.version == "1.0"
    assert info.registered["rewards"] == ["always_one"]
    assert plugins.rewards.get("always_one").name == "always_one"
    assert "medr1-always-one" in plugins.rewards.origin("always_one")


def test_plugin_that_fails_to_import_is_skipped_with_a_warning(make_distribution):
    make_distribution("medr1-broken", "broken_plugin", "import no_such_module_xyz\n")
    with pytest.warns(PluginWarning) as caught:
        plugins = load_plugins()
    message = str(caught[0].message)
    assert "medr1-broken" in message and "'medr1-broken'" in message
    assert "ModuleNotFoundError" in message and "no_such_module_xyz" in message
    info = next(i for i in plugins.infos if i.distribution == "medr1-broken")
    assert info.error and "failed to load" in info.error
    assert "format" in plugins.rewards  # the others still load


def test_plugin_whose_hook_raises_is_skipped_and_registers_nothing(make_distribution):
    make_distribution(
        "medr1-raises",
        "raising_plugin",
        """
        from medr1_core import hookimpl, reward

        @reward(name="half_registered")
        def half(rollout):
            return 1.0

        @hookimpl
        def medr1_register_rewards(register):
            register(half)
            raise RuntimeError("tree file missing")
        """,
    )
    with pytest.warns(PluginWarning, match=r"medr1-raises.*raised in its hook.*tree file missing"):
        plugins = load_plugins()
    assert "half_registered" not in plugins.rewards


def test_strict_mode_makes_a_broken_plugin_fatal(make_distribution, monkeypatch):
    make_distribution("medr1-broken", "broken_plugin2", "raise ImportError('needs torchvision')\n")
    monkeypatch.setenv("MEDR1_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="medr1-broken.*needs torchvision"):
        load_plugins()


def test_disabled_plugins_are_not_loaded(make_distribution, monkeypatch):
    make_distribution("medr1-broken", "broken_plugin3", "import no_such_module_xyz\n", entry_point="broken")
    monkeypatch.setenv("MEDR1_DISABLE_PLUGINS", "broken, rewards")
    plugins = load_plugins(strict=True)  # would raise if the broken one were loaded
    disabled = {i.name for i in plugins.infos if i.disabled}
    assert {"broken", "rewards"} <= disabled
    assert "format" not in plugins.rewards


def test_same_name_from_two_plugins_names_both(make_distribution):
    make_distribution("medr1-one-a", "one_a", GOOD_PLUGIN)

    class Other:
        @staticmethod
        @hookimpl
        def medr1_register_rewards(register):
            register(reward(lambda r: 0.0, name="always_one"))

    with pytest.warns(PluginWarning, match=r"'always_one'.*medr1-one-a 1\.0.*in-process"):
        plugins = load_plugins(extra=[("other", Other)])
    assert "medr1-one-a" in plugins.rewards.origin("always_one")  # the first keeps it
    with pytest.raises(PluginError, match=r"'always_one'.*medr1-one-a 1\.0.*in-process"):
        load_plugins(extra=[("other", Other)], strict=True)


def test_alias_claimed_by_two_modalities_is_an_error():
    class Mine:
        @staticmethod
        @hookimpl
        def medr1_register_modalities(register):
            register(Modality(id="pet", name="PET", aliases=("CT(Computed Tomography)",)))

    with pytest.warns(PluginWarning, match="already claimed by 'ct'"):
        plugins = load_plugins(extra=[("mine", Mine)])
    assert "pet" not in plugins.modalities


def test_register_with_the_wrong_type_is_reported():
    class Wrong:
        @staticmethod
        @hookimpl
        def medr1_register_rewards(register):
            register(lambda rollout: 1.0)

    with pytest.warns(PluginWarning, match=r"plugin 'wrong'.*takes a medr1_core.Reward subclass"):
        load_plugins(extra=[("wrong", Wrong)])


def test_unknown_name_suggests_the_closest():
    rewards = load_plugins().rewards
    with pytest.raises(UnknownNameError) as err:
        rewards.get("acuracy")
    assert "Did you mean 'accuracy'?" in str(err.value)
    assert "format" in str(err.value)


def test_cli_lists_plugins_as_json_and_skips_broken(make_distribution):
    path = make_distribution("medr1-broken", "broken_plugin4", "import no_such_module_xyz\n")
    env = {"PYTHONPATH": os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")])}
    proc = run_cli("plugins", "--json", env=env)
    listed = {p["name"]: p for p in json.loads(proc.stdout)}
    assert listed["rewards"]["distribution"] == "medr1"
    assert {"format", "accuracy", "dtree"} <= set(listed["rewards"]["rewards"])
    assert "no_such_module_xyz" in listed["medr1-broken"]["error"]
    assert "warning: skipping plugin 'medr1-broken' (medr1-broken 1.0)" in proc.stderr

    strict = run_cli("plugins", env={**env, "MEDR1_STRICT_PLUGINS": "1"}, check=False)
    assert strict.returncode != 0
    assert "medr1-broken" in strict.stderr and "no_such_module_xyz" in strict.stderr


def test_cli_help_and_plugins_do_not_import_heavy_frameworks():
    code = (
        "import sys; from medr1_core.cli import main;"
        "main(['--help']); main(['plugins', '--json']);"
        "heavy = [m for m in ('torch', 'transformers', 'trl', 'datasets') if m in sys.modules];"
        "print('HEAVY', heavy)"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


COMMAND_PLUGIN = """
import click
from medr1_core import hookimpl

@hookimpl
def medr1_register_commands(cli):
    @cli.command()
    @click.argument("name")
    def hello(name):
        "Say hello."
        click.echo(f"hello {name}")
"""


def test_a_plugin_adds_a_command(make_distribution):
    path = make_distribution("medr1-hello", "hello_plugin", COMMAND_PLUGIN, entry_point="hello")
    env = {"PYTHONPATH": f"{path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    assert run_cli("hello", "world", env=env).stdout == "hello world\n"
    assert "hello" in run_cli("--help", env=env).stdout
    listed = {p["name"]: p for p in json.loads(run_cli("plugins", "--json", env=env).stdout)}
    assert listed["hello"]["commands"] == ["hello"]
    assert listed["rewards"]["commands"] == ["rules"]  # medr1 rules comes from the dtree plugin the same way


def test_a_commands_hook_that_raises_is_skipped_with_the_plugin_named(make_distribution):
    source = "from medr1_core import hookimpl\n\n@hookimpl\ndef medr1_register_commands(cli):\n    raise OSError('no disk')\n"
    path = make_distribution("medr1-badcmd", "badcmd_plugin", source, entry_point="badcmd")
    env = {"PYTHONPATH": f"{path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = run_cli("rules", "list", env=env)
    assert "medr1-badcmd" in proc.stderr and "medr1_register_commands" in proc.stderr and "no disk" in proc.stderr
    assert "cxr_pneumonia_covid" in proc.stdout  # the other plugins' commands still work


def test_disabled_plugins_are_listed_as_disabled_and_own_their_names(make_distribution, monkeypatch):
    make_distribution("medr1-always-one", "always_one_disabled", GOOD_PLUGIN, entry_point="always")
    monkeypatch.setenv("MEDR1_DISABLE_PLUGINS", "always")
    plugins = load_plugins(strict=True)
    info = next(i for i in plugins.infos if i.name == "always")
    assert info.disabled and info.registered["rewards"] == [] and info.to_dict()["disabled"] is True
    with pytest.raises(UnknownNameError, match=r"reward 'always_one' belongs to plugin 'always' "
                                               r"\(medr1-always-one 1\.0\), which is disabled"):
        plugins.rewards.get("always_one")
    with pytest.raises(UnknownNameError, match=r"unknown reward 'nope'.*Disabled by MEDR1_DISABLE_PLUGINS: always"):
        plugins.rewards.get("nope")


def test_a_disable_entry_that_matches_nothing_is_a_warning(monkeypatch):
    monkeypatch.setenv("MEDR1_DISABLE_PLUGINS", "reward,tasks")
    with pytest.warns(PluginWarning, match=r"MEDR1_DISABLE_PLUGINS names 'reward', which is no installed plugin "
                                           r"\(did you mean 'rewards'\?\)"):
        plugins = load_plugins()
    assert "disease_diagnosis" not in plugins.tasks and "format" in plugins.rewards


def test_cli_shows_disabled_plugins_and_why_a_reward_is_unknown(make_distribution, tmp_path):
    path = make_distribution("medr1-always-one", "always_one_cli", GOOD_PLUGIN, entry_point="always")
    env = {"PYTHONPATH": os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")]),
           "MEDR1_DISABLE_PLUGINS": "always"}
    out = run_cli("plugins", env=env).stdout
    assert "always  [medr1-always-one 1.0]" in out and "DISABLED by MEDR1_DISABLE_PLUGINS" in out
    listed = {p["name"]: p for p in json.loads(run_cli("plugins", "--json", env=env).stdout)}
    assert listed["always"]["disabled"] is True and listed["rewards"]["disabled"] is False
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "1", "question": "?", "options": {"A": "x", "B": "y"}, "answer": "A",
                               "completion": "<answer>A</answer>"}) + "\n")
    proc = run_cli("rewards", "score", "--rewards", "always_one", "--input", str(src), env=env, check=False)
    assert proc.returncode == 2
    assert "reward 'always_one' belongs to plugin 'always' (medr1-always-one 1.0), which is disabled" in proc.stderr
