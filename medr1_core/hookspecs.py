"""The hooks a medr1 plugin can implement.

Each hook is handed a ``register`` callback, in the style of simonw/llm: call it
once per thing the plugin provides. A plugin module is found through the
``medr1`` entry-point group and implements any subset of these::

    from medr1_core import hookimpl, reward

    @reward(name="laterality")
    def laterality(rollout):
        ...

    @hookimpl
    def medr1_register_rewards(register):
        register(laterality)
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("medr1")
hookimpl = pluggy.HookimplMarker("medr1")


@hookspec
def medr1_register_rewards(register):
    """Register reward classes.

    ``register(reward_cls)`` takes a :class:`medr1_core.rewards.Reward` subclass,
    usually one made by the :func:`medr1_core.reward` decorator. Its ``name`` is
    what users pass to ``--rewards``.
    """


@hookspec
def medr1_register_modalities(register):
    """Register imaging modalities.

    ``register(modality)`` takes a :class:`medr1_core.specs.Modality`: its
    canonical id, display name, the labels datasets use for it (aliases), how
    its images are prepared and its default decision trees.
    """


@hookspec
def medr1_register_tasks(register):
    """Register question types.

    ``register(task)`` takes a :class:`medr1_core.specs.Task`: its canonical id,
    aliases, prompt templates per variant and answer kind.
    """


@hookspec
def medr1_register_data_formats(register):
    """Register dataset formats.

    ``register(data_format)`` takes a :class:`medr1_core.specs.DataFormat`: a
    name for ``--format``, a ``detect(path)`` test for auto-detection and a
    ``read(path, resolver)`` that yields samples and bad-record reports.
    """


@hookspec
def medr1_register_rules(register):
    """Register decision-tree rule files the plugin ships (for the ``dtree`` reward).

    ``register(path)`` takes a tree file or a folder of them (``*.yaml``,
    ``*.yml``, ``*.json``), each registered under its file stem, or a parsed
    tree (a mapping, registered under its ``id``). Ship the files as package
    data and find them next to the module::

        from pathlib import Path

        @hookimpl
        def medr1_register_rules(register):
            register(Path(__file__).with_name("trees"))

    Registered trees are what ``medr1 rules list`` shows and what a
    modality's ``default_trees`` name; the ``dtree`` reward uses them all
    unless told otherwise (``shipped: false``, ``only: [...]``).
    """


@hookspec
def medr1_register_commands(cli):
    """Add commands to the ``medr1`` command line.

    ``cli`` is medr1's top-level ``click.Group``: decorate functions with
    ``@cli.command()`` or ``@cli.group()``, as in simonw/llm's
    ``register_commands``. Keep the module that defines them light (import
    heavy libraries inside the command), since ``medr1 --help`` loads every
    plugin's commands. ``medr1 rules`` comes from the ``dtree`` reward plugin
    this way::

        @hookimpl
        def medr1_register_commands(cli):
            @cli.command()
            def hello():
                "Say hello."
                click.echo("hello")
    """
