"""medr1's first-party rewards: ``format``, ``accuracy`` and ``dtree``.

Where each is scored:

- ``format``: :func:`medr1_plugins.rewards.format.format_reward`
- ``accuracy``: :func:`medr1_plugins.rewards.accuracy.accuracy_reward`
- ``dtree``: :meth:`medr1_plugins.rewards.dtree.DTreeReward.score`, trees in
  ``trees/*.yaml`` (schema ``dtree.schema.json``), registered through
  ``medr1_register_rules`` like any plugin's rule files

Every reward reads the :class:`~medr1_core.Completion` parsed once by
:func:`medr1_core.parsing.parse_completion`; none re-parses the text.

The plugin also adds ``medr1 rules`` (:mod:`.rules_cli`) to the command line.
"""

from pathlib import Path

from medr1_core import hookimpl

from .accuracy import accuracy_reward
from .dtree import DTreeReward
from .format import format_reward


@hookimpl
def medr1_register_rewards(register):
    register(format_reward)
    register(accuracy_reward)
    register(DTreeReward)


@hookimpl
def medr1_register_rules(register):
    register(Path(__file__).with_name("trees"))  # the decision trees medr1 ships


@hookimpl
def medr1_register_commands(cli):
    from . import rules_cli

    rules_cli.register(cli)
