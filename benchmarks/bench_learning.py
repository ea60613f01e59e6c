"""Does GRPO learn? The tiny model trained on the sample data on CPU, with the reward curve.

Trains through medr1's engine (:func:`medr1_core.train.engine.train`, what `medr1
train` runs) with the ``format`` and ``accuracy`` rewards and the ``think``
prompt variant, then prints:

- the reward curve as a table: every ``--every`` steps, the mean of the
  strict ``format`` reward and of the ``accuracy`` reward over those steps
  (sampled completions, as TRL logs ``rewards/<name>/mean``) and the mean
  completion length; the PNG is the run directory's ``reward_curve.png``;
- the format target: the starting model's format reward mean (< 0.2), from
  one completion per sample question sampled as in training (temperature,
  max_completion_length) before training starts, and the first step at which
  the training curve's 10-step moving average reaches 0.8 (within 300 steps);
- the accuracy target: a greedy evaluation (:func:`medr1_core.eval.run.evaluate`,
  what `medr1 eval` runs) of the model before and after training on the
  sample data, beside chance (the mean of 1 / number of options over the
  sample set) and what guessers that never look at the image score (always
  the most frequent answer letter; the most frequent letter of each question
  type), with the letters the trained model answered. The sample set is also
  the training set: this measures learning, not generalization.

GRPO knobs are the tiny preset (:data:`medr1_core.train.config.TINY_PRESET`) unless
changed with ``--set grpo.<knob>=<value>``.

``--warm-start N`` (default 90) first gives the tiny model a prior for the answer format:
``N`` steps of next-token training on chat turns built from the tiny
tokenizer's own corpus (:func:`medr1_core.offline.tiny.tiny_corpus`: a synthetic
question and options -> ``<think> ... </think> <answer> letter </answer>``,
with random letters and no images), then trains that model. Without it the
tiny model is uniformly random over its 1024 tokens: it essentially never
writes ``<think>…</think><answer>…</answer>`` and stops, every completion of
every group scores 0 on both rewards, and GRPO's advantages -- and so its
gradients -- are all zero (the table's "zero-std" column shows the fraction
of groups with no reward spread).

    python benchmarks/bench_learning.py [--steps 300] [--every 20] [--warm-start 0] [--set grpo.learning_rate=1e-3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

FORMAT_START_BELOW = 0.2
FORMAT_TARGET = 0.8
WITHIN_STEPS = 300
WINDOW = 10


def warm_start(out: Path, steps: int, *, seed: int = 0, batch_size: int = 32, lr: float = 3e-3) -> Path:
    """The tiny model after ``steps`` of next-token training on chat turns from the tiny corpus.

    Each corpus example gives two turns: its question line as the user and
    one of its two formatted answer lines as the assistant. Text only: the
    vision tower is not trained. Returns ``out``, a model directory.
    """
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from medr1_core.offline.tiny import build_tiny_vlm, tiny_corpus

    source = build_tiny_vlm()
    model = AutoModelForImageTextToText.from_pretrained(source)
    processor = AutoProcessor.from_pretrained(source)
    tokenizer = processor.tokenizer
    lines = tiny_corpus()
    turns = [
        (line, answer)
        for i, line in enumerate(lines)
        if "Options:" in line and i + 2 < len(lines)
        for answer in lines[i + 1 : i + 3]
    ]
    docs = [
        tokenizer(
            tokenizer.apply_chat_template(
                [{"role": "user", "content": q}, {"role": "assistant", "content": a}], tokenize=False
            ),
            add_special_tokens=False,
        )["input_ids"]
        for q, a in turns
    ]
    torch.manual_seed(seed)
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        batch = rng.sample(docs, batch_size)
        width = max(map(len, batch))
        ids = torch.full((batch_size, width), tokenizer.pad_token_id)
        mask = torch.zeros((batch_size, width), dtype=torch.long)
        for row, doc in enumerate(batch):
            ids[row, : len(doc)] = torch.tensor(doc)
            mask[row, : len(doc)] = 1
        loss = model(input_ids=ids, attention_mask=mask, labels=ids.masked_fill(mask == 0, -100)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def parse_sets(items: list[str]) -> dict:
    import yaml

    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def greedy_eval(model: str, out: Path, max_new_tokens: int) -> dict:
    from medr1_core.eval.generation import SamplingSettings
    from medr1_core.eval.run import evaluate

    return evaluate(model, "sample", out, variant="think", device="cpu", progress=False,
                    sampling=SamplingSettings(max_new_tokens=max_new_tokens)).results


def sampled_rates(model: str, temperature: float, max_new_tokens: int, seed: int = 0) -> tuple[float, float]:
    """Strict-format and accuracy means of one completion per sample question, sampled as in training."""
    from medr1_core.composition import compose
    from medr1_core.data import image_path, load_samples
    from medr1_core.eval.generation import SamplingSettings, TransformersGenerator
    from medr1_core.train.models import resolve_model
    from medr1_core.plugins import get_plugins
    from medr1_core.data.images import open_image
    from medr1_core.prompts import build_conversation

    plugins = get_plugins()
    samples = load_samples("sample", plugins=plugins).samples
    settings = SamplingSettings(max_new_tokens=max_new_tokens, do_sample=True, temperature=temperature, seed=seed)
    generator = TransformersGenerator.load(resolve_model(model).source, settings, device="cpu")
    texts = []
    for start in range(0, len(samples), 50):
        batch = samples[start : start + 50]
        texts += generator.generate(
            [build_conversation(s, plugins.tasks.get(s.task), "think") for s in batch],
            [[open_image(image_path(s, p), plugins.modalities.get(s.modality)) for p in s.images] for s in batch],
        )
    scores = compose("format,accuracy").score_texts(samples, texts, "think").per_reward
    return statistics.mean(scores["format"]), statistics.mean(x or 0.0 for x in scores["accuracy"])


def baselines() -> dict[str, float]:
    """Accuracy on the sample set of chance (mean of 1/len(options)) and of text-only guessers."""
    from medr1_core.data import load_samples

    samples = load_samples("sample").samples
    letters = Counter(s.answer for s in samples)
    letter, count = letters.most_common(1)[0]
    by_task: dict[str, Counter] = {}
    for s in samples:
        by_task.setdefault(s.task, Counter())[s.answer] += 1
    return {
        "chance": statistics.mean(1 / len(s.options) for s in samples),
        f"always '{letter}'": count / len(samples),
        "most frequent letter per question type": sum(c.most_common(1)[0][1] for c in by_task.values()) / len(samples),
    }


def curve_table(series: dict, every: int, steps: int) -> list[str]:
    columns = [
        ("format", "rewards/format/mean"),
        ("accuracy", "rewards/accuracy/mean"),
        ("length", "completions/mean_length"),
        ("zero-std", "frac_reward_zero_std"),
    ]
    lines = ["steps      " + "".join(f"{name:>10}" for name, _ in columns)]
    for start in range(1, steps + 1, every):
        end = min(start + every - 1, steps)
        cells = []
        for _, key in columns:
            values = [v for s, v in series.get(key, []) if start <= s <= end]
            cells.append(f"{statistics.mean(values):10.3f}" if values else f"{'-':>10}")
        lines.append(f"{start:4d}-{end:<4d}  " + "".join(cells))
    return lines


def first_reaching(points: list[tuple[int, float]], target: float, window: int) -> int | None:
    values = [v for _, v in points]
    for i in range(window - 1, len(values)):
        if statistics.mean(values[i - window + 1 : i + 1]) >= target:
            return points[i][0]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=WITHIN_STEPS)
    parser.add_argument("--every", type=int, default=20, help="steps per row of the reward table")
    parser.add_argument("--warm-start", type=int, default=90, metavar="N",
                        help="steps of format prior first (see above); 0 trains the random tiny model as built")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output-dir", help="run directory (default: a fresh temporary one, kept)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--no-eval", action="store_true", help="skip the greedy evaluations")
    args = parser.parse_args()

    import logging
    import warnings

    from transformers.utils import logging as hf_logging

    from medr1_core.train import run_dir as rd
    from medr1_core.train.config import TINY_PRESET, load_train_config
    from medr1_core.train.engine import train
    from medr1_core.eval.predictions import PREDICTIONS_FILE, read_predictions

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("medr1").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    work = Path(args.output_dir) if args.output_dir else Path(tempfile.mkdtemp(prefix="medr1-bench-learning-"))
    work.mkdir(parents=True, exist_ok=True)
    model = "tiny"
    if args.warm_start:
        started = time.perf_counter()
        model = str(warm_start(work / "warm-start-model", args.warm_start))
        print(f"warm start: {args.warm_start} steps of format prior in {time.perf_counter() - started:.1f} s -> {model}")
    overrides = {
        **{f"grpo.{k}": v for k, v in TINY_PRESET.items()},  # also for the warm-started copy of tiny
        "model": model,
        "data": "sample",
        "variant": "think",
        "rewards": "format,accuracy",
        "output_dir": str(work / "run"),
        "grpo.max_steps": args.steps,
        "grpo.save_steps": args.steps,
        "grpo.seed": args.seed,
        **parse_sets(args.sets),
    }
    config = load_train_config(overrides=overrides)
    knobs = config.grpo.model_dump(include={
        "learning_rate", "num_generations", "per_device_train_batch_size", "max_completion_length", "temperature",
        "beta", "loss_type", "scale_rewards", "seed",
    })
    print("GRPO:", json.dumps(knobs))
    start_format, start_accuracy = sampled_rates(config.model.name, config.grpo.temperature, config.grpo.max_completion_length)
    print(
        f"starting policy, one sampled completion per sample question (T={config.grpo.temperature}): "
        f"format {start_format:.3f}, accuracy {start_accuracy:.3f}"
    )

    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # TRL echoes every step's metrics dict
        train(config)
    seconds = time.perf_counter() - started
    run = Path(config.output_dir)
    series = rd.metric_series(run)
    steps = max(s for s, _ in series["rewards/format/mean"])
    print(f"trained {steps} steps in {seconds:.0f} s ({seconds / steps:.2f} s/step incl. start-up) -> {run}\n")
    print("\n".join(curve_table(series, args.every, steps)))

    fmt = series["rewards/format/mean"]
    acc = series["rewards/accuracy/mean"]
    start = statistics.mean(v for _, v in fmt[:WINDOW])
    reached = first_reaching(fmt, FORMAT_TARGET, WINDOW)
    last20 = statistics.mean(v for _, v in acc[-20:])
    base = baselines()
    chance = base["chance"]
    print(f"\nreward curve: {run / rd.CURVE}")
    ok_start = start_format < FORMAT_START_BELOW
    ok_reach = reached is not None and reached <= WITHIN_STEPS
    print(
        f"format at the start: {start_format:.3f} sampled over the sample set before training "
        f"(target < {FORMAT_START_BELOW}: {'met' if ok_start else 'NOT met'}); mean of the first {WINDOW} steps {start:.3f}"
    )
    print(
        f"format, first step whose {WINDOW}-step mean >= {FORMAT_TARGET}: {reached if reached else 'never'}  "
        f"(target <= {WITHIN_STEPS}: {'met' if ok_reach else 'NOT met'})"
    )
    print(f"format, mean of the last 20 steps: {statistics.mean(v for _, v in fmt[-20:]):.3f}")
    print(f"accuracy (sampled, T={config.grpo.temperature}), mean of the last 20 steps: {last20:.3f}")
    print("on the sample set: " + "; ".join(f"{name} {value:.3f}" for name, value in base.items()))
    zero = statistics.mean(v for _, v in series.get("frac_reward_zero_std", [(0, 0.0)]))
    if zero > 0.99:
        print(
            f"no learning signal: {zero:.0%} of the groups had no reward spread, so every GRPO advantage and "
            "gradient was 0 (the model never wrote the format; try --warm-start 90)"
        )
    if args.no_eval:
        return
    max_new = config.grpo.max_completion_length
    before = greedy_eval(config.model.name, work / "eval-before", max_new)
    after = greedy_eval(str(run), work / "eval-after", max_new)
    for name, res in (("before training", before), ("after training", after)):
        o = res["overall"]
        print(
            f"greedy eval {name:15}: accuracy {o['accuracy']:.3f} (95% CI {o['ci95'][0]:.3f}-{o['ci95'][1]:.3f}, "
            f"n={o['n']}), well-formed {1 - res['malformed_rate']:.3f}"
        )
    print("  after, by question type: " + ", ".join(
        f"{task} {cell['accuracy']:.2f}" for task, cell in after["by_task"].items()
    ))
    answered = Counter(p.get("letter") or "none" for p in read_predictions(work / "eval-after" / PREDICTIONS_FILE).records)
    print("  after, answers given: " + ", ".join(f"{letter} {n}" for letter, n in answered.most_common()))
    o = after["overall"]
    verdict = "met" if o["ci95"][0] > chance else ("above chance, CI overlaps it" if o["accuracy"] > chance else "NOT met")
    print(f"accuracy after training vs chance {chance:.3f}: {o['accuracy']:.3f}  (target above chance: {verdict})")


if __name__ == "__main__":
    main()
