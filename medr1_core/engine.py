"""The GRPO engine: TRL's ``GRPOTrainer`` built from a validated :class:`TrainConfig`.

medr1 does not re-implement GRPO. This module only assembles what TRL needs:
the model and processor (``AutoModelForImageTextToText`` / ``AutoProcessor``),
a dataset whose images are decoded lazily, prompts from the task plugins, and
the composed rewards as TRL ``reward_funcs`` (names kept, so TRL logs
``rewards/<name>/mean``). Scale-out (torchrun / accelerate, DeepSpeed, FSDP,
vLLM) is TRL's and accelerate's.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import run_dir as rd
from .config import TrainConfig
from .data import DataError, image_stats
from .models import FINAL_MODEL_DIR

log = logging.getLogger("medr1")


class RunDirError(RuntimeError):
    """The output directory holds a run that this command would overwrite."""


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


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def grpo_args(config: TrainConfig, run_dir: Path, reward_weights: list[float]):
    """TRL ``GRPOConfig`` from the ``grpo:`` section (TRL names), for ``run_dir``."""
    import torch
    from trl import GRPOConfig

    g = config.grpo
    on_gpu = torch.cuda.is_available()
    bf16 = g.bf16 if g.bf16 is not None else bool(on_gpu and torch.cuda.is_bf16_supported())
    fields = g.model_dump(exclude={"extra", "bf16", "gradient_checkpointing"})
    # transformers >= 5 reads the TensorBoard folder from the environment.
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(run_dir / "tensorboard")
    return GRPOConfig(
        output_dir=str(run_dir),
        **fields,
        bf16=bf16,
        activation_checkpointing=g.gradient_checkpointing,  # TRL's new name; the old one warns
        use_cpu=not on_gpu,
        reward_weights=reward_weights,
        save_strategy="steps",
        report_to=["tensorboard"],
        remove_unused_columns=False,
        disable_tqdm=False,
        **g.extra,
    )


def prepare_run(config: TrainConfig, *, resume: bool = False) -> Run:
    """Validate names, load data, model and rewards, and build the trainer."""
    from .composition import RewardSpec, build_rewards, to_trl_reward_funcs
    from .data import check_images, load_samples, training_dataset
    from .models import load_model_and_processor, resolve_model
    from .plugins import get_plugins

    plugins = get_plugins()
    run_dir = Path(config.output_dir)
    resume_from = _resume_point(run_dir) if resume else None
    # Rank 0 alone checks: it writes config.yaml, which other ranks could see mid-start.
    if not resume and _is_main_process() and (run_dir / rd.CONFIG).exists():
        raise RunDirError(
            f"{run_dir} already holds a medr1 run (config.yaml). Pass --resume to continue it, "
            "or choose another --output-dir."
        )

    # Names and parameters first: a typo fails in a second, not after the model has loaded.
    composed = build_rewards(
        [RewardSpec(name, e.reward, e.weight, e.params) for name, e in config.rewards.items()],
        strict=config.strict_rewards,
    )
    for name in config.modality:
        plugins.modalities.get(name)
    for name in config.task:
        plugins.tasks.get(name)

    loaded = load_samples(
        config.data,
        format=config.format,
        modalities=config.modality or None,
        tasks=config.task or None,
        datasets=config.dataset or None,
        image_root=config.image_root,
        plugins=plugins,
    )
    images = check_images(loaded.samples, config.image_root, on_missing=config.on_missing_image)
    resolved = resolve_model(config.model)
    model, processor = load_model_and_processor(resolved.source)
    samples, too_long = _drop_long_prompts(images.samples, processor, config, plugins)
    if not samples:
        raise DataError(f"no training samples left from --data {config.data} after filtering")
    dataset = training_dataset(samples, plugins=plugins, variant=config.variant, image_root=config.image_root)

    report = {
        "data": loaded.path,
        "format": loaded.format,
        "loaded": len(loaded.samples),
        "bad_records": len(loaded.bad),
        "skipped_missing_images": images.skipped,
        "skipped_prompt_too_long": too_long,
        "training_samples": len(samples),
    }
    recorder = CompletionRecorder()
    reward_funcs, weights = to_trl_reward_funcs(composed, variant=config.variant)

    from trl import GRPOTrainer

    trainer = GRPOTrainer(
        model=model,
        reward_funcs=recorder.wrap(reward_funcs),
        args=grpo_args(config, run_dir, weights),
        train_dataset=dataset,
        processing_class=processor,
        callbacks=[run_files_callback(run_dir, recorder)],
        peft_config=_peft_config(config),
    )
    return Run(config, run_dir, trainer, processor, composed, report, resume_from)


def _resume_point(run_dir: Path) -> Path:
    from .models import latest_checkpoint

    if not (run_dir / rd.CONFIG).is_file():
        raise RunDirError(f"--resume: {run_dir} is not a medr1 run directory (no config.yaml)")
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise RunDirError(f"--resume: {run_dir} has no checkpoint-N to resume from yet")
    return checkpoint


def _drop_long_prompts(samples, processor, config: TrainConfig, plugins):
    """Skip (and count) samples whose text prompt exceeds ``max_prompt_length`` tokens.

    TRL >= 1.0 does not truncate prompts (cutting a multimodal prompt would cut
    its image tokens), so medr1 drops the few that are too long instead.
    """
    if config.max_prompt_length is None:
        return samples, 0
    from .prompts import build_prompt

    tokenizer = getattr(processor, "tokenizer", processor)
    kept = [
        s
        for s in samples
        if len(tokenizer(build_prompt(s, plugins.tasks.get(s.task) if s.task else None, config.variant))["input_ids"])
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


class CompletionRecorder:
    """Collects each scored batch's completions with every reward's score.

    TRL calls the reward functions one after another on the same batch; the
    wrapped functions gather their scores per batch, and the run-files
    callback writes the finished batches to ``completions.jsonl``. At most
    ``per_step`` completions are kept per batch.
    """

    def __init__(self, per_step: int = 16):
        self.per_step = per_step
        self.pending: list[dict[str, Any]] = []
        self._batch: Any = None
        self._rows: list[dict[str, Any]] = []

    def wrap(self, funcs: list) -> list:
        return [self._wrapped(f) for f in funcs]

    def _wrapped(self, func):
        from .parsing import completion_text

        def reward_func(prompts=None, completions=None, completion_ids=None, **kwargs):
            scores = func(prompts=prompts, completions=completions, completion_ids=completion_ids, **kwargs)
            if completions is not self._batch:
                self.pending.extend(self._rows)
                self._batch = completions
                ids = kwargs.get("id") or [None] * len(completions)
                answers = kwargs.get("answer") or [None] * len(completions)
                self._rows = [
                    {"id": i, "answer": a, "completion": completion_text(c), "rewards": {}}
                    for i, a, c in list(zip(ids, answers, completions))[: self.per_step]
                ]
            for row, score in zip(self._rows, scores):
                row["rewards"][func.__name__] = score
            return scores

        reward_func.__name__ = func.__name__
        reward_func.__qualname__ = func.__qualname__
        return reward_func

    def drain(self) -> list[dict[str, Any]]:
        """The finished batches' rows (and the current one's, once all its rewards ran)."""
        rows = self.pending + self._rows
        self.pending, self._rows = [], []
        return rows


def run_files_callback(run_dir: Path, recorder: CompletionRecorder):
    """A ``TrainerCallback`` writing metrics.jsonl and completions.jsonl (main process only)."""
    from transformers import TrainerCallback

    class RunFiles(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and logs:
                rd.append_jsonl(run_dir / rd.METRICS, [{"step": state.global_step, **logs}])

        def on_step_end(self, args, state, control, **kwargs):
            rows = recorder.drain()
            if state.is_world_process_zero and rows:
                rd.append_jsonl(run_dir / rd.COMPLETIONS, [{"step": state.global_step, **r} for r in rows])

    return RunFiles()


def train(config: TrainConfig, *, resume: bool = False) -> dict[str, Any]:
    """Run GRPO training as configured; returns the run's summary."""
    import json

    import yaml

    if config.output_dir is None:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise RunDirError("a multi-process run needs --output-dir, so that every process writes to the same run")
        config.output_dir = str(rd.new_run_dir())
    run = prepare_run(config, resume=resume)
    main = _is_main_process()
    if main:
        run.run_dir.mkdir(parents=True, exist_ok=True)
        if run.resume_from is None:
            (run.run_dir / rd.CONFIG).write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
        (run.run_dir / rd.DATA_REPORT).write_text(json.dumps(run.data_report, indent=2))
        rd.log_event(run.run_dir, "resume" if run.resume_from else "start", checkpoint=str(run.resume_from or ""), **run.data_report)
    try:
        run.trainer.train(resume_from_checkpoint=str(run.resume_from) if run.resume_from else None)
    except BaseException as exc:  # Ctrl-C or a crash: say so in the run, keep the curve so far
        if main:
            rd.log_event(run.run_dir, "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed",
                         error=f"{type(exc).__name__}: {exc}", failures=dict(run.composed.failures))
            rd.plot_reward_curve(run.run_dir)
        raise
    if not main:
        return {}
    final = run.run_dir / FINAL_MODEL_DIR
    run.trainer.save_model(str(final))
    run.processor.save_pretrained(str(final))
    rd.plot_reward_curve(run.run_dir)
    images = image_stats(run.trainer.train_dataset)
    summary = {
        **rd.summarise(run.run_dir),
        "reward_failures": dict(run.composed.failures),
        "unreadable_images": len(images.unreadable),
        "run_dir": str(run.run_dir),
    }
    rd.log_event(run.run_dir, "end", **{k: v for k, v in summary.items() if k != "run_dir"})
    return summary
