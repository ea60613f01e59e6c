"""Scoring a batch with composed rewards: :class:`ComposedRewards`.

:func:`compose` goes from CLI-style arguments (``"format,accuracy"``, weights,
a config) to built rewards; :func:`build_rewards` from :class:`RewardSpec` entries.
:meth:`ComposedRewards.score` parses nothing itself: it takes rollouts (parsed
once by :func:`medr1_core.parsing.make_rollouts`) and runs each reward once.
The total is the weighted sum of the scores that are not ``None`` (a ``None``
adds nothing), and ``None`` when every reward returned ``None``: exactly what
TRL's ``GRPOTrainer`` computes (``nansum`` over rewards, all-NaN rows
unscorable).

Failure isolation: a reward *fails* on a batch when it raises (``SystemExit``
included), runs past ``time_limit`` seconds, or returns a score that is not a
finite number within its declared ``range`` (``inf``, ``1e9`` for a 0..1
reward, the string ``"0.7"``). A failed reward scores ``None`` for that batch,
warns once (with the traceback when it raised), and counts in
``composed.failures[name]``; ``strict=True`` makes it a
:class:`~medr1_core.errors.RunFailed` naming the reward. NaN is ``None`` (not
applicable), as in TRL. Returning the wrong number of scores is always an
error naming the reward. ``KeyboardInterrupt`` inside a reward stops the run
as :class:`RewardInterrupted`, naming the reward.

The time limit interrupts a reward through ``SIGALRM`` when scoring runs in
the main thread (as under TRL and ``medr1 rewards score``): Python code stops
at once, a call into C code when it returns. Elsewhere the reward runs in a
helper thread that is abandoned (it cannot be stopped) once past the limit.
"""

from __future__ import annotations

import math
import numbers
import os
import signal
import threading
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import Medr1Error, RunFailed
from ..rewards import Reward, validate_params
from ..samples import Rollout, Sample
from .adhoc import reward_class
from .config import RewardConfigError, RewardSpec, display_name, is_adhoc, parse_reward_specs, read_config


#: The per-batch time limit of each reward medr1's commands use unless told otherwise, in seconds.
DEFAULT_TIME_LIMIT = 120.0


class RewardOutputError(RunFailed):
    """A reward returned the wrong number of scores; the message names it."""


class RewardFailureWarning(UserWarning):
    """A reward failed on a batch (raised, ran too long, or returned a bad score); its scores are ``None``."""


class RewardInterrupted(KeyboardInterrupt):
    """``KeyboardInterrupt`` inside a reward; the message names it."""


class RewardTimeLimit(RunFailed):
    """A reward ran past its per-batch time limit."""


class RewardScoreError(RunFailed):
    """A reward returned a score that is not a finite number within its range."""


