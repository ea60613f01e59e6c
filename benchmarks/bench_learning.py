"""Does GRPO learn, and from the images? Med-R1's comparison in miniature, on this CPU.

``--model tiny`` (the tiny VLM pretrained offline on captions of sample-style images and
on the answer format with random answers, :mod:`medr1_core.offline.pretrain`) is trained
with GRPO (``format`` + ``accuracy``, the ``think`` variant, the tiny preset) on
``sample`` (800 questions) through medr1's engine, what ``medr1 train`` runs. Printed:

1. **the demo**: the README's main job (20 steps, ``format,accuracy,dtree``): mean total
   reward of the first 5 and the last 5 steps (target: +0.3);
2. **the reward curve** of the long run, as a table (format, accuracy, completion length,
   share of groups with no reward spread);
3. **held-out accuracy** (``sample-heldout``: 400 other images, greedy, what ``medr1
   eval`` runs) per question type, with 95% Wilson intervals, for the base model (before
   GRPO) and after, and the exact McNemar p-value of after vs base on the same questions;
   beside chance (mean of 1 / options) and the image-blind guessers fitted on the training
   set (its most frequent letter; its most frequent letter per question type);
4. **the blank-image ablation**: the same training and evaluation with every image replaced
   by a blank one of the same size and mode (an answer readable only from its image
   must then stay at chance);
5. **the tiny Qwen2-VL's format curve**: ``tiny-qwen2-vl`` given a short format prior
   the same way, then GRPO on the ``format`` reward alone.

    python benchmarks/bench_learning.py [--steps 300] [--threads 2] [--skip demo,ablation,qwen]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

DEMO_STEPS = 20
DEMO_TARGET = 0.3
P_TARGET = 0.01


def quiet() -> None:
    import logging
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("medr1").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def run_grpo(model: str, data: str, out: Path, steps: int, rewards: str, seed: int, sets: dict | None = None) -> dict:
    """GRPO through medr1's engine; returns the run's metric series."""
    from medr1_core.train import run_dir as rd
    from medr1_core.train.config import TINY_PRESET, load_train_config
    from medr1_core.train.engine import train

    overrides = {
        **{f"grpo.{k}": v for k, v in TINY_PRESET.items()},  # also for local copies of the tiny models
        "model": model, "data": data, "variant": "think", "rewards": rewards, "output_dir": str(out),
        "grpo.max_steps": steps, "grpo.save_steps": max(steps, 1), "grpo.seed": seed, "report_to": "none",
        **(sets or {}),
    }
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        train(load_train_config(overrides=overrides))
    series = rd.metric_series(out)
    series["seconds"] = time.perf_counter() - started
    return series


def curve_table(series: dict, every: int) -> list[str]:
    columns = [("format", "rewards/format/mean"), ("accuracy", "rewards/accuracy/mean"),
               ("length", "completions/mean_length"), ("zero-std", "frac_reward_zero_std")]
    steps = max(s for s, _ in series["reward"])
    lines = ["  steps      " + "".join(f"{name:>10}" for name, _ in columns)]
    for start in range(1, steps + 1, every):
        end = min(start + every - 1, steps)
        cells = []
        for _, key in columns:
            values = [v for s, v in series.get(key, []) if start <= s <= end]
            cells.append(f"{statistics.mean(values):10.3f}" if values else f"{'-':>10}")
        lines.append(f"  {start:4d}-{end:<4d}  " + "".join(cells))
    return lines


def greedy_eval(model: str, data: str, out: Path, max_new_tokens: int) -> list[dict]:
    from medr1_core.eval.generation import SamplingSettings
    from medr1_core.eval.predictions import PREDICTIONS_FILE, read_predictions
    from medr1_core.eval.run import evaluate

    evaluate(model, data, out, variant="think", device="cpu", progress=False, report=False,
             sampling=SamplingSettings(max_new_tokens=max_new_tokens))
    return read_predictions(out / PREDICTIONS_FILE).records


def accuracy_text(records: list[dict]) -> str:
    from medr1_core.eval.stats import wilson_interval

    n, correct = len(records), sum(bool(r.get("correct")) for r in records)
    low, high = wilson_interval(correct, n)
    return f"{correct / n:.3f} [{low:.3f}, {high:.3f}]"


def blind_guessers(train, heldout) -> dict[str, dict[str, float]]:
    """Held-out accuracy, per task and overall, of chance and of guessers that never see the image."""
    overall = Counter(s.answer for s in train).most_common(1)[0][0]
    per_task = {}
    for s in train:
        per_task.setdefault(s.task, Counter())[s.answer] += 1
    guessers = {
        "chance": lambda s: 1 / len(s.options),
        f"always {overall} (the training set's most frequent letter)": lambda s: float(s.answer == overall),
        "most frequent letter per question type": lambda s: float(s.answer == per_task[s.task].most_common(1)[0][0]),
    }
    table = {}
    for name, score in guessers.items():
        by_task: dict[str, list[float]] = {}
        for s in heldout:
            by_task.setdefault(s.task, []).append(score(s))
        table[name] = {t: statistics.mean(v) for t, v in by_task.items()}
        table[name]["overall"] = statistics.mean(score(s) for s in heldout)
    return table


def by_task(records: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(r["task"], []).append(r)
    return {**dict(sorted(groups.items())), "overall": records}


def blank_copy(source: Path, target: Path) -> Path:
    """``source`` (an OmniMedVQA-layout folder) with every image replaced by a blank one, same size and mode."""
    from PIL import Image

    shutil.copytree(source, target)
    for path in (target / "Images").rglob("*.png"):
        with Image.open(path) as image:
            mode, size = image.mode, image.size
        fill = 2048 if mode.startswith("I") else (128, 128, 128) if mode == "RGB" else 128
        Image.new(mode, size, fill).save(path)
    return target


def accuracy_section(label: str, base: list[dict], after: list[dict], guessers: dict) -> list[str]:
    from medr1_core.eval.stats import compare_predictions

    paired = compare_predictions(base, after)
    lines = [f"{label}: greedy accuracy on sample-heldout [95% CI], and exact McNemar after vs base",
             f"  {'question type':30} {'base':>22} {'after GRPO':>22} {'p':>9}   " + "  ".join(
                 f"{name.split(' (')[0][:22]:>22}" for name in guessers)]
    base_groups, after_groups = by_task(base), by_task(after)
    for task, records in after_groups.items():
        cell = paired["overall"] if task == "overall" else paired["by_task"][task]
        guess = "  ".join(f"{guessers[name][task]:22.3f}" for name in guessers)
        lines.append(f"  {task:30} {accuracy_text(base_groups[task]):>22} {accuracy_text(records):>22} "
                     f"{cell['p_value']:9.2g}   {guess}")
    return lines


def verdict(base: list[dict], after: list[dict], guessers: dict) -> str:
    from medr1_core.eval.stats import compare_predictions, wilson_interval

    overall = compare_predictions(base, after)["overall"]
    n, correct = len(after), sum(bool(r.get("correct")) for r in after)
    low = wilson_interval(correct, n)[0]
    best_blind = max(g["overall"] for g in guessers.values())
    met = (overall["difference"] > 0 and overall["p_value"] < P_TARGET and low > best_blind)
    return (f"target (after > base with McNemar p < {P_TARGET}, and the 95% CI above the best image-blind guesser "
            f"{best_blind:.3f}): {'met' if met else 'NOT met'} (after {correct / n:.3f}, CI low {low:.3f}, "
            f"base {overall['accuracy_a']:.3f}, p {overall['p_value']:.2g})")


def demo(work: Path, seed: int) -> list[str]:
    """The README's main job: 20 steps of format, accuracy and dtree on the sample data."""
    series = run_grpo("tiny", "sample", work / "demo", DEMO_STEPS, "format,accuracy,dtree", seed)
    total = [v for _, v in series["reward"]]
    first, last = statistics.mean(total[:5]), statistics.mean(total[-5:])
    ok = last - first >= DEMO_TARGET
    return [f"demo (README's main job, {DEMO_STEPS} steps, {series['seconds']:.0f} s): total reward first 5 steps "
            f"{first:.3f} -> last 5 steps {last:.3f} (change {last - first:+.3f}; target +{DEMO_TARGET}: "
            f"{'met' if ok else 'NOT met'}); format {series['rewards/format/mean'][0][1]:.2f} -> "
            f"{statistics.mean(v for _, v in series['rewards/format/mean'][-5:]):.2f}; curve: "
            f"{work / 'demo' / 'reward_curve.png'}"]


