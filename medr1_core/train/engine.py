"""The training engine: TRL's ``GRPOTrainer`` built from a validated :class:`TrainConfig` (``medr1 sft``'s
``SFTTrainer``: :mod:`medr1_core.train.sft`), and the run around it: run directory, start, end, resume.

medr1 does not re-implement GRPO. This module only assembles what TRL needs:
the model and processor (``AutoModelForImageTextToText`` / ``AutoProcessor``),
a dataset whose images are decoded lazily, prompts from the task plugins, and
the composed rewards as TRL ``reward_funcs`` (names kept, so TRL logs
``rewards/<name>/mean``). Scale-out (torchrun / accelerate, DeepSpeed, FSDP,
vLLM) is TRL's and accelerate's.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError, MissingDependency, RunDirError
from . import run_dir as rd
from .config import TrainConfig

log = logging.getLogger("medr1")


@dataclass
class Run:
    """A prepared run: the trainer and what it was built from."""

    config: TrainConfig
    run_dir: Path
    trainer: Any
    processor: Any
    composed: Any
    data_report: dict[str, Any] = field(default_factory=dict)
    resume_from: Path | None = None


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def grpo_args(config: TrainConfig, run_dir: Path, reward_weights: list[float]):
    """TRL ``GRPOConfig`` from the ``grpo:`` section (TRL names), for ``run_dir``."""
    import torch
    from trl import GRPOConfig

    from .models import from_pretrained_kwargs

    g = config.grpo
    on_gpu = torch.cuda.is_available()
    bf16 = g.bf16 if g.bf16 is not None else bool(on_gpu and torch.cuda.is_bf16_supported())
    # transformers >= 5 reads the TensorBoard folder from the environment.
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(run_dir / rd.TENSORBOARD_DIR)
    kwargs = {
        "save_strategy": "steps",
        "disable_tqdm": False,
        "run_name": run_dir.name,  # the run's name in wandb, mlflow, trackio
        **g.trl_kwargs(),
        "report_to": config.report_to or "none",
        "output_dir": str(run_dir),
        "bf16": bf16,
        "use_cpu": not on_gpu,
        "reward_weights": reward_weights,
        "remove_unused_columns": False,
        # TRL loads the policy and the reference model from the model id with these: float32 master
        # weights unless model.dtype says otherwise (bf16: mixed precision), model.* options for both.
        "model_init_kwargs": from_pretrained_kwargs(config.model, training=True),
        "trust_remote_code": config.model.trust_remote_code,
    }
    return GRPOConfig(**kwargs)


def check_names(config: TrainConfig, plugins):
    """Build the rewards (names and parameters validated) and check modality and task names:
    a typo fails in a second, not after the model has loaded."""
    from ..composition import build_rewards

    composed = build_rewards(config.rewards.values(), strict=config.strict_rewards, plugins=plugins,
                             time_limit=config.reward_time_limit)
    for name in config.modality:
        plugins.modalities.get(name)
    for name in config.task:
        plugins.tasks.get(name)
    check_trackers(config.report_to)
    return composed


#: The pip package each tracker of ``report_to`` needs, where its name differs.
TRACKER_PACKAGES = {"azure_ml": "azureml-core", "flyte": "flytekit"}


def check_trackers(report_to: list[str]) -> None:
    """Every tracker of ``report_to`` is installed (else a one-line error saying what to install),
    checked before the model loads."""
    from transformers.integrations import get_available_reporting_integrations

    available = set(get_available_reporting_integrations())
    missing = [name for name in report_to if name != "flyte" and name not in available]  # flyte: no check there
    if missing:
        install = " ".join(TRACKER_PACKAGES.get(n, n) for n in missing)
        raise MissingDependency(
            f"report_to {', '.join(missing)}: not installed (pip install {install}), or leave it out of "
            f"--report-to / report_to:"
        )


def choose_training_samples(config: TrainConfig, plugins):
    """The questions to train on, chosen as :func:`~medr1_core.data.choose_samples` chooses for evaluation;
    what was left out, and why, is said on the console."""
    import warnings

    from ..data import choose_samples
    from ..data.loading import DataWarning

    chosen = choose_samples(config.data, config.selection(), plugins=plugins)
    if is_main_process():
        for message in chosen.messages:
            warnings.warn(message, DataWarning, stacklevel=2)
    return chosen


def data_report(chosen, too_long: int, training: int) -> dict[str, Any]:
    """``data_report.json``: what was read, what was left out and why, what is trained on."""
    loaded = chosen.loaded
    return {
        "data": loaded.path,
        "format": loaded.format,
        "loaded": len(loaded.samples),
        "bad_records": len(loaded.bad),
        "bad_record_examples": [str(b) for b in loaded.bad[:20]],
        "excluded_by_selection": chosen.excluded,
        "skipped_duplicate_ids": chosen.skipped.get("duplicate_ids", 0),
        "skipped_missing_images": chosen.skipped.get("missing_images", 0),
        "skipped_prompt_too_long": too_long,
        "training_samples": training,
    }


def prepare_run(config: TrainConfig, *, resume: bool = False, verbose: bool = False) -> Run:
    """Validate names, load data, model and rewards, and build the trainer (with medr1's run
    callbacks and console: :func:`~medr1_core.train.recording.attach_run_callbacks`)."""
    from ..composition import to_trl_reward_funcs
    from ..data import training_dataset
    from ..plugins import get_plugins
    from . import models
    from .recording import CompletionRecorder, attach_run_callbacks

    plugins = get_plugins()
    run_dir = Path(config.output_dir)
    resume_from = resume_point(run_dir, resume)
    composed = check_names(config, plugins)
    models.check_model_options(config.model)
    # The training arguments come first: TRL's own checks run before the model loads, and under
    # DeepSpeed ZeRO-3 they are what makes from_pretrained shard the weights as they load.
    args = checked_grpo_args(config, run_dir, list(composed.weights))
    chosen = choose_training_samples(config, plugins)
    source = models.resolve_model(config.model.name).source
    processor = models.load_processor(source, config.model)
    samples, too_long = _drop_long_prompts(chosen.samples, processor, config, plugins)
    if not samples:
        raise DataError(f"no training samples left from --data {config.data} after filtering")
    report = data_report(chosen, too_long, len(samples))
    dataset = training_dataset(samples, plugins=plugins, variant=config.variant, image_root=config.image_root,
                               allow_outside=config.allow_outside_images, prompt_set=config.prompt_set)
    recorder = CompletionRecorder(composed=composed, image_root=config.image_root)
    reward_funcs, _weights = to_trl_reward_funcs(composed, config.variant, samples=samples, on_batch=recorder)

    trainer = grpo_trainer(source, args, reward_funcs, dataset, processor, _peft_config(config))
    attach_run_callbacks(trainer, run_dir, recorder, verbose=verbose)
    return Run(config, run_dir, trainer, processor, composed, report, resume_from)


def grpo_trainer(source: str, args, reward_funcs, dataset, processor, peft_config):
    """TRL's ``GRPOTrainer`` on the model at ``source``, which TRL loads (policy and reference model) with
    ``args.model_init_kwargs``, after ``args`` exist; a model that cannot be read is one line."""
    from trl import GRPOTrainer

    from .models import ModelNotFoundError, _first_line

    try:
        return GRPOTrainer(model=source, reward_funcs=reward_funcs, args=args, train_dataset=dataset,
                           processing_class=processor, peft_config=peft_config)
    except OSError as exc:
        raise ModelNotFoundError(f"--model {source}: cannot load it: {_first_line(exc)}") from None


def checked_grpo_args(config: TrainConfig, run_dir: Path, reward_weights: list[float]):
    """:func:`grpo_args`, with TRL's own checks of the settings (``num_generations`` dividing the batch, ...)
    as a :class:`~medr1_core.errors.ConfigError` naming them."""
    from ..errors import ConfigError

    try:
        return grpo_args(config, run_dir, reward_weights)
    except ValueError as exc:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        g = config.grpo
        raise ConfigError(
            f"grpo settings TRL refuses: {' '.join(str(exc).split())} (here num_generations={g.num_generations}, "
            f"per_device_train_batch_size={g.per_device_train_batch_size}, "
            f"gradient_accumulation_steps={g.gradient_accumulation_steps}, processes={world})"
        ) from None


def resume_point(run_dir: Path, resume: bool) -> Path | None:
    """The checkpoint a ``--resume`` continues from (``None`` without ``resume``); without ``resume``, a run
    directory that already holds a run is refused."""
    if resume:
        return _resume_point(run_dir)
    # Rank 0 alone checks: it writes config.yaml, which other ranks could see mid-start.
    if is_main_process() and (run_dir / rd.CONFIG).exists():
        raise RunDirError(
            f"{run_dir} already holds a medr1 run (config.yaml). Pass --resume to continue it, "
            "or choose another --output-dir."
        )
    return None


def _resume_point(run_dir: Path) -> Path:
    import warnings

    if not (run_dir / rd.CONFIG).is_file():
        raise RunDirError(f"--resume: {run_dir} is not a medr1 run directory (no config.yaml)")
    removed = rd.remove_incomplete_checkpoints(run_dir) if is_main_process() else []
    checkpoint = rd.latest_complete_checkpoint(run_dir)
    if removed:
        warnings.warn(f"{', '.join(removed)} in {run_dir} was cut off mid-save (no complete {rd.TRAINER_STATE}): "
                      f"removed it; resuming from {checkpoint.name if checkpoint else 'nothing'}",
                      rd.RunFileWarning, stacklevel=2)
    if checkpoint is None:
        raise RunDirError(f"--resume: {run_dir} has no complete checkpoint-N to resume from yet")
    return checkpoint


def restore_weights(model, checkpoint: Path) -> None:
    """Put ``checkpoint``'s weights into ``model`` (before ``trainer.train(resume_from_checkpoint=...)``).

    transformers 5 saves a checkpoint under the model's published key names
    (``language_model.model.layers...`` for LLaVA); resumed through TRL's
    ``SFTTrainer``, the ``Trainer`` loaded such a checkpoint back without
    converting them, loading nothing (a warning of missing and unexpected
    keys), and the run went on from the weights it started with (a GRPO run on
    the same model resumed correctly). ``from_pretrained`` converts the names,
    so medr1 loads the checkpoint that way, for every method, and copies its
    weights over, strictly; the optimizer,
    scheduler and random states are still the Trainer's to restore. Runs under
    DeepSpeed or FSDP resume from those libraries' own checkpoint states
    instead (their sharded weights are not loaded this way), as do LoRA runs
    (peft loads the adapter by its own names).
    """
    from transformers import AutoModelForImageTextToText

    saved = AutoModelForImageTextToText.from_pretrained(str(checkpoint), dtype=next(model.parameters()).dtype)
    model.load_state_dict(saved.state_dict(), strict=True)
    del saved


def _drop_long_prompts(samples, processor, config, plugins):
    """Skip (and count) samples whose text prompt exceeds ``max_prompt_length`` tokens.

    TRL >= 1.0 does not truncate prompts (cutting a multimodal prompt would cut
    its image tokens), so medr1 drops the few that are too long instead.
    """
    if config.max_prompt_length is None:
        return samples, 0
    from ..prompts import build_prompt

    tokenizer = getattr(processor, "tokenizer", processor)
    kept = [
        s
        for s in samples
        if len(tokenizer(build_prompt(s, plugins.tasks.get(s.task) if s.task else None, config.variant,
                                      prompt_set=config.prompt_set))["input_ids"])
        <= config.max_prompt_length
    ]
    if len(kept) < len(samples):
        log.warning("skipped %d question(s) longer than max_prompt_length=%d tokens", len(samples) - len(kept), config.max_prompt_length)
    return kept, len(samples) - len(kept)


def _peft_config(config: TrainConfig):
    if config.lora is None:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=config.lora.target_modules,
        task_type="CAUSAL_LM",
    )


def _start(run: Run) -> None:
    import yaml

    run.run_dir.mkdir(parents=True, exist_ok=True)
    if run.resume_from is None:
        rd.write_atomic(run.run_dir / rd.CONFIG, yaml.safe_dump(run.config.model_dump(mode="json"), sort_keys=False))
    rd.write_atomic(run.run_dir / rd.DATA_REPORT, json.dumps(run.data_report, indent=2))
    import torch

    rd.log_event(run.run_dir, "resume" if run.resume_from else "start", checkpoint=str(run.resume_from or ""),
                 cpu_threads=torch.get_num_threads(), **run.data_report)


def plot_curve(run_dir: Path) -> Path | None:
    """Draw ``reward_curve.png`` from the run's metrics so far."""
    from ..report.plots import plot_reward_curve

    return plot_reward_curve(rd.metric_series(run_dir), run_dir / rd.CURVE, title=f"Rewards: {run_dir.name}")


