"""``medr1 sft``: the supervised fine-tuning baseline (TRL's ``SFTTrainer``), with ``medr1 train``'s options."""

from __future__ import annotations

import click

from .train_cmd import load_run, print_summary, run_options


@click.command()
@run_options
def sft(config_path, resume, sets, verbose, **options):
    """Fine-tune a vision-language model on the expected answers (the SFT baseline).

    The same data, question selection, prompt variants and run directory as
    `medr1 train`; each question's target is its answer in the variant's
    format. Defaults are Med-R1's SFT set-up (learning rate 2e-5, cosine
    schedule, 10% warm-up, one epoch); any TRL SFTConfig field is
    --set sft.FIELD=VALUE. `medr1 eval --model RUN_DIR` evaluates the run.

    \b
    Example (tiny model, bundled data, CPU, seconds):
      medr1 sft --model tiny --data sample --max-steps 3
    """
    from ..train.engine import train as run_training
    from ..train.sft_config import load_sft_config

    config = load_run(config_path, resume, options, sets, load_sft_config, "sft")
    print_summary(run_training(config, resume=resume, verbose=verbose))
