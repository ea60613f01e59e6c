"""Which rewards a run uses, with what weights and parameters: :class:`RewardSpec`.

From the command line::

    medr1 train --rewards format,accuracy,dtree --reward-weights 0.5,1,1
    medr1 train --rewards format,accuracy,./my_rewards.py:laterality --reward-weights format:0.5

or from a YAML config (``--config``), whose ``rewards`` is a mapping from the
name a reward is logged under to its settings (or just its weight)::

    rewards:
      format: {weight: 0.5, params: {partial: true}}
      accuracy: 1.0
      dtree_chest:                       # logged as rewards/dtree_chest/mean
        reward: dtree                    # the registered reward (default: the key)
        params: {only: [cxr_pneumonia_covid]}
      laterality:
        reward: ./my_rewards.py:laterality   # ad-hoc, no packaging needed
        weight: 0.2

A list of the same entries (each with a ``name``) or of bare names also works.
``--rewards`` picks which entries run and in what order; ``--reward-weights``
overrides their weights. :func:`read_config` is the one reader of config files
(``medr1 train --config`` and ``medr1 rewards score --config``): ad-hoc reward
files in it resolve against the file's folder.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..files import read_yaml_mapping
from ..registry import comma_list

DEFAULT_REWARDS = ("format", "accuracy")


class RewardConfigError(ConfigError):
    """A reward selection, weight or config entry is invalid; the message says which."""


@dataclass(frozen=True)
class RewardSpec:
    """One reward of a composition, before it is built.

    ``name`` is what it is logged and weighted under; ``reward`` is a
    registered reward name or an ad-hoc reference (``path/to/file.py:func``,
    ``package.module:func``); ``params`` are validated against the reward's
    ``Params`` when it is built.
    """

    name: str
    reward: str
    weight: float = 1.0
    params: Mapping[str, Any] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        """The config-file form of this spec (its value under ``rewards: {name: ...}``)."""
        return {"reward": self.reward, "weight": self.weight, "params": dict(self.params)}


def is_adhoc(ref: str) -> bool:
    """Whether ``ref`` points at code (``file.py:func``, ``pkg.mod:func``), not a registered name."""
    return ":" in ref and not (len(ref) > 1 and ref[1] == ":" and ref.count(":") == 1)


def display_name(ref: str) -> str:
    """The name an ad-hoc reference is logged under: its function name."""
    return ref.rpartition(":")[2] if is_adhoc(ref) else ref


def _finite_weight(weight: Any, where: str) -> float:
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
        raise RewardConfigError(f"{where}: weight must be a finite number, got {weight!r}")
    return float(weight)


def _entry(name: str, value: Any, where: str) -> RewardSpec:
    if isinstance(value, RewardSpec):
        return value if value.name == name else RewardSpec(name, value.reward, value.weight, value.params)
    if value is None:
        value = {}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = {"weight": value}
    if not isinstance(value, Mapping):
        raise RewardConfigError(f"{where}: expected a weight or a mapping with weight/params/reward, got {value!r}")
    unknown = set(value) - {"name", "reward", "weight", "params"}
    if unknown:
        raise RewardConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; allowed: name, reward, weight, params"
        )
    params = value.get("params") or {}
    if not isinstance(params, Mapping):
        raise RewardConfigError(f"{where}: params must be a mapping, got {params!r}")
    ref = value.get("reward") or name
    if not isinstance(ref, str) or not ref:
        raise RewardConfigError(f"{where}: reward must be a reward name or file.py:func, got {ref!r}")
    return RewardSpec(name=name, reward=ref, weight=_finite_weight(value.get("weight", 1.0), where), params=dict(params))


def specs_from_config(config: Mapping[str, Any] | Sequence | str | None, *, source: str = "config") -> list[RewardSpec]:
    """Reward specs from a config's ``rewards`` value: a mapping, a list, or ``"format,accuracy"``."""
    if config is None:
        return []
    if isinstance(config, Mapping) and "rewards" in config:
        config = config["rewards"]
    if isinstance(config, str):
        config = comma_list(config)
    specs: list[RewardSpec] = []
    if isinstance(config, Mapping):
        for name, value in config.items():
            specs.append(_entry(str(name), value, f"{source}: rewards.{name}"))
    elif isinstance(config, Sequence):
        for i, item in enumerate(config):
            where = f"{source}: rewards[{i}]"
            if isinstance(item, RewardSpec):
                specs.append(item)
            elif isinstance(item, str):
                specs.append(_entry(display_name(item), {"reward": item}, where))
            elif isinstance(item, Mapping) and isinstance(item.get("name") or item.get("reward"), str):
                specs.append(_entry(item.get("name") or display_name(item["reward"]), item, where))
            else:
                raise RewardConfigError(f"{where}: expected a reward name or a mapping with 'name', got {item!r}")
    else:
        raise RewardConfigError(f"{source}: 'rewards' must be a mapping or a list, got {type(config).__name__}")
    _check_unique(specs, source)
    return specs


def _check_unique(specs: Sequence[RewardSpec], source: str) -> None:
    seen = Counter(s.name for s in specs)
    dupes = [n for n, k in seen.items() if k > 1]
    if dupes:
        raise RewardConfigError(
            f"{source}: reward name(s) {', '.join(dupes)} used twice; give each a distinct name "
            "(in a config: `other_name: {reward: ..., params: ...}`)"
        )