def call_with_time_limit(call: Callable[[], Any], seconds: float | None) -> Any:
    """``call()``, stopped with :class:`RewardTimeLimit` after ``seconds`` (``None``: no limit); see the module doc."""
    if seconds is None:
        return call()
    main = threading.current_thread() is threading.main_thread()
    if main and hasattr(signal, "setitimer") and signal.getitimer(signal.ITIMER_REAL)[0] == 0:
        def on_alarm(signum, frame):
            raise RewardTimeLimit()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return call()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    outcome: list = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            outcome.append((False, exc))

    worker = threading.Thread(target=run, daemon=True, name="medr1-reward")
    worker.start()
    worker.join(seconds)
    if not outcome:
        raise RewardTimeLimit()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


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
        time_limit: float | None = None,
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
        if time_limit is not None and not (math.isfinite(time_limit) and time_limit > 0):
            raise RewardConfigError(f"the reward time limit must be a finite number of seconds above 0, got {time_limit}")
        self.strict = strict
        self.time_limit = time_limit
        self.failures: Counter[str] = Counter()
        self._warned: set[str] = set()

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}*{w:g}" for n, w in zip(self.names, self.weights))
        return f"<ComposedRewards {inner}>"

    def guarded(self, name: str, call: Callable[[], Sequence], n: int,
                reward_range: tuple[float, float] = (-math.inf, math.inf)) -> list[float | None]:
        """Run ``call`` (one reward on ``n`` rollouts) with failure isolation (see the module doc).

        A wrong count raises :class:`RewardOutputError`; a failure gives
        ``[None] * n``, one warning per reward, and ``failures[name] += 1``
        (or :class:`~medr1_core.errors.RunFailed` when strict).
        """
        try:
            raw = call_with_time_limit(call, self.time_limit)
            scores = list(raw) if raw is not None else None
            if scores is None or len(scores) != n:
                got = "None" if scores is None else f"{len(scores)} scores"
                raise RewardOutputError(f"reward '{name}' returned {got} for {n} completions")
            return [_as_score(s, reward_range) for s in scores]
        except RewardOutputError:
            raise
        except KeyboardInterrupt as exc:
            raise RewardInterrupted(f"in reward '{name}'") from exc
        except (Exception, SystemExit) as exc:
            self._failed(name, n, exc)
            return [None] * n

    def _failed(self, name: str, n: int, exc: BaseException) -> None:
        if isinstance(exc, RewardTimeLimit):
            what = f"ran past its time limit of {self.time_limit:g} s on a batch of {n}"
        elif isinstance(exc, RewardScoreError):
            what = f"returned {exc}"
        else:
            what = f"raised {type(exc).__name__}: {exc}"
        if self.strict:
            raise RunFailed(f"reward '{name}' {what} (strict mode stops the run)") from exc
        self.failures[name] += 1
        if name in self._warned:
            return
        self._warned.add(name)
        detail = "" if isinstance(exc, (RewardTimeLimit, RewardScoreError)) else (
            "\n" + "".join(traceback.format_exception(exc)).rstrip())
        warnings.warn(
            f"reward '{name}' {what}; its scores for this batch are None "
            f"(further failures are counted, not shown; strict mode stops the run){detail}",
            RewardFailureWarning,
            stacklevel=3,
        )

    def score_one(self, index: int, rollouts: Sequence[Rollout]) -> list[float | None]:
        """Scores of reward number ``index`` for ``rollouts``, isolated."""
        r = self.rewards[index]
        return self.guarded(self.names[index], lambda: r.score(rollouts), len(rollouts), tuple(r.range))

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


def _as_score(value: Any, reward_range: tuple[float, float]) -> float | None:
    """``value`` as a score: ``None`` (NaN too), or a finite float within ``reward_range``; else RewardScoreError."""
    if value is None:
        return None
    if type(value) is float and reward_range[0] <= value <= reward_range[1] and math.isfinite(value):
        return value  # the common case
    if not isinstance(value, numbers.Real) and callable(getattr(value, "item", None)):
        value = value.item()  # numpy / torch scalars
    if not isinstance(value, numbers.Real):
        raise RewardScoreError(f"{value!r} ({type(value).__name__}); a score must be a number or None")
    f = float(value)
    if math.isnan(f):
        return None
    low, high = reward_range
    if not math.isfinite(f):
        raise RewardScoreError(f"{f}, not a finite number")
    if not low <= f <= high:
        raise RewardScoreError(f"{f:g}, outside its declared range [{low:g}, {high:g}]")
    return f


def build_rewards(specs: Iterable[RewardSpec], *, strict: bool = False, plugins=None,
                  time_limit: float | None = None) -> ComposedRewards:
    """Resolve and instantiate each spec (params validated now), in order.

    An ad-hoc reward named only by its reference is logged under the Reward's
    own ``name`` (a ``@reward(name=...)``), else its attribute name. A reward
    whose constructor breaks is a :class:`RewardConfigError` naming it.
    """
    instances, names, weights = [], [], []
    for spec in specs:
        cls = reward_class(spec.reward, plugins)
        params = validate_params(cls, spec.params)
        try:
            instances.append(cls(params))
        except Medr1Error:
            raise
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a plugin's bug, told in one line
            raise RewardConfigError(f"reward '{spec.name}' could not start: {type(exc).__name__}: {exc}") from exc
        implicit = is_adhoc(spec.reward) and spec.name == display_name(spec.reward)
        names.append(cls.name if implicit and cls.name else spec.name)
        weights.append(spec.weight)
    return ComposedRewards(instances, weights, names, strict=strict, time_limit=time_limit)


def compose(
    rewards: str | Sequence[str] | None = None,
    weights: str | Sequence | None = None,
    config: Mapping[str, Any] | Sequence | str | os.PathLike | None = None,
    *,
    strict: bool = False,
    time_limit: float | None = None,
) -> ComposedRewards:
    """One call from CLI-style arguments to built rewards.

    >>> composed = compose("format,accuracy", "0.5,1")   # doctest: +SKIP
    """
    if isinstance(config, (str, os.PathLike)):
        config = read_config(config)
    return build_rewards(parse_reward_specs(rewards, weights, config), strict=strict, time_limit=time_limit)
