"""Step time of `medr1 train` against a bare TRL GRPOTrainer on the same model, data and rewards.

Both runs train the tiny model (``--model tiny``) on the bundled sample data
with the ``format`` and ``accuracy`` rewards, with the same GRPO knobs (the
tiny preset of :data:`medr1_core.train.config.TINY_PRESET`, read from the resolved
config so both follow it) and the same seed:

- **medr1**: :func:`medr1_core.train.engine.prepare_run` on
  ``load_train_config(overrides=...)`` -- the trainer `medr1 train` builds, with
  medr1's lazily decoding dataset, its completion recorder around the reward
  functions, its run-files callback (metrics.jsonl, completions.jsonl) and
  TensorBoard logging -- then ``trainer.train()``.
- **bare TRL** (the baseline): what a TRL user writes by hand.
  ``AutoModelForImageTextToText`` / ``AutoProcessor`` from the same tiny model
  directory; a ``datasets.Dataset`` built from a list of rows (the chat
  ``prompt``, the decoded ``image`` and the sample columns the rewards read);
  ``GRPOConfig`` with the same knobs (bf16 and gradient checkpointing off,
  as medr1 sets them on CPU; TRL's defaults turn both on), no TensorBoard and
  no checkpoints; the same TRL reward functions (``to_trl_reward_funcs``),
  unwrapped. The script prints the GRPOConfig fields that differ: only the
  output directory, reporting and checkpointing, which are medr1 features.

Fairness: the bare rows hold the same prompts (``build_conversation``) and the
same pixels (``open_image`` with the sample's modality, prepared once before
training; ``datasets`` keeps them as an ``Image`` column and decodes a row's
image when it is read, as in any TRL image dataset) in the same order, so with the same seed the
sampler draws the same questions and generation the same completions: the
script prints both runs' completion lengths, which should match step for step.

A step's time is the wall time from one ``on_step_begin`` to the next, so it
covers everything the trainer does per step (data loading, generation,
rewards, loss, optimizer, callbacks, logging). The first ``--warmup`` steps of
each run are skipped, and so is the last (its interval would include the
checkpoint `medr1 train` saves when training ends, a once-per-run cost). Both
trainers show TRL's progress bar (``disable_tqdm=False``, as medr1 sets it);
their console output goes to /dev/null while timed. Runs alternate (medr1,
bare, medr1, bare, ...) so that load from other processes on this 2-core
machine hits both alike; the load average is printed before and after.
Target: medr1 / bare <= 1.05.

    python benchmarks/bench_train.py [--steps 30] [--warmup 3] [--repeats 2] [--max-completion-length 8]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 1.05
REWARDS = "format,accuracy"


def step_clock():
    """A TrainerCallback recording each step's start time and each logged completion length."""
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def __init__(self):
            self.starts: list[float] = []
            self.lengths: list[float] = []

        def on_step_begin(self, args, state, control, **kwargs):
            self.starts.append(time.perf_counter())

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "completions/mean_length" in logs:
                self.lengths.append(float(logs["completions/mean_length"]))

        def step_times(self, warmup: int) -> list[float]:
            return [b - a for a, b in zip(self.starts, self.starts[1:])][warmup:]

    return StepClock()


def medr1_config(out: Path, steps: int, seed: int, max_completion_length: int | None = None):
    from medr1_core.train.config import load_train_config

    overrides = {
        "model": "tiny",
        "data": "sample",
        "rewards": REWARDS,
        "output_dir": str(out),
        "grpo.max_steps": steps,
        "grpo.seed": seed,
    }
    if max_completion_length is not None:
        overrides["grpo.max_completion_length"] = max_completion_length
    return load_train_config(overrides=overrides)


def medr1_trainer(config):
    """The trainer ``medr1 train`` runs (engine.train minus the once-per-run files)."""
    from medr1_core.train.engine import prepare_run

    run = prepare_run(config)
    run.run_dir.mkdir(parents=True, exist_ok=True)
    return run.trainer


def bare_rows():
    """The sample set as plain rows: chat prompt, prepared image, and the columns rewards read."""
    from medr1_core.data import image_path, load_samples
    from medr1_core.data.images import open_image
    from medr1_core.plugins import get_plugins
    from medr1_core.prompts import build_conversation

    plugins = get_plugins()
    rows = []
    for s in load_samples("sample", plugins=plugins).samples:
        task = plugins.tasks.get(s.task) if s.task else None
        modality = plugins.modalities.get(s.modality)
        rows.append(
            {
                "prompt": build_conversation(s, task, "think"),
                "image": open_image(image_path(s, s.images[0]), modality),
                **s.to_row(),
            }
        )
    return rows