def parse_weights(weights: str | Sequence | None, names: Sequence[str]) -> dict[str, float]:
    """``"0.5,1,1"`` (one per reward, in order) or ``"format:0.5,dtree:2"`` -> ``{name: weight}``."""
    items = comma_list(weights) if isinstance(weights, str) or weights is None else [str(w) for w in weights]
    if not items:
        return {}
    named = [":" in item for item in items]
    if any(named) and not all(named):
        raise RewardConfigError(f"--reward-weights: mix of named and positional weights in {weights!r}")
    if all(named):
        pairs = [(key.strip(), value) for key, _, value in (item.rpartition(":") for item in items)]
        for key, _ in pairs:
            if key not in names:
                raise RewardConfigError(
                    f"--reward-weights: '{key}' is not one of the selected rewards ({', '.join(names)})"
                )
    else:
        if len(items) != len(names):
            raise RewardConfigError(
                f"--reward-weights: {len(items)} weight(s) for {len(names)} reward(s) ({', '.join(names)})"
            )
        pairs = list(zip(names, items))
    return {name: _number(value, name) for name, value in pairs}


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise RewardConfigError(f"--reward-weights: weight of '{name}' must be a number, got {text!r}") from None
    return _finite_weight(value, f"--reward-weights: '{name}'")


def parse_reward_specs(
    rewards: str | Sequence[str] | None = None,
    weights: str | Sequence | None = None,
    config: Mapping[str, Any] | Sequence | None = None,
) -> list[RewardSpec]:
    """Merge ``--rewards``, ``--reward-weights`` and a config into reward specs.

    ``rewards`` (comma-separated or a list) picks entries by name, in order;
    a name the config does not define is a registered reward (or an ad-hoc
    reference) with weight 1 and default params. Without ``rewards`` every
    config entry runs; with neither, ``format,accuracy``.
    """
    configured = {s.name: s for s in specs_from_config(config)}
    by_ref = {s.reward: s for s in configured.values()}
    selected = comma_list(rewards)
    if selected:
        specs = [_pick(token, configured, by_ref) for token in selected]
        _check_unique(specs, "--rewards")
    elif configured:
        specs = list(configured.values())
    else:
        specs = [RewardSpec(name, name) for name in DEFAULT_REWARDS]
    overrides = parse_weights(weights, [s.name for s in specs])
    return [RewardSpec(s.name, s.reward, overrides.get(s.name, s.weight), s.params) for s in specs]


def _pick(token: str, configured: Mapping[str, RewardSpec], by_ref: Mapping[str, RewardSpec]) -> RewardSpec:
    spec = configured.get(token) or by_ref.get(token)
    if spec is not None:
        return spec
    name = display_name(token)
    spec = configured.get(name) or RewardSpec(name=name, reward=token)
    if spec.reward != token and is_adhoc(token):
        spec = RewardSpec(spec.name, token, spec.weight, spec.params)
    return spec


def looks_like_file(module: str) -> bool:
    """Whether the module part of an ad-hoc reference is a file path (``x.py``, ``dir/x``)."""
    return module.endswith(".py") or "/" in module or os.sep in module


def rebase_reward_files(rewards: Any, base: Path) -> Any:
    """Ad-hoc ``file.py:func`` references in a config's ``rewards``, made relative to ``base``
    (the config file's folder) unless they exist as given or are absolute."""

    def rebase(ref: Any) -> Any:
        if isinstance(ref, str) and is_adhoc(ref):
            file, _, func = ref.rpartition(":")
            if looks_like_file(file) and not Path(file).is_absolute() and not Path(file).exists():
                return f"{base / file}:{func}"
        return ref

    if isinstance(rewards, Mapping):
        return {
            k: ({**v, "reward": rebase(v.get("reward", k))} if isinstance(v, Mapping) else v)
            for k, v in rewards.items()
        }
    if isinstance(rewards, list):
        return [
            {**v, "reward": rebase(v.get("reward") or v.get("name"))} if isinstance(v, Mapping) else rebase(v)
            for v in rewards
        ]
    return rewards


def _rebase_path(value: Any, base: Path) -> Any:
    if isinstance(value, str) and value and not Path(value).expanduser().is_absolute() and not Path(value).exists():
        return str(base / value)
    return value


def rebase_param_paths(rewards: Any, base: Path) -> Any:
    """Relative paths in the parameters a reward marks
    :class:`~medr1_core.rewards.RelativeToConfig` (``dtree``'s ``trees``), made relative to ``base``
    unless they exist as given or are absolute. A reward that cannot be found is left for
    composition to report."""
    from ..errors import Medr1Error
    from ..rewards import config_relative_params
    from .adhoc import reward_class

    def rebase(entry: Any, default_ref: Any) -> Any:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("params"), Mapping):
            return entry
        ref = entry.get("reward") or default_ref
        try:
            fields = config_relative_params(reward_class(ref).Params) if isinstance(ref, str) else []
        except Medr1Error:
            return entry
        params = dict(entry["params"])
        for name in fields:
            value = params.get(name)
            params[name] = [_rebase_path(v, base) for v in value] if isinstance(value, list) else \
                _rebase_path(value, base)
        return {**entry, "params": params}

    if isinstance(rewards, Mapping):
        return {k: rebase(v, k) for k, v in rewards.items()}
    if isinstance(rewards, list):
        return [rebase(v, v.get("name")) if isinstance(v, Mapping) else v for v in rewards]
    return rewards


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """The one reader of medr1 config files (run configs, reward configs): the YAML mapping,
    with ad-hoc reward files, and the path parameters rewards mark
    :class:`~medr1_core.rewards.RelativeToConfig` (``dtree``'s ``trees``), resolved against
    the file's folder. Errors are :class:`~medr1_core.errors.ConfigError` naming the file."""
    path = Path(path)
    data = read_yaml_mapping(path)
    if "rewards" in data:
        base = path.resolve().parent
        data["rewards"] = rebase_param_paths(rebase_reward_files(data["rewards"], base), base)
    return data
