"""What a training run writes while it trains (``metrics.jsonl``, ``completions.jsonl``), and the
guard that stops it when it diverges.

:class:`CompletionRecorder` listens to the TRL reward adapter
(:func:`medr1_core.composition.to_trl_reward_funcs`'s ``on_batch``): after the
last reward scored a batch, it keeps the batch's first ``per_step``
completions with every reward's score. :func:`run_files_callback` is the
``TrainerCallback`` that appends them, and each logged step's metrics, to the
run directory (main process only). :func:`divergence_callback` stops the run
(:class:`TrainingDiverged`, exit 1) as soon as a logged loss or gradient norm
is not a finite number, and before any checkpoint whose weights are not: the
last checkpoint on disk is then the last good one, and the message names it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..errors import RunFailed
from ..files import append_jsonl
from . import run_dir as rd


class TrainingDiverged(RunFailed):
    """The loss, a gradient or the weights stopped being finite numbers; the message names the step and
    the last good checkpoint."""


def diverged_message(run_dir: Path, step: int, what: str) -> str:
    """The sentence :class:`TrainingDiverged` says: when, what, and which checkpoint is still good."""
    good = rd.latest_complete_checkpoint(Path(run_dir))
    keep = (f"the last good checkpoint is {good} (resume from it with a lower learning rate: medr1 train --resume "
            f"--output-dir {run_dir} --learning-rate ...)" if good is not None
            else "no complete checkpoint was saved before it")
    return f"training diverged at step {step}: {what}; nothing from this step was saved, {keep}"


def _first_non_finite_parameter(model) -> str | None:
    import torch

    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.numel() and not bool(torch.isfinite(parameter).all()):
                return name
    return None


def divergence_callback(run_dir: Path):
    """A ``TrainerCallback`` raising :class:`TrainingDiverged` on a non-finite loss or gradient norm (each
    logged step) or non-finite weights (before a save and at the end)."""
    from transformers import TrainerCallback

    class StopOnDivergence(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            for key in ("loss", "grad_norm"):
                value = (logs or {}).get(key)
                if isinstance(value, (int, float)) and not math.isfinite(value):
                    name = "gradient norm" if key == "grad_norm" else key
                    raise TrainingDiverged(diverged_message(run_dir, state.global_step,
                                                            f"the {name} is {value}, not a finite number"))

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if model is not None and (control.should_save or control.should_training_stop):
                bad = _first_non_finite_parameter(model)
                if bad is not None:
                    raise TrainingDiverged(diverged_message(
                        run_dir, state.global_step, f"the weights are no longer finite numbers ({bad} holds NaN or inf)"))

    return StopOnDivergence()


class CompletionRecorder:
    """Collects each scored batch's completions with every reward's score (at most ``per_step`` a batch)."""

    def __init__(self, per_step: int = 16):
        self.per_step = per_step
        self.pending: list[dict[str, Any]] = []

    def __call__(self, rollouts, scores: dict[str, list[float | None]]) -> None:
        for i, rollout in enumerate(rollouts[: self.per_step]):
            self.pending.append({
                "id": rollout.sample.id,
                "answer": rollout.sample.answer,
                "completion": rollout.completion.text,
                "rewards": {name: values[i] for name, values in scores.items()},
            })

    def drain(self) -> list[dict[str, Any]]:
        """The rows recorded since the last drain."""
        rows, self.pending = self.pending, []
        return rows


def run_callbacks(run_dir: Path, recorder: CompletionRecorder | None = None) -> list:
    """The ``TrainerCallback`` objects every medr1 trainer (GRPO, SFT) gets: what it writes into ``run_dir``,
    and the stop on divergence."""
    return [run_files_callback(run_dir, recorder or CompletionRecorder()), divergence_callback(run_dir)]


def run_files_callback(run_dir: Path, recorder: CompletionRecorder):
    """A ``TrainerCallback`` writing metrics.jsonl and completions.jsonl (main process only)."""
    from transformers import TrainerCallback

    class RunFiles(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and logs:
                append_jsonl(run_dir / rd.METRICS, [{"step": state.global_step, **logs}])

        def on_step_end(self, args, state, control, **kwargs):
            rows = recorder.drain()
            if state.is_world_process_zero and rows:
                append_jsonl(run_dir / rd.COMPLETIONS, [{"step": state.global_step, **r} for r in rows])

    return RunFiles()