def qwen_curve(work: Path, prior_steps: int, steps: int, seed: int) -> list[str]:
    """tiny-qwen2-vl: a short format-only prior (as for tiny), then GRPO on the format reward."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from medr1_core.offline.pretrain import PretrainSettings, pretrain
    from medr1_core.offline.tiny_qwen import build_tiny_qwen2vl

    source = build_tiny_qwen2vl()
    model = AutoModelForImageTextToText.from_pretrained(source, dtype=torch.float32)
    processor = AutoProcessor.from_pretrained(source)
    settings = PretrainSettings(steps=prior_steps, pool=600, batch_size=16, format_share=1.0, tagged=0.5)
    with tempfile.TemporaryDirectory() as images:
        pretrain(model, processor, settings, Path(images))
    prior = work / "tiny-qwen2-vl-prior"
    model.save_pretrained(prior)
    processor.save_pretrained(prior)
    series = run_grpo(str(prior), "sample", work / "qwen", steps, "format", seed,
                      {"grpo.max_completion_length": 48})
    return [f"tiny-qwen2-vl: {prior_steps} steps of format prior, then {steps} GRPO steps on the format reward "
            f"({series['seconds']:.0f} s)", *curve_table(series, max(1, steps // 6))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="GRPO steps of the long run (and of the ablation)")
    parser.add_argument("--every", type=int, default=25, help="steps per row of the reward table")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--qwen-prior-steps", type=int, default=400)
    parser.add_argument("--qwen-steps", type=int, default=60)
    parser.add_argument("--skip", default="", help="comma list of: demo, long, ablation, qwen")
    parser.add_argument("--output-dir", help="where runs and evaluations go (default: a fresh temporary folder, kept)")
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    import torch

    torch.set_num_threads(args.threads)
    quiet()
    from medr1_core.data import load_samples
    from medr1_core.offline.pretrain import build_pretrained_tiny_vlm
    from medr1_core.offline.sample_data import ensure_sample_data
    from medr1_core.train.config import TINY_PRESET

    work = Path(args.output_dir) if args.output_dir else Path(tempfile.mkdtemp(prefix="medr1-bench-learning-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    build_pretrained_tiny_vlm(progress=False)
    print(f"--model tiny ready in {time.perf_counter() - started:.0f} s (built once, then cached); "
          f"{args.threads} threads; work folder {work}")
    if "demo" not in skip:
        print("\n".join(demo(work, args.seed)))

    max_new = TINY_PRESET["max_completion_length"]
    guessers = base = None
    if "long" not in skip:
        train, heldout = load_samples("sample").samples, load_samples("sample-heldout").samples
        guessers = blind_guessers(train, heldout)
        base = greedy_eval("tiny", "sample-heldout", work / "eval-base", max_new)
        series = run_grpo("tiny", "sample", work / "run", args.steps, "format,accuracy", args.seed)
        steps = max(s for s, _ in series["reward"])
        print(f"\nGRPO on sample: {steps} steps in {series['seconds']:.0f} s "
              f"({series['seconds'] / steps:.2f} s/step incl. start-up) -> {work / 'run'}")
        print("\n".join(curve_table(series, args.every)))
        after = greedy_eval(str(work / "run"), "sample-heldout", work / "eval-after", max_new)
        print()
        print("\n".join(accuracy_section("images", base, after, guessers)))
        answered = Counter(r.get("letter") or "none" for r in after)
        print("  after, letters answered: " + ", ".join(f"{k} {v}" for k, v in answered.most_common()))
        print(verdict(base, after, guessers))

    if "ablation" not in skip:
        if guessers is None:
            guessers = blind_guessers(load_samples("sample").samples, load_samples("sample-heldout").samples)
        blank_train = blank_copy(ensure_sample_data(), work / "blank-sample")
        blank_heldout = blank_copy(ensure_sample_data(split="heldout"), work / "blank-heldout")
        blank_base = greedy_eval("tiny", str(blank_heldout), work / "eval-blank-base", max_new)
        run_grpo("tiny", str(blank_train), work / "run-blank", args.steps, "format,accuracy", args.seed)
        blank_after = greedy_eval(str(work / "run-blank"), str(blank_heldout), work / "eval-blank-after", max_new)
        print()
        print("\n".join(accuracy_section("blank images (ablation)", blank_base, blank_after, guessers)))
    if "qwen" not in skip:
        print()
        print("\n".join(qwen_curve(work, args.qwen_prior_steps, args.qwen_steps, args.seed)))
    print(json.dumps({"seconds": round(time.perf_counter() - started)}))


if __name__ == "__main__":
    main()
