"""``medr1 sft``: the supervised fine-tuning baseline, TRL's ``SFTTrainer`` on the questions GRPO trains on.

Everything but the trainer is ``medr1 train``'s: the questions are chosen by
the same selection (:func:`~medr1_core.train.engine.choose_training_samples`),
prompted with the same prompt set and variant, and the run directory, its
lock, resume, console, metrics files, TensorBoard and ``report.html`` are the
GRPO run's (:func:`~medr1_core.train.recording.attach_run_callbacks`), so
``medr1 eval`` and ``medr1 report`` read an SFT run as they read a GRPO one.

Each row is a prompt-completion pair: the prompt GRPO would see, and the
expected answer written in the variant's format (:func:`sft_target`). The
loss counts the answer's tokens only (TRL's ``completion_only_loss``). The
questions are shuffled once with the run's seed and read in that order
(``train_sampling_strategy: sequential``; every epoch the same order), so a
resumed run ends with the weights an uninterrupted one has.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from ..samples import Sample
from . import run_dir as rd
from .engine import (
    Run,
    _drop_long_prompts,
    _peft_config,
    check_trackers,
    choose_training_samples,
    data_report,
    resume_point,
)
from .sft_config import SFTRunConfig


def reasoning_text(sample: Sample) -> str:
    """The think block of an SFT target: the sample's own reasoning (``extras["thinking"]``, as Med-R1's SFT data
    may carry one) when it has one, else a sentence stating the answer (medr1 has no chain-of-thought labels).

    >>> reasoning_text(Sample(id="1", question="Which?", answer="B", options={"A": "CT", "B": "MRI"}))
    'The correct option is B) MRI.'
    """
    own = sample.extras.get("thinking")
    if isinstance(own, str) and own.strip():
        return own.strip()
    if sample.options and sample.answer in sample.options:
        return f"The correct option is {sample.answer}) {sample.options[sample.answer]}."
    return f"The answer is {sample.answer}."


def sft_target(sample: Sample, variant: str, prompt_set: str = "medr1") -> str:
    """The completion SFT trains on: the expected answer in ``variant``'s format.

    ``nothink``: the answer block only; ``think``: the reasoning then the
    answer; ``think_after``: the answer then the reasoning
    (:func:`reasoning_text`). The answer is the option letter (the reference
    text for an open question); with Med-R1's prompt set it is written as
    Med-R1's split files write it, ``<answer> B </answer>``.

    >>> s = Sample(id="1", question="Which?", answer="B", options={"A": "CT", "B": "MRI"})
    >>> sft_target(s, "nothink")
    '<answer>B</answer>'
    >>> sft_target(s, "think", "med-r1")
    '<think>The correct option is B) MRI.</think>\\n<answer> B </answer>'
    """
    answer = f"<answer> {sample.answer} </answer>" if prompt_set == "med-r1" else f"<answer>{sample.answer}</answer>"
    if variant == "nothink":
        return answer
    think = f"<think>{reasoning_text(sample)}</think>"
    if variant == "think":
        return f"{think}\n{answer}"
    if variant == "think_after":
        return f"{answer}\n{think}"
    raise ConfigError(f"no SFT target for prompt variant {variant!r}")


def sft_args(config: SFTRunConfig, run_dir: Path):
    """TRL ``SFTConfig`` from the ``sft:`` section (TRL names), for ``run_dir``."""
    import torch
    from trl import SFTConfig

    s = config.sft
    on_gpu = torch.cuda.is_available()
    bf16 = s.bf16 if s.bf16 is not None else bool(on_gpu and torch.cuda.is_bf16_supported())
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(run_dir / rd.TENSORBOARD_DIR)
    kwargs = {
        "save_strategy": "steps",
        "disable_tqdm": False,
        "run_name": run_dir.name,
        # the questions in an order of medr1's own (shuffled once, by the seed: :func:`prepare_sft_run`), so a
        # resumed run skips exactly the batches it trained on; transformers' random sampler draws its order from
        # the global random state, which a resumed process does not reproduce
        "train_sampling_strategy": "sequential",
        **s.trl_kwargs(),
        "report_to": config.report_to or "none",
        "output_dir": str(run_dir),
        "bf16": bf16,
        "use_cpu": not on_gpu,
        "remove_unused_columns": False,  # the collator reads prompt, completion and image(s); the rest is medr1's
    }
    try:
        return SFTConfig(**kwargs)
    except ValueError as exc:
        raise ConfigError(f"sft settings TRL refuses: {' '.join(str(exc).split())}") from None


def prepare_sft_run(config: SFTRunConfig, *, resume: bool = False, verbose: bool = False) -> Run:
    """Validate names, load data and model, and build TRL's ``SFTTrainer`` with medr1's run callbacks."""
    from ..data import training_dataset
    from ..plugins import get_plugins
    from .models import load_model_and_processor, resolve_model
    from .recording import attach_run_callbacks

    plugins = get_plugins()
    run_dir = Path(config.output_dir)
    resume_from = resume_point(run_dir, resume)
    for name in config.modality:
        plugins.modalities.get(name)
    for name in config.task:
        plugins.tasks.get(name)
    check_trackers(config.report_to)
    args = sft_args(config, run_dir)  # TRL's own checks, before the model loads
    chosen = choose_training_samples(config, plugins)
    # fp32 master weights unless model.dtype says otherwise, as for GRPO; the model: options apply alike
    model, processor = load_model_and_processor(resolve_model(config.model.name).source, options=config.model,
                                                training=True)
    samples, too_long = _drop_long_prompts(chosen.samples, processor, config, plugins)
    if not samples:
        raise DataError(f"no training samples left from --data {config.data} after filtering")
    if args.train_sampling_strategy == "sequential":
        samples = list(samples)
        random.Random(config.sft.seed).shuffle(samples)
    targets = [sft_target(s, config.variant, config.prompt_set) for s in samples]
    dataset = training_dataset(samples, plugins=plugins, variant=config.variant, image_root=config.image_root,
                               allow_outside=config.allow_outside_images, prompt_set=config.prompt_set,
                               completions=targets)
    from trl import SFTTrainer

    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=processor,
                         peft_config=_peft_config(config))
    attach_run_callbacks(trainer, run_dir, verbose=verbose)
    return Run(config, run_dir, trainer, processor, None, data_report(chosen, too_long, len(samples)), resume_from)


def sft(config: SFTRunConfig, *, resume: bool = False, verbose: bool = False) -> dict[str, Any]:
    """Run supervised fine-tuning as configured; returns the run's summary (empty on other ranks).

    The run directory, its lock, ``--resume`` and the console are those of
    :func:`medr1_core.train.engine.train`, which this is.
    """
    from .engine import train

    return train(config, resume=resume, verbose=verbose)
