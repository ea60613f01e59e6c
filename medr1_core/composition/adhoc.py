"""Ad-hoc rewards: a reward named by where its code is, with no packaging.

``--rewards ./my_rewards.py:laterality`` or ``--rewards mypkg.rewards:laterality``
names a function or class; :func:`reward_class` turns it into a
:class:`~medr1_core.rewards.Reward` subclass. Accepted:

- a ``Reward`` subclass (``@reward`` functions are ones);
- a function of one rollout (wrapped as ``@reward`` would);
- a TRL reward function ``f(prompts, completions, **kwargs) -> list[float]``
  (:class:`TRLFunctionReward`).

A registered name (``accuracy``) is looked up in the plugins' reward registry.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..rewards import Reward, reward
from ..samples import Rollout
from .config import RewardConfigError, is_adhoc, looks_like_file

#: Columns of Sample.to_row() a TRL reward function receives as keyword arguments.
SAMPLE_COLUMNS = ("id", "question", "options", "answer", "modality", "task", "dataset")


def _import_file(path: Path, ref: str):
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    mod_name = f"medr1_adhoc_{path.stem}_{digest}"
    module = sys.modules.get(mod_name)
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[mod_name]
        raise RewardConfigError(f"ad-hoc reward '{ref}': importing {path} failed: {exc!r}") from exc
    return module


def load_object(ref: str) -> Any:
    """Import what ``path/to/file.py:attr`` or ``package.module:attr`` names."""
    module_ref, _, attr = ref.rpartition(":")
    if not module_ref or not attr:
        raise RewardConfigError(f"ad-hoc reward '{ref}': expected path/to/file.py:func or package.module:func")
    if looks_like_file(module_ref):
        path = Path(module_ref).expanduser()
        if not path.is_file():
            raise RewardConfigError(f"ad-hoc reward '{ref}': file {path} does not exist")
        module = _import_file(path, ref)
    else:
        try:
            module = importlib.import_module(module_ref)
        except ImportError as exc:
            raise RewardConfigError(f"ad-hoc reward '{ref}': cannot import module '{module_ref}': {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise RewardConfigError(f"ad-hoc reward '{ref}': '{module_ref}' has no attribute '{attr}'") from None


class TRLFunctionReward(Reward):
    """A plain TRL reward function ``f(prompts, completions, **kwargs) -> list[float]``.

    Offline it is called with the questions as ``prompts``, the raw completion
    texts as ``completions`` and the samples' columns (``answer``, ``options``,
    ...) as keyword arguments; under TRL it receives TRL's own arguments
    unchanged.
    """

    trl_fn: Callable  # set on each wrapper subclass by as_reward_class
    range = (-math.inf, math.inf)

    def score(self, rollouts: Sequence[Rollout]) -> list[float | None]:
        rows = [r.sample.to_row() for r in rollouts]
        columns = {k: [row[k] for row in rows] for k in SAMPLE_COLUMNS}
        return list(
            self.trl_fn(
                prompts=[r.sample.question for r in rollouts],
                completions=[r.completion.text for r in rollouts],
                completion_ids=None,
                **columns,
            )
        )


def as_reward_class(obj: Any, ref: str) -> type[Reward]:
    """Wrap what an ad-hoc reference names into a Reward subclass (see the module doc)."""
    if isinstance(obj, type) and issubclass(obj, Reward):
        return obj
    if not callable(obj):
        raise RewardConfigError(f"ad-hoc reward '{ref}': {obj!r} is not a Reward class or a function")
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        params = {}
    name = getattr(obj, "__name__", ref.rpartition(":")[2])
    doc = (inspect.getdoc(obj) or "").split("\n\n")[0].replace("\n", " ")
    if "completions" in params or "prompts" in params:
        return type(
            f"{name}_trl_reward",
            (TRLFunctionReward,),
            {"name": name, "description": doc or f"TRL reward function {ref}", "trl_fn": staticmethod(obj)},
        )
    positional = [
        p for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if len(positional) == 1:
        return reward(obj, name=name)
    raise RewardConfigError(
        f"ad-hoc reward '{ref}': expected a Reward subclass, a function of one rollout, "
        f"or a TRL reward function f(prompts, completions, **kwargs); got {name}{inspect.signature(obj)}"
    )


def reward_class(ref: str, plugins=None) -> type[Reward]:
    """The Reward class for a registered name (in ``plugins``, default: the loaded ones) or an ad-hoc reference."""
    if is_adhoc(ref):
        return as_reward_class(load_object(ref), ref)
    if plugins is None:
        from ..plugins import get_plugins

        plugins = get_plugins()
    return plugins.rewards.get(ref)