def _finish(run: Run) -> dict[str, Any]:
    from ..data import image_stats
    from .recording import update_report

    import shutil

    final = run.run_dir / rd.FINAL_MODEL_DIR
    partial = final.with_name(f"{final.name}.incomplete")  # renamed into place whole: a kill leaves no half final/
    shutil.rmtree(partial, ignore_errors=True)
    run.trainer.save_model(str(partial))
    run.processor.save_pretrained(str(partial))
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    plot_curve(run.run_dir)
    images = image_stats(run.trainer.train_dataset)
    composed = run.composed
    summary = {
        **rd.summarise(run.run_dir, losses=composed is None),
        "reward_failures": dict(composed.failures) if composed is not None else {},
        "unreadable_images": len(images.unreadable),
        "weights": dict(zip(composed.names, composed.weights)) if composed is not None else {},
        "run_dir": str(run.run_dir),
    }
    rd.log_event(run.run_dir, "end", **{k: v for k, v in summary.items() if k not in ("run_dir", "weights")})
    report = update_report(run.run_dir)  # after the end event, so the report says the run finished
    if report is not None:
        summary["report"] = str(report)
    return summary


def train(config, *, resume: bool = False, verbose: bool = False) -> dict[str, Any]:
    """Run training as configured (a :class:`TrainConfig`: GRPO; a
    :class:`~medr1_core.train.sft_config.SFTRunConfig`: SFT); returns the run's summary (empty on other ranks).

    The terminal shows one progress bar (``verbose``: also each step's metrics
    and the libraries' own progress bars and warnings). Rank 0 makes sure the
    run directory is medr1's (a folder of the user's files is refused), holds
    its lock while it trains, and on ``resume`` of a finished run says so and
    changes nothing.
    """
    from ..report.console import quiet_libraries

    quiet_libraries(verbose)
    if config.output_dir is None:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise RunDirError("a multi-process run needs --output-dir, so that every process writes to the same run")
        config.output_dir = str(rd.new_run_dir())
    run_dir = Path(config.output_dir)
    if not is_main_process():
        return _train(config, resume, verbose)
    if resume:
        ended = rd.finished(run_dir)
        if ended is not None:
            raise RunDirError(
                f"--resume: {run_dir} already finished after {ended.get('steps', '?')} steps (its model is in "
                f"{run_dir / rd.FINAL_MODEL_DIR}); nothing to resume, nothing changed. To train further, start a "
                f"new run from it: --model {run_dir / rd.FINAL_MODEL_DIR}"
            )
        if rd.run_kind(run_dir) != "train":
            raise RunDirError(f"--resume: {run_dir} is not a medr1 training run (no config.yaml)")
    made = rd.claim_run_dir(run_dir, "train")
    try:
        with rd.locked(run_dir, "medr1 train"):
            return _train(config, resume, verbose)
    except BaseException:
        if made:
            rd.release_new_run_dir(run_dir)  # a run that never started leaves no folder behind
        raise


