"""What a training run writes and shows while it trains: the run's files, one progress bar, the report.

:class:`CompletionRecorder` listens to the TRL reward adapter
(:func:`medr1_core.composition.to_trl_reward_funcs`'s ``on_batch``): after the
last reward scored a batch, it keeps the batch's first ``per_step``
completions with what the run report shows next to them: the question, its
options, modality, task and image paths, every reward's score, the weighted
total and, for each reward that has an ``explain(rollout)`` method (dtree),
its explanation.

Every medr1 trainer (``medr1 train``'s GRPO, ``medr1 sft``) gets the same
callbacks, whatever the trainer class: :func:`attach_run_callbacks` installs
them into a built transformers ``Trainer``:

- :func:`drop_unscored_metrics` first, before any logger: a metric logged as
  ``None`` (TRL's mean of a reward that applied to none of a step's
  rollouts) is removed from that step's metrics, so TensorBoard, wandb,
  ``metrics.jsonl`` and the console never see it, and a reward's mean is over
  the steps where it applied;
- :func:`run_files_callback`: ``metrics.jsonl``, ``completions.jsonl`` and
  ``report.html`` at each checkpoint (main process only);
- :func:`console_progress` in place of transformers' progress printer: one
  bar with the live total reward and each reward's recent mean; the metrics
  dict goes to the files, and to the terminal only with ``verbose``.
- :func:`divergence_callback`: stops the run (:class:`TrainingDiverged`,
  exit 1) as soon as a logged loss or gradient norm is not a finite number,
  and before any checkpoint whose weights are not: the last checkpoint on
  disk is then the last good one, and the message names it.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import deque
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
    """Collects each scored batch's completions with every reward's score (at most ``per_step`` a batch).

    ``composed`` (the run's :class:`~medr1_core.composition.ComposedRewards`)
    adds the weighted total and the explanations of rewards that have an
    ``explain(rollout)`` method; ``image_root`` resolves relative image paths
    as training does.
    """

    def __init__(self, per_step: int = 16, *, composed=None, image_root: str | None = None):
        self.per_step = per_step
        self.composed = composed
        self.image_root = image_root
        self.pending: list[dict[str, Any]] = []
        self._explain_failed: set[str] = set()
        self.explainers = {}
        if composed is not None:
            self.explainers = {name: r.explain for name, r in zip(composed.names, composed.rewards)
                               if callable(getattr(r, "explain", None))}

    def __call__(self, rollouts, scores: dict[str, list[float | None]]) -> None:
        from ..data.images import image_path

        kept = rollouts[: self.per_step]
        totals = self.composed.totals(scores, len(kept)) if self.composed is not None else None
        for i, rollout in enumerate(kept):
            s = rollout.sample
            row = {
                "id": s.id,
                "modality": s.modality,
                "task": s.task,
                "question": s.question,
                "options": s.options,
                "answer": s.answer,
                "images": [image_path(s, p, self.image_root) for p in s.images],
                "completion": rollout.completion.text,
                "rewards": {name: values[i] for name, values in scores.items()},
            }
            if totals is not None:
                row["total"] = totals[i]
            explanations = self._explanations(rollout, {name: values[i] for name, values in scores.items()})
            if explanations:
                row["explanations"] = explanations
            self.pending.append(row)

    def _explanations(self, rollout, scores: dict[str, float | None]) -> dict[str, Any]:
        """Each explaining reward's account of a rollout it scored (``None`` scores need none)."""
        out = {}
        for name, explain in self.explainers.items():
            if scores.get(name) is None:
                continue
            try:
                out[name] = json.loads(json.dumps(explain(rollout), default=str))
            except Exception as exc:  # an explanation never costs a run
                out[name] = {"error": f"{type(exc).__name__}: {exc}"}
                if name not in self._explain_failed:
                    self._explain_failed.add(name)
                    warnings.warn(f"reward '{name}': explain() raised {type(exc).__name__}: {exc}; "
                                  "the report shows the error for its completions", stacklevel=2)
        return out

    def drain(self) -> list[dict[str, Any]]:
        """The rows recorded since the last drain."""
        rows, self.pending = self.pending, []
        return rows


def run_callbacks(run_dir: Path, recorder: CompletionRecorder | None = None, *, report: bool = True) -> list:
    """The ``TrainerCallback`` objects that write a run into ``run_dir`` (metrics, completions, the
    report at checkpoints), the unscored-metric filter first, and the stop on divergence.
    :func:`attach_run_callbacks` installs them, with the console, into a built trainer: use that."""
    return [drop_unscored_metrics(), run_files_callback(run_dir, recorder or CompletionRecorder(), report=report),
            divergence_callback(run_dir)]


def attach_run_callbacks(trainer, run_dir: Path, recorder: CompletionRecorder | None = None, *,
                         verbose: bool = False, report: bool = True):
    """Give ``trainer`` (any transformers ``Trainer``: TRL's GRPO, SFT, ...) medr1's run callbacks.

    The unscored-metric filter goes before every other callback (the trackers
    included), the run-file writer after them, and transformers' own
    progress printer (which prints every metrics dict) is replaced by
    :func:`console_progress`. Returns ``trainer``.
    """
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    drop, files, diverge = run_callbacks(run_dir, recorder, report=report)
    trainer.callback_handler.callbacks.insert(0, drop)
    trainer.add_callback(files)
    trainer.add_callback(diverge)
    for printer in (ProgressCallback, PrinterCallback, _notebook_progress()):
        while printer is not None and any(isinstance(cb, printer) for cb in trainer.callback_handler.callbacks):
            trainer.remove_callback(printer)
    trainer.add_callback(console_progress(verbose=verbose))
    return trainer


def _notebook_progress():
    try:
        from transformers.utils.notebook import NotebookProgressCallback
    except ImportError:  # pragma: no cover
        return None
    return NotebookProgressCallback


def _callback_base():
    from transformers import TrainerCallback

    return TrainerCallback


def drop_unscored_metrics():
    """A ``TrainerCallback`` removing the metrics logged as ``None`` from a step's logs (see the module doc)."""
    base = _callback_base()

    class DropUnscoredMetrics(base):
        def on_log(self, args, state, control, logs=None, **kwargs):
            for key in [k for k, v in (logs or {}).items() if v is None]:
                del logs[key]

    return DropUnscoredMetrics()


def run_files_callback(run_dir: Path, recorder: CompletionRecorder, *, report: bool = True):
    """A ``TrainerCallback`` writing metrics.jsonl and completions.jsonl, and report.html at each
    checkpoint (main process only)."""
    base = _callback_base()

    class RunFiles(base):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and logs:
                append_jsonl(run_dir / rd.METRICS, [{"step": state.global_step, **logs}])

        def on_step_end(self, args, state, control, **kwargs):
            rows = recorder.drain()
            if state.is_world_process_zero and rows:
                append_jsonl(run_dir / rd.COMPLETIONS, [{"step": state.global_step, **r} for r in rows])

        def on_save(self, args, state, control, **kwargs):
            if report and state.is_world_process_zero:
                update_report(run_dir)

    return RunFiles()


def update_report(run_dir: Path) -> Path | None:
    """Write ``report.html`` for ``run_dir`` now; a report that fails warns and never stops a run."""
    from ..report import write_report

    try:
        return write_report(run_dir)
    except Exception as exc:  # the report is a view of the files: never worth a run
        warnings.warn(f"could not write {run_dir / rd.REPORT}: {type(exc).__name__}: {exc}", stacklevel=2)
        return None


def console_progress(*, verbose: bool = False, window: int = 10):
    """The one progress bar of a training run (see :class:`ConsoleProgress`)."""
    base = _callback_base()

    class ConsoleProgress(base):
        """A tqdm bar over the optimizer steps; after it, the last step's total reward and each
        reward's mean over its last ``window`` scored steps (the loss, for a run without rewards)."""

        def __init__(self):
            self.bar = None
            self.step = 0
            self.recent: dict[str, deque] = {}
            self.latest: dict[str, float] = {}

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=state.max_steps, desc="train", unit="step", dynamic_ncols=True)
            self.step = 0

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.update(state.global_step - self.step)
            self.step = state.global_step

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.bar is None or not logs:
                return
            from ..report.console import metrics_line, progress_figures, reward_name

            if "reward" in logs or "loss" in logs:
                self.latest = {k: logs[k] for k in ("reward", "loss") if isinstance(logs.get(k), (int, float))}
            for key, value in logs.items():
                if key.startswith("rewards/") and key.endswith("/mean") and isinstance(value, (int, float)):
                    self.recent.setdefault(reward_name(key), deque(maxlen=window)).append(float(value))
            self.bar.set_postfix_str(progress_figures(self.latest, self.recent), refresh=True)
            if verbose:
                self.bar.write(f"step {state.global_step}: {metrics_line(logs)}")

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return ConsoleProgress()
