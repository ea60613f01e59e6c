"""The TRL adapter: composed rewards as TRL ``reward_funcs``.

:func:`to_trl_reward_funcs` gives one :class:`TRLReward` per composed reward:
a picklable callable object (like TRL's own reward classes) named after the
reward, so TRL logs ``rewards/<name>/mean``, with TRL's signature
``f(prompts, completions, completion_ids=None, **kwargs)``.

What a reward sees in training is what it sees offline: the rows TRL passes
(``id`` and the other dataset columns) are looked up in the run's own
:class:`~medr1_core.samples.Sample` objects, images and extras included; a row
whose id is unknown is rebuilt from its columns (``Sample.from_row``). The
batch is parsed once (:func:`medr1_core.parsing.make_rollouts`) and shared by
every reward. TRL's logging hooks are used where they serve: ``log_metric``
for ``rewards/<name>/failed`` (1 if the reward raised on the batch, else 0:
its mean is the failure rate) and ``log_extra`` for the sample id and chosen
letter in TRL's completions table. ``on_batch(rollouts, scores)`` is called
once per batch, after the last reward scored it (the run's completion
recorder).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..samples import Rollout, Sample
from .adhoc import SAMPLE_COLUMNS, TRLFunctionReward
from .scoring import ComposedRewards

#: ``on_batch(rollouts, {reward name: scores})``
BatchListener = Callable[[list[Rollout], dict[str, list[float | None]]], None]


class TRLRewardBatch:
    """What the reward functions of one trainer share: the composition, the samples by id,
    and the batch being scored (parsed once).

    TRL calls every reward function with the same ``completions`` list object
    for a batch; holding a reference to it keeps its identity unique while cached.
    """

    def __init__(self, composed: ComposedRewards, variant: str = "think",
                 samples: Sequence[Sample] | None = None, on_batch: BatchListener | None = None):
        self.composed = composed
        self.variant = variant
        self.samples = {s.id: s for s in samples or ()}
        self.on_batch = on_batch
        self._clear()

    def _clear(self) -> None:
        self._key: Any = None
        self._rollouts: list[Rollout] | None = None
        self._scores: dict[str, list[float | None]] = {}

    def __getstate__(self) -> dict[str, Any]:  # the batch in flight is not state
        state = dict(self.__dict__)
        state.update(_key=None, _rollouts=None, _scores={})
        return state

    def start(self, prompts: Sequence | None, completions: Sequence) -> None:
        """Begin scoring a new batch unless ``completions`` is the batch already in hand."""
        if self._key is None or self._key[0] is not completions or self._key[1] is not prompts:
            self._clear()
            self._key = (completions, prompts)

    def sample(self, i: int, prompts: Sequence | None, kwargs: Mapping[str, Any]) -> Sample:
        """Row ``i``'s Sample: the run's own (by id), else rebuilt from the columns TRL passed."""
        from ..parsing import completion_text

        ids = kwargs.get("id")
        if isinstance(ids, (list, tuple)) and ids[i] in self.samples:
            return self.samples[ids[i]]
        row = {k: kwargs[k][i] for k in SAMPLE_COLUMNS if isinstance(kwargs.get(k), (list, tuple))}
        if not row.get("question") and prompts is not None and i < len(prompts):
            row["question"] = completion_text(prompts[i])
        return Sample.from_row(row)

    def rollouts(self, prompts: Sequence | None, completions: Sequence, kwargs: Mapping[str, Any]) -> list[Rollout]:
        """The current batch's rollouts, parsed on first use."""
        if self._rollouts is None:
            from ..parsing import completion_text, make_rollouts

            samples = [self.sample(i, prompts, kwargs) for i in range(len(completions))]
            self._rollouts = make_rollouts(samples, [completion_text(c) for c in completions], self.variant)
        return self._rollouts

    def scored(self, name: str, scores: list[float | None], prompts, completions, kwargs) -> None:
        """Record ``name``'s scores; after the last reward, hand the batch to ``on_batch`` and TRL's table."""
        self._scores[name] = scores
        if len(self._scores) < len(self.composed.names):
            return
        rollouts = self.rollouts(prompts, completions, kwargs)
        log_extra = kwargs.get("log_extra")
        if callable(log_extra):
            log_extra("sample_id", [r.sample.id for r in rollouts])
            log_extra("chosen", [r.completion.letter or r.completion.answer for r in rollouts])
        if self.on_batch is not None:
            self.on_batch(rollouts, {n: self._scores[n] for n in self.composed.names})


class TRLReward:
    """One composed reward as a TRL reward function (see the module doc)."""

    def __init__(self, batch: TRLRewardBatch, index: int):
        self.batch = batch
        self.index = index
        self.__name__ = batch.composed.names[index]
        reward = batch.composed.rewards[index]
        self.__doc__ = f"medr1 reward '{self.__name__}' for TRL: {type(reward).description or type(reward).__doc__ or ''}"

    def __repr__(self) -> str:
        return f"<TRLReward {self.__name__}>"

    def __call__(self, prompts=None, completions=None, completion_ids=None, **kwargs) -> list[float | None]:
        composed, name = self.batch.composed, self.__name__
        completions = completions if completions is not None else []
        self.batch.start(prompts, completions)
        before = composed.failures[name]
        reward = composed.rewards[self.index]
        if isinstance(reward, TRLFunctionReward):
            scores = composed.guarded(
                name,
                lambda: reward.trl_fn(prompts=prompts, completions=completions, completion_ids=completion_ids, **kwargs),
                len(completions),
                tuple(reward.range),
            )
        else:
            scores = composed.score_one(self.index, self.batch.rollouts(prompts, completions, kwargs))
        log_metric = kwargs.get("log_metric")
        if callable(log_metric):
            log_metric(f"rewards/{name}/failed", float(composed.failures[name] > before))
        self.batch.scored(name, scores, prompts, completions, kwargs)
        return scores


def to_trl_reward_funcs(
    composed: ComposedRewards,
    variant: str = "think",
    *,
    samples: Sequence[Sample] | None = None,
    on_batch: BatchListener | None = None,
) -> tuple[list[TRLReward], list[float]]:
    """TRL ``reward_funcs`` and ``reward_weights`` for ``GRPOTrainer``/``GRPOConfig``.

    ``samples`` are the run's samples, so rewards receive them (with images and
    extras) rather than a Sample rebuilt from dataset columns.
    """
    batch = TRLRewardBatch(composed, variant, samples, on_batch)
    return [TRLReward(batch, i) for i in range(len(composed.names))], list(composed.weights)
