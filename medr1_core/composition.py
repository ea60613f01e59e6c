"""Composing rewards: choose them, weight them, score batches, hand them to TRL.

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
overrides their weights.

Scoring: :class:`ComposedRewards` parses a batch once
(:func:`medr1_core.parsing.make_rollouts`) and runs each reward once. The total
is the weighted sum of the scores that are not ``None`` (a ``None`` adds
nothing), and ``None`` when every reward returned ``None``: exactly what TRL's
``GRPOTrainer`` computes (``nansum`` over rewards, all-NaN rows unscorable).

Failure isolation: a reward that raises scores ``None`` for that batch, warns
once with its traceback, and counts in ``composed.failures[name]``;
``strict=True`` re-raises. Returning the wrong number of scores is always an
error naming the reward.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import math
import os
import sys
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .rewards import Reward, reward, validate_params
from .samples import Rollout, Sample

#: Columns of Sample.to_row() that rebuild a Sample from TRL's reward kwargs.
SAMPLE_COLUMNS = ("id", "question", "options", "answer", "modality", "task", "dataset")


class RewardConfigError(ValueError):
    """A reward selection, weight or config entry is invalid; the message says which."""


class RewardOutputError(RuntimeError):
    """A reward returned the wrong number of scores; the message names it."""


class RewardFailureWarning(UserWarning):
    """A reward raised; its scores for that batch are ``None``."""


@dataclass(frozen=True)
class RewardSpec:
    """One reward of a composition, before it is built.

    ``name`` is what it is logged and weighted under; ``reward`` is a
    registered reward name or an ad-hoc reference (``path/to/file.py:func``,
    ``package.module:func``).
    """

    name: str
    reward: str
    weight: float = 1.0
    params: Mapping[str, Any] = field(default_factory=dict)


def is_adhoc(ref: str) -> bool:
    """Whether ``ref`` points at code (``file.py:func``, ``pkg.mod:func``), not a registered name."""
    return ":" in ref and not (len(ref) > 1 and ref[1] == ":" and ref.count(":") == 1)


def _entry(name: str, value: Any, where: str) -> RewardSpec:
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
    weight = value.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
        raise RewardConfigError(f"{where}: weight must be a finite number, got {weight!r}")
    params = value.get("params") or {}
    if not isinstance(params, Mapping):
        raise RewardConfigError(f"{where}: params must be a mapping, got {params!r}")
    ref = value.get("reward") or name
    if not isinstance(ref, str) or not ref:
        raise RewardConfigError(f"{where}: reward must be a reward name or file.py:func, got {ref!r}")
    return RewardSpec(name=name, reward=ref, weight=float(weight), params=dict(params))


def specs_from_config(config: Mapping[str, Any] | Sequence | None, *, source: str = "config") -> list[RewardSpec]:
    """Reward specs from a config's ``rewards`` value (mapping or list; see module doc)."""
    if config is None:
        return []
    if isinstance(config, Mapping) and "rewards" in config:
        config = config["rewards"]
    specs: list[RewardSpec] = []
    if isinstance(config, Mapping):
        for name, value in config.items():
            specs.append(_entry(str(name), value, f"{source}: rewards.{name}"))
    elif isinstance(config, Sequence) and not isinstance(config, str):
        for i, item in enumerate(config):
            where = f"{source}: rewards[{i}]"
            if isinstance(item, str):
                specs.append(_entry(_display_name(item), {"reward": item}, where))
            elif isinstance(item, Mapping) and isinstance(item.get("name") or item.get("reward"), str):
                specs.append(_entry(item.get("name") or _display_name(item["reward"]), item, where))
            else:
                raise RewardConfigError(f"{where}: expected a reward name or a mapping with 'name', got {item!r}")
    else:
        raise RewardConfigError(f"{source}: 'rewards' must be a mapping or a list, got {type(config).__name__}")
    _check_unique(specs, source)
    return specs


def _display_name(ref: str) -> str:
    """The name an ad-hoc reference is logged under: its function name."""
    return ref.rpartition(":")[2] if is_adhoc(ref) else ref


def _check_unique(specs: Sequence[RewardSpec], source: str) -> None:
    seen = Counter(s.name for s in specs)
    dupes = [n for n, k in seen.items() if k > 1]
    if dupes:
        raise RewardConfigError(
            f"{source}: reward name(s) {', '.join(dupes)} used twice; give each a distinct name "
            "(in a config: `other_name: {reward: ..., params: ...}`)"
        )


