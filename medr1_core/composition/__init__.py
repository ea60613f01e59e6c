"""Composing rewards: choose them, weight them, score batches, hand them to TRL.

- :mod:`.config`: :class:`RewardSpec` (one reward of a composition) from
  ``--rewards``, ``--reward-weights`` and config files; :func:`read_config`,
  the one reader of medr1 config files;
- :mod:`.adhoc`: rewards named by their code (``my_rewards.py:func``);
- :mod:`.scoring`: :class:`ComposedRewards`, scoring a batch of rollouts with
  failure isolation; :func:`compose`;
- :mod:`.trl`: the composed rewards as TRL ``reward_funcs``.

::

    from medr1_core.composition import compose
    composed = compose("format,accuracy", "0.5,1")
    composed.score_texts(samples, ["<think>...</think><answer>B</answer>", ...])
"""

from .adhoc import TRLFunctionReward, as_reward_class, load_object, reward_class
from .config import (
    RewardConfigError,
    RewardSpec,
    is_adhoc,
    parse_reward_specs,
    parse_weights,
    read_config,
    rebase_reward_files,
    specs_from_config,
)
from .scoring import (
    ComposedRewards,
    RewardFailureWarning,
    RewardInterrupted,
    RewardOutputError,
    RewardScores,
    build_rewards,
    call_with_time_limit,
    compose,
)
from .trl import TRLReward, to_trl_reward_funcs

__all__ = [
    "RewardSpec", "RewardConfigError", "parse_reward_specs", "parse_weights", "specs_from_config", "read_config",
    "rebase_reward_files", "is_adhoc", "load_object", "as_reward_class", "reward_class", "TRLFunctionReward",
    "ComposedRewards", "RewardScores", "RewardOutputError", "RewardFailureWarning", "RewardInterrupted", "build_rewards", "compose", "call_with_time_limit",
    "TRLReward", "to_trl_reward_funcs",
]
