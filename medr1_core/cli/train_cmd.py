"""``medr1 train``: GRPO training from a YAML config and/or command-line options.

The options every training command shares (``medr1 sft`` too) are
:func:`run_options`; :func:`build_overrides` turns them into config keys.
"""

from __future__ import annotations

from typing import Any

import click

from ..prompts import PROMPT_SETS
from ..samples import VARIANTS


def build_overrides(
    base: dict[str, Any], options: dict[str, Any], sets: tuple[str, ...], section: str = "grpo"
) -> dict[str, Any]:
    """Dotted-key overrides from CLI options, on top of the config file ``base``; the trainer's settings
    (``--max-steps``, ``--learning-rate``, ...) go to ``section`` (``grpo``, ``sft``)."""
    import yaml

    overrides: dict[str, Any] = {}
    simple = {
        "model": "model",
        "data": "data",
        "format": "format",
        "image_root": "image_root",
        "modality": "modality",
        "task": "task",
        "dataset": "dataset",
        "variant": "variant",
        "prompt_set": "prompt_set",
        "output_dir": "output_dir",
        "max_steps": f"{section}.max_steps",
        "num_generations": f"{section}.num_generations",
        "learning_rate": f"{section}.learning_rate",
        "save_steps": f"{section}.save_steps",
        "seed": f"{section}.seed",
        "on_missing_image": "on_missing_image",
        "report_to": "report_to",
        "max_bad_fraction": "max_bad_fraction",
        "reward_time_limit": "reward_time_limit",
    }
    for option, key in simple.items():
        if options.get(option) is not None:
            overrides[key] = options[option]
    if options.get("strict_rewards"):
        overrides["strict_rewards"] = True
    if options.get("allow_outside_images"):
        overrides["allow_outside_images"] = True

    if options.get("rewards") or options.get("reward_weights"):
        from ..composition import parse_reward_specs

        specs = parse_reward_specs(options.get("rewards"), options.get("reward_weights"), base.get("rewards"))
        overrides["rewards"] = {s.name: s.settings() for s in specs}

    for item in sets:
        if "=" not in item:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
        key, value = item.split("=", 1)
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def run_options(fn):
    """The options of every medr1 training command (``train``, ``sft``): model, data, selection, prompts,
    steps, the run directory, trackers, resume."""
    options = [
        click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Run configuration (YAML)."),
        click.option("--model", help="Hub id, local directory, medr1 run directory, or 'tiny'."),
        click.option("--data", help="Dataset path, or 'sample' (bundled synthetic set; 'sample-heldout': its "
                                    "held-out questions)."),
        click.option("--format", help="Dataset format (default: detected). See `medr1 plugins`."),
        click.option("--image-root", help="Directory image paths are relative to (default: the dataset's)."),
        click.option("--modality", help="Only these modalities (ids or aliases, comma-separated)."),
        click.option("--task", help="Only these question types (ids or aliases, comma-separated)."),
        click.option("--dataset", help="Only these source datasets (comma-separated)."),
        click.option("--variant", type=click.Choice(VARIANTS), help="Prompt variant."),
        click.option("--prompt-set", type=click.Choice(PROMPT_SETS),
                     help="Whose prompt wording: medr1 (default) or med-r1 (Med-R1's, as published)."),
        click.option("--max-steps", type=int, help="Stop after this many optimizer steps."),
        click.option("--learning-rate", type=float),
        click.option("--save-steps", type=int, help="Checkpoint every N steps."),
        click.option("--seed", type=int),
        click.option("--on-missing-image", type=click.Choice(["error", "skip"])),
        click.option("--max-bad-fraction", type=float, metavar="SHARE",
                     help="Share of bad records (0-1) accepted before the run refuses to start (default 0.1; 1: go on)."),
        click.option("--allow-outside-images", is_flag=True, default=None,
                     help="Let image paths be absolute or lead outside the dataset's folder."),
        click.option("--output-dir", help="Run directory (default: a new runs/YYYYmmdd-HHMMSS)."),
        click.option("--resume", is_flag=True,
                     help="Continue the run in --output-dir (default: the latest under runs/) from its last checkpoint."),
        click.option("--report-to", help="Trackers for the metrics, comma-separated: tensorboard (default), wandb, "
                                         "mlflow, trackio, ... or none."),
        click.option("--verbose", "-v", is_flag=True, help="Also print each step's metrics and the libraries' own "
                                                           "progress bars and warnings."),
        click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                     help="Any config field, e.g. --set grpo.beta=0.0"),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def load_run(config_path, resume: bool, options: dict[str, Any], sets, loader, section: str):
    """The validated configuration of a training command: ``--config``, or with ``--resume`` the run's own
    config.yaml, under the command-line options."""
    from pathlib import Path

    from ..composition import read_config
    from ..errors import RunDirError
    from ..train import run_dir as rd

    if resume and not config_path:
        run = Path(options["output_dir"]) if options.get("output_dir") else rd.latest_run_dir()
        if run is None or not (run / rd.CONFIG).is_file():
            raise RunDirError(f"--resume: {run or 'runs/'} holds no medr1 run (config.yaml); name one with --output-dir")
        options["output_dir"] = str(run)
        config_path = str(run / rd.CONFIG)
    base = read_config(config_path) if config_path else {}
    method = base.get("method", "grpo")
    if resume and method != section:
        command = "train" if method == "grpo" else method
        raise RunDirError(f"--resume: {options['output_dir']} is a medr1 {method} run: continue it with "
                          f"medr1 {command} --resume")
    config = loader(config_path, build_overrides(base, options, sets, section), data=base)
    import torch

    from ..train.threads import configure_threads

    configure_threads("cuda" if torch.cuda.is_available() else "cpu")  # MEDR1_THREADS, before the model loads
    return config


def print_summary(summary: dict[str, Any]) -> None:
    """The end-of-run table (rank 0; other ranks return an empty summary)."""
    if summary:
        from ..report.console import train_summary

        click.echo("\n" + train_summary(summary), err=True)


@click.command()
@run_options
@click.option("--rewards", help="Rewards by name, comma-separated (e.g. format,accuracy,dtree).")
@click.option("--reward-weights", help="'0.5,1,1' (one per reward) or 'accuracy:2,format:0.5'.")
@click.option("--num-generations", type=int, help="Completions sampled per question (GRPO group size).")
@click.option("--reward-time-limit", type=float, metavar="SECONDS",
              help="Seconds each reward may take on a batch; past it, it counts as failed (default 120).")
@click.option("--strict-rewards", is_flag=True, help="A reward that raises stops the run.")
def train(config_path, resume, sets, verbose, **options):
    """Train a vision-language model with GRPO on medical VQA.

    \b
    Example (tiny model, bundled data, CPU, under a minute):
      medr1 train --model tiny --data sample --rewards format,accuracy,dtree --max-steps 20
    """
    from ..train.config import load_train_config
    from ..train.engine import train as run_training

    config = load_run(config_path, resume, options, sets, load_train_config, "grpo")
    print_summary(run_training(config, resume=resume, verbose=verbose))
