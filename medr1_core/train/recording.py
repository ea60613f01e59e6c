"""What a training run writes while it trains: ``metrics.jsonl`` and ``completions.jsonl``.

:class:`CompletionRecorder` listens to the TRL reward adapter
(:func:`medr1_core.composition.to_trl_reward_funcs`'s ``on_batch``): after the
last reward scored a batch, it keeps the batch's first ``per_step``
completions with every reward's score. :func:`run_files_callback` is the
``TrainerCallback`` that appends them, and each logged step's metrics, to the
run directory (main process only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..files import append_jsonl
from . import run_dir as rd


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
    """The ``TrainerCallback`` objects every medr1 trainer (GRPO, SFT) gets: what it writes into ``run_dir``."""
    return [run_files_callback(run_dir, recorder or CompletionRecorder())]


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
