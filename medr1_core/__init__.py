"""medr1: GRPO training of medical vision-language models, with plugins.

What plugin authors import::

    from medr1_core import hookimpl, reward, Reward, Modality, Task, DataFormat

The core is the modules at this level: ``hookspecs`` (the plugin hooks),
``plugins`` (loading them), ``registry`` (names), ``samples`` (Sample,
Completion, Rollout), ``parsing`` (a completion read once), ``prompts``,
``rewards`` (what a reward is), ``specs`` (Modality, Task, DataFormat),
``errors``, ``files`` and ``testing`` (the plugin author's test kit). Features
are sub-packages: ``composition`` (choosing and scoring rewards, the TRL
adapter), ``data``, ``train``, ``eval``, ``report``, ``offline`` (tiny models,
sample data), ``scaffold`` (``medr1 plugins new``) and ``cli``.

Names are imported on first use, so ``import medr1_core`` (and ``medr1
--help``) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

#: public name -> the core module that defines it
_EXPORTS = {
    "hookimpl": "hookspecs",
    "reward": "rewards",
    "Reward": "rewards",
    "NoParams": "rewards",
    "Sample": "samples",
    "Completion": "samples",
    "Rollout": "samples",
    "Modality": "specs",
    "Task": "specs",
    "DataFormat": "specs",
    "BadRecord": "specs",
    "RuleFile": "specs",
    "Medr1Error": "errors",
}

__all__ = [*_EXPORTS, "__version__"]

if TYPE_CHECKING:
    from .errors import Medr1Error
    from .hookspecs import hookimpl
    from .rewards import NoParams, Reward, reward
    from .samples import Completion, Rollout, Sample
    from .specs import BadRecord, DataFormat, Modality, RuleFile, Task


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'medr1_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