def bare_trainer(config, rows, out: Path):
    """A GRPOTrainer built by hand with TRL and transformers only (medr1's reward functions aside)."""
    import datasets
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import GRPOConfig, GRPOTrainer

    from medr1_core.composition import compose, to_trl_reward_funcs
    from medr1_core.offline.tiny import build_tiny_vlm

    path = build_tiny_vlm()
    model = AutoModelForImageTextToText.from_pretrained(path)
    processor = AutoProcessor.from_pretrained(path)
    reward_funcs, weights = to_trl_reward_funcs(compose(REWARDS), variant="think")
    g = config.grpo
    args = GRPOConfig(
        output_dir=str(out),
        num_generations=g.num_generations,
        per_device_train_batch_size=g.per_device_train_batch_size,
        gradient_accumulation_steps=g.gradient_accumulation_steps,
        learning_rate=g.learning_rate,
        beta=g.beta,
        loss_type=g.loss_type,
        scale_rewards=g.scale_rewards,
        epsilon=g.epsilon,
        num_iterations=g.num_iterations,
        temperature=g.temperature,
        top_p=g.top_p,
        max_completion_length=g.max_completion_length,
        max_steps=g.max_steps,
        num_train_epochs=g.num_train_epochs,
        vllm_mode=g.vllm_mode,
        logging_steps=g.logging_steps,
        seed=g.seed,
        # TRL's defaults are bf16=True and gradient checkpointing on; medr1 turns both off on CPU
        # (bf16 autocast and recomputation make this CPU ~1.5x slower), so the baseline does too.
        bf16=False,
        activation_checkpointing=False,
        use_cpu=True,
        reward_weights=weights,
        report_to="none",
        save_strategy="no",
        disable_tqdm=False,
        remove_unused_columns=False,
        **g.extra,
    )
    return GRPOTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=processor,
    )


def args_differences(a, b) -> list[str]:
    """The TrainingArguments fields whose values differ between two trainers' args."""
    da, db = a.to_dict(), b.to_dict()
    return sorted(k for k in set(da) | set(db) if da.get(k) != db.get(k))


def timed(trainer, warmup: int) -> tuple[list[float], list[float]]:
    clock = step_clock()
    trainer.add_callback(clock)
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        trainer.train()
    return clock.step_times(warmup), clock.lengths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per run (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=3, help="steps skipped at the start of each run")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each, alternating")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--max-completion-length", type=int, help="default: the tiny preset's; smaller makes steps shorter, "
        "so a fixed per-step overhead shows more"
    )
    args = parser.parse_args()

    import logging
    import warnings

    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("medr1").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    total = args.warmup + args.steps + 1  # the last step is not timed
    rows = bare_rows()
    times: dict[str, list[float]] = {"medr1": [], "bare TRL": []}
    lengths: dict[str, list[list[float]]] = {"medr1": [], "bare TRL": []}
    built = {}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="medr1-bench-train-") as tmp:
        for r in range(args.repeats):
            for name in ("medr1", "bare TRL"):
                out = Path(tmp) / f"{name.split()[0]}-{r}"
                config = medr1_config(out, total, args.seed, args.max_completion_length)
                trainer = medr1_trainer(config) if name == "medr1" else bare_trainer(config, rows, out)
                built[name] = trainer.args
                step_times, run_lengths = timed(trainer, args.warmup)
                times[name] += step_times
                lengths[name].append(run_lengths)
                print(
                    f"run {r + 1} {name:9} median step {statistics.median(step_times) * 1000:7.1f} ms "
                    f"over {len(step_times)} steps; mean completion length {statistics.mean(run_lengths):.2f} tokens",
                    flush=True,
                )
                del trainer
    load_after = os.getloadavg()

    g = config.grpo
    print(
        f"\ntiny model, sample data, rewards {REWARDS}; num_generations={g.num_generations} "
        f"per_device_train_batch_size={g.per_device_train_batch_size} max_completion_length={g.max_completion_length} "
        f"seed={args.seed}; torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs"
    )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    print("GRPOConfig fields that differ: " + ", ".join(args_differences(built["medr1"], built["bare TRL"])))
    same = all(a == b for a, b in zip(lengths["medr1"], lengths["bare TRL"]))
    print(f"completion lengths step by step: {'identical' if same else 'DIFFERENT'} in medr1 and bare TRL runs")
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        q = statistics.quantiles(t, n=4)
        print(
            f"{name:9} median step {medians[name] * 1000:7.1f} ms  (quartiles {q[0] * 1000:.1f}-{q[2] * 1000:.1f} ms, "
            f"{len(t)} steps; mean completion length {statistics.mean(x for run in lengths[name] for x in run):.2f})"
        )
    ratio = medians["medr1"] / medians["bare TRL"]
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"ratio medr1 / bare TRL: {ratio:.3f}  (target <= {TARGET_RATIO}: {verdict})")


if __name__ == "__main__":
    main()