def _split(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return [s.strip() for s in items if s.strip()]


def parse_weights(weights: str | Sequence | None, names: Sequence[str]) -> dict[str, float]:
    """``"0.5,1,1"`` (one per reward, in order) or ``"format:0.5,dtree:2"`` -> ``{name: weight}``."""
    items = _split(weights) if isinstance(weights, str) or weights is None else [str(w) for w in weights]
    if not items:
        return {}
    named = [":" in item for item in items]
    if any(named) and not all(named):
        raise RewardConfigError(f"--reward-weights: mix of named and positional weights in {weights!r}")
    out: dict[str, float] = {}
    if all(named):
        for item in items:
            key, _, value = item.rpartition(":")
            key = key.strip()
            if key not in names:
                raise RewardConfigError(
                    f"--reward-weights: '{key}' is not one of the selected rewards ({', '.join(names)})"
                )
            out[key] = _number(value, key)
    else:
        if len(items) != len(names):
            raise RewardConfigError(
                f"--reward-weights: {len(items)} weight(s) for {len(names)} reward(s) ({', '.join(names)})"
            )
        for name, value in zip(names, items):
            out[name] = _number(value, name)
    return out


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise RewardConfigError(f"--reward-weights: weight of '{name}' must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise RewardConfigError(f"--reward-weights: weight of '{name}' must be finite, got {text!r}")
    return value


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
    selected = _split(rewards)
    if selected:
        specs = []
        for token in selected:
            spec = configured.get(token) or by_ref.get(token)
            if spec is None:
                name = _display_name(token)
                spec = configured.get(name) or RewardSpec(name=name, reward=token)
                if spec.reward != token and is_adhoc(token):
                    spec = RewardSpec(spec.name, token, spec.weight, spec.params)
            specs.append(spec)
        _check_unique(specs, "--rewards")
    elif configured:
        specs = list(configured.values())
    else:
        specs = [RewardSpec("format", "format"), RewardSpec("accuracy", "accuracy")]
    overrides = parse_weights(weights, [s.name for s in specs])
    return [RewardSpec(s.name, s.reward, overrides.get(s.name, s.weight), s.params) for s in specs]


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML (or JSON) config file; ad-hoc file references in its rewards
    are resolved relative to the file's folder."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RewardConfigError(f"{path}: cannot read config: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise RewardConfigError(f"{path}: a config must be a mapping at the top level, got {type(data).__name__}")
    data = dict(data)
    if "rewards" in data:
        data["rewards"] = rebase_reward_files(data["rewards"], path.resolve().parent)
    return data


def rebase_reward_files(rewards: Any, base: Path) -> Any:
    """Ad-hoc ``file.py:func`` references in a config's ``rewards``, made relative to ``base``
    (the config file's folder) unless they exist as given or are absolute."""

    def rebase(ref: Any) -> Any:
        if isinstance(ref, str) and is_adhoc(ref):
            file, _, func = ref.rpartition(":")
            if _looks_like_file(file) and not Path(file).is_absolute() and not Path(file).exists():
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


# --- ad-hoc rewards ---------------------------------------------------------------


def _looks_like_file(module: str) -> bool:
    return module.endswith(".py") or "/" in module or os.sep in module


def load_object(ref: str) -> Any:
    """Import what ``path/to/file.py:attr`` or ``package.module:attr`` names."""
    module_ref, _, attr = ref.rpartition(":")
    if not module_ref or not attr:
        raise RewardConfigError(f"ad-hoc reward '{ref}': expected path/to/file.py:func or package.module:func")
    if _looks_like_file(module_ref):
        path = Path(module_ref).expanduser()
        if not path.is_file():
            raise RewardConfigError(f"ad-hoc reward '{ref}': file {path} does not exist")
        digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
        mod_name = f"medr1_adhoc_{path.stem}_{digest}"
        module = sys.modules.get(mod_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(mod_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                del sys.modules[mod_name]
                raise RewardConfigError(f"ad-hoc reward '{ref}': importing {path} failed: {exc!r}") from exc
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
    """Wrap what an ad-hoc reference names into a Reward subclass.

    Accepted: a Reward subclass (``@reward`` functions are ones), a TRL reward
    function (a parameter named ``completions`` or ``prompts``), or a plain
    function of one rollout (wrapped as ``@reward`` would).
    """
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


def reward_class(ref: str) -> type[Reward]:
    """The Reward class for a registered name or an ad-hoc reference."""
    if is_adhoc(ref):
        return as_reward_class(load_object(ref), ref)
    from .plugins import get_plugins

    return get_plugins().rewards.get(ref)


# --- scoring ---------------------------------------------------------------------


@dataclass
class RewardScores:
    """The scores of one batch: per reward (in composition order) and the weighted total."""

    per_reward: dict[str, list[float | None]]
    total: list[float | None]

    def row(self, i: int) -> dict[str, float | None]:
        return {name: scores[i] for name, scores in self.per_reward.items()}


class ComposedRewards:
    """Built rewards with their names and weights; scores batches of rollouts.

    ``failures[name]`` counts the batches in which reward ``name`` raised.
    """

    def __init__(
        self,
        rewards: Sequence[Reward],
        weights: Sequence[float] | None = None,
        names: Sequence[str] | None = None,
        *,
        strict: bool = False,
    ):
        self.rewards = list(rewards)
        self.names = list(names) if names is not None else [r.name for r in self.rewards]
        self.weights = [float(w) for w in weights] if weights is not None else [1.0] * len(self.rewards)
        if not (len(self.rewards) == len(self.names) == len(self.weights)):
            raise RewardConfigError(
                f"{len(self.rewards)} rewards, {len(self.names)} names and {len(self.weights)} weights"
            )
        if len(set(self.names)) != len(self.names):
            raise RewardConfigError(f"reward names must be distinct, got {self.names}")
        self.strict = strict
        self.failures: Counter[str] = Counter()
        self._warned: set[str] = set()

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}*{w:g}" for n, w in zip(self.names, self.weights))
        return f"<ComposedRewards {inner}>"

    def guarded(self, name: str, call: Callable[[], Sequence], n: int) -> list[float | None]:
        """Run ``call`` (one reward on ``n`` rollouts) with failure isolation.

        Scores are coerced to ``float`` (NaN becomes ``None``). A wrong count
        raises :class:`RewardOutputError`; anything else that goes wrong gives
        ``[None] * n``, one warning per reward, and ``failures[name] += 1``
        (or re-raises when strict).
        """
        try:
            raw = call()
            scores = list(raw) if raw is not None else None
            if scores is None or len(scores) != n:
                got = "None" if scores is None else f"{len(scores)} scores"
                raise RewardOutputError(f"reward '{name}' returned {got} for {n} completions")
            return [_as_score(s, name) for s in scores]
        except RewardOutputError:
            raise
        except Exception as exc:
            if self.strict:
                raise
            self.failures[name] += 1
            if name not in self._warned:
                self._warned.add(name)
                warnings.warn(
                    f"reward '{name}' raised {type(exc).__name__}: {exc}; its scores for this batch are None "
                    f"(further failures are counted, not shown; strict mode re-raises)\n"
                    + "".join(traceback.format_exception(exc)).rstrip(),
                    RewardFailureWarning,
                    stacklevel=2,
                )
            return [None] * n

    def score_one(self, index: int, rollouts: Sequence[Rollout]) -> list[float | None]:
        """Scores of reward number ``index`` for ``rollouts``, isolated."""
        r = self.rewards[index]
        return self.guarded(self.names[index], lambda: r.score(rollouts), len(rollouts))

    def score(self, rollouts: Sequence[Rollout]) -> RewardScores:
        """Every reward once on ``rollouts``, and the weighted totals."""
        per = {name: self.score_one(i, rollouts) for i, name in enumerate(self.names)}
        return RewardScores(per, self.totals(per, len(rollouts)))

    def score_texts(self, samples: Sequence[Sample], texts: Sequence, variant: str = "think") -> RewardScores:
        """Parse ``texts`` once against ``samples`` and score them."""
        from .parsing import make_rollouts

        return self.score(make_rollouts(samples, texts, variant))

    def totals(self, per: Mapping[str, Sequence[float | None]], n: int) -> list[float | None]:
        """Weighted sum of the non-None scores of each row; None if all are None."""
        out: list[float | None] = []
        cols = [(per[name], w) for name, w in zip(self.names, self.weights)]
        for i in range(n):
            total, seen = 0.0, False
            for scores, w in cols:
                s = scores[i]
                if s is not None:
                    total += w * s
                    seen = True
            out.append(total if seen else None)
        return out


def _as_score(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"reward '{name}' returned {value!r}; a score must be a number or None") from None
    return None if math.isnan(f) else f


def build_rewards(specs: Sequence[RewardSpec], *, strict: bool = False) -> ComposedRewards:
    """Resolve and instantiate each spec (params validated now), in order.

    An ad-hoc reward named only by its reference is logged under the Reward's
    own ``name`` (a ``@reward(name=...)``), else its attribute name.
    """
    instances, names = [], []
    for spec in specs:
        cls = reward_class(spec.reward)
        instances.append(cls(validate_params(cls, spec.params)))
        implicit = is_adhoc(spec.reward) and spec.name == _display_name(spec.reward)
        names.append(cls.name if implicit and cls.name else spec.name)
    return ComposedRewards(instances, [s.weight for s in specs], names, strict=strict)


def compose(
    rewards: str | Sequence[str] | None = None,
    weights: str | Sequence | None = None,
    config: Mapping[str, Any] | Sequence | str | os.PathLike | None = None,
    *,
    strict: bool = False,
) -> ComposedRewards:
    """One call from CLI-style arguments to built rewards.

    >>> composed = compose("format,accuracy", "0.5,1")   # doctest: +SKIP
    """
    if isinstance(config, (str, os.PathLike)):
        config = load_config(config)
    return build_rewards(parse_reward_specs(rewards, weights, config), strict=strict)


# --- TRL adapter -----------------------------------------------------------------


class _BatchCache:
    """The rollouts of the batch TRL is scoring, parsed once for all reward functions.

    TRL calls every reward function with the same ``completions`` list object
    for a batch; holding a reference to it keeps its identity unique while cached.
    """

    def __init__(self, variant: str):
        self.variant = variant
        self._key: Any = None
        self._rollouts: list[Rollout] = []

    def rollouts(self, prompts: Sequence, completions: Sequence, kwargs: Mapping[str, Any]) -> list[Rollout]:
        if self._key is not None and self._key[0] is completions and self._key[1] is prompts:
            return self._rollouts
        from .parsing import completion_text, make_rollouts

        n = len(completions)
        samples = []
        for i in range(n):
            row = {k: kwargs[k][i] for k in SAMPLE_COLUMNS if isinstance(kwargs.get(k), (list, tuple))}
            if not row.get("question") and prompts is not None and i < len(prompts):
                row["question"] = completion_text(prompts[i])
            samples.append(Sample.from_row(row))
        self._rollouts = make_rollouts(samples, [completion_text(c) for c in completions], self.variant)
        self._key = (completions, prompts)
        return self._rollouts


def to_trl_reward_funcs(composed: ComposedRewards, variant: str = "think") -> tuple[list[Callable], list[float]]:
    """TRL ``reward_funcs`` and ``reward_weights`` for ``GRPOTrainer``/``GRPOConfig``.

    One function per reward, named after it (TRL logs ``rewards/<name>/mean``),
    with TRL's signature ``f(prompts, completions, completion_ids=None,
    **kwargs)``. Samples are rebuilt from the dataset columns TRL passes as
    keyword arguments (``Sample.to_row``); completions may be strings or chat
    messages. The batch is parsed once and shared. When TRL passes
    ``log_metric``, each function logs ``rewards/<name>/failed`` (1 if it
    raised on the batch, else 0: its mean is the failure rate).
    """
    cache = _BatchCache(variant)
    funcs = []
    for index, name in enumerate(composed.names):
        funcs.append(_trl_func(composed, index, name, cache))
    return funcs, list(composed.weights)


def _trl_func(composed: ComposedRewards, index: int, name: str, cache: _BatchCache) -> Callable:
    r = composed.rewards[index]

    def reward_func(prompts=None, completions=None, completion_ids=None, **kwargs):
        completions = completions if completions is not None else []
        n = len(completions)
        before = composed.failures[name]
        if isinstance(r, TRLFunctionReward):
            scores = composed.guarded(
                name,
                lambda: r.trl_fn(prompts=prompts, completions=completions, completion_ids=completion_ids, **kwargs),
                n,
            )
        else:
            rollouts = cache.rollouts(prompts, completions, kwargs)
            scores = composed.score_one(index, rollouts)
        log_metric = kwargs.get("log_metric")
        if callable(log_metric):
            log_metric(f"rewards/{name}/failed", float(composed.failures[name] > before))
        return scores

    reward_func.__name__ = name
    reward_func.__qualname__ = name
    reward_func.__doc__ = f"medr1 reward '{name}' for TRL: {type(r).description or type(r).__doc__ or ''}"
    return reward_func