def _prepare(config, resume: bool, verbose: bool) -> Run:
    """The run of ``config``'s method: GRPO (:func:`prepare_run`) or SFT (:func:`~medr1_core.train.sft.prepare_sft_run`)."""
    if getattr(config, "method", "grpo") == "sft":
        from .sft import prepare_sft_run

        return prepare_sft_run(config, resume=resume, verbose=verbose)
    return prepare_run(config, resume=resume, verbose=verbose)


def _train(config, resume: bool, verbose: bool = False) -> dict[str, Any]:
    from .recording import TrainingDiverged, diverged_message, update_report

    run = _prepare(config, resume, verbose)
    main = is_main_process()
    if main:
        _start(run)
    trainer = run.trainer
    sharded = getattr(trainer, "is_deepspeed_enabled", False) or getattr(trainer, "is_fsdp_enabled", False)
    if run.resume_from is not None and config.lora is None and not sharded:  # DeepSpeed, FSDP: their own states
        restore_weights(trainer.model, run.resume_from)
    try:
        run.trainer.train(resume_from_checkpoint=str(run.resume_from) if run.resume_from else None)
    except BaseException as exc:  # Ctrl-C or a crash: say so in the run, keep the curve so far
        failure = exc
        if isinstance(exc, RuntimeError) and "probability tensor contains" in str(exc):  # sampling from NaN weights
            step = run.trainer.state.global_step + 1
            failure = TrainingDiverged(diverged_message(run.run_dir, step, "sampling met probabilities that are "
                                                        "not finite numbers (the weights have blown up)"))
        if main:
            rd.log_event(run.run_dir, "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed",
                         error=f"{type(failure).__name__}: {failure}",
                         failures=dict(run.composed.failures) if run.composed is not None else {})
            plot_curve(run.run_dir)
            update_report(run.run_dir)
        if failure is not exc:
            raise failure from exc
        raise
    return _finish(run) if main else {}
