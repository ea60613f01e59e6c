"""Scoring a batch with composed rewards: :class:`ComposedRewards`.

:func:`compose` goes from CLI-style arguments (``"format,accuracy"``, weights,
a config) to built rewards; :func:`build_rewards` from :class:`RewardSpec` entries.
:meth:`ComposedRewards.score` parses nothing itself: it takes rollouts (parsed
once by :func:`medr1_core.parsing.make_rollouts`) and runs each reward once.
The total is the weighted sum of the scores that are not ``None`` (a ``None``
adds nothing), and ``None`` when every reward returned ``None``: exactly what
TRL's ``GRPOTrainer`` computes (``nansum`` over rewards, all-NaN rows
unscorable).

Failure isolation: a reward that raises scores ``None`` for that batch, warns
once with its traceback, and counts in ``composed.failures[name]``;
``strict=True`` re-raises. Returning the wrong number of scores is always an
error naming the reward.
"""

from __future__ import annotations

import math
import os
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import RunFailed
from ..rewards import Reward, validate_params
from ..samples import Rollout, Sample
from .adhoc import reward_class
from .config import RewardConfigError, RewardSpec, display_name, is_adhoc, parse_reward_specs, read_config


class RewardOutputError(RunFailed):
    """A reward returned the wrong number of scores; the message names it."""


class RewardFailureWarning(UserWarning):
    """A reward raised; its scores for that batch are ``None``."""


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
        from ..parsing import make_rollouts

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


def build_rewards(specs: Iterable[RewardSpec], *, strict: bool = False, plugins=None) -> ComposedRewards:
    """Resolve and instantiate each spec (params validated now), in order.

    An ad-hoc reward named only by its reference is logged under the Reward's
    own ``name`` (a ``@reward(name=...)``), else its attribute name.
    """
    instances, names, weights = [], [], []
    for spec in specs:
        cls = reward_class(spec.reward, plugins)
        instances.append(cls(validate_params(cls, spec.params)))
        implicit = is_adhoc(spec.reward) and spec.name == display_name(spec.reward)
        names.append(cls.name if implicit and cls.name else spec.name)
        weights.append(spec.weight)
    return ComposedRewards(instances, weights, names, strict=strict)


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
        config = read_config(config)
    return build_rewards(parse_reward_specs(rewards, weights, config), strict=strict)
