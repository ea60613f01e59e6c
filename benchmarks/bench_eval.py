"""Throughput of `medr1 eval`: questions per second on the tiny model, batch 1 vs the default batch size.

Runs :func:`medr1_core.eval.run.evaluate` -- the code path of `medr1 eval`:
data loading, prompt building, image preparation, batched generation, parsing,
scoring with the accuracy reward, writing predictions and results -- on the
bundled sample data, once with ``--batch-size 1`` (the baseline) and once with
the default batch size, into fresh output directories, and prints questions/s
of each and their ratio. Target: >= 3x on CPU.

A warm-up evaluation first imports torch and transformers and builds the tiny
model, so no timed run pays for that. The two settings run alternately for
--rounds rounds; the best (least disturbed by other work on the machine) and
median times are shown, the ratio is taken from the best. The tiny model is randomly
initialised and rarely emits an end-of-sequence token, so every completion
uses the whole --max-new-tokens budget in both runs (batching cannot win by
stopping early, nor lose by waiting for the longest completion).

    python benchmarks/bench_eval.py [--questions 64] [--max-new-tokens 32] [--batch-size 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 3.0


def timed_eval(output_dir: Path, *, questions: int, batch_size: int, max_new_tokens: int) -> tuple[float, int]:
    from medr1_core.data import Selection
    from medr1_core.eval.generation import SamplingSettings
    from medr1_core.eval.run import evaluate

    start = time.perf_counter()
    report = evaluate("tiny", "sample", output_dir, batch_size=batch_size, device="cpu", progress=False,
                      selection=Selection(limit=questions), sampling=SamplingSettings(max_new_tokens=max_new_tokens))
    seconds = time.perf_counter() - start
    assert report.generated == questions, report
    return seconds, report.generated


def main() -> None:
    from medr1_core.eval.generation import DEFAULT_BATCH_SIZE

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="the batched run's batch size")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each, alternating; best and median shown")
    args = parser.parse_args()

    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    configs = (("batch 1 (baseline)", 1), (f"batch {args.batch_size} (default)", args.batch_size))
    times: dict[int, list[float]] = {bs: [] for _, bs in configs}
    with tempfile.TemporaryDirectory(prefix="bench_eval-") as tmp:
        root = Path(tmp)
        timed_eval(root / "warmup", questions=4, batch_size=4, max_new_tokens=4)
        for round_ in range(args.rounds):  # alternate, so a busy moment on the machine hits both
            for _, batch_size in configs:
                seconds, _ = timed_eval(
                    root / f"r{round_}-b{batch_size}", questions=args.questions, batch_size=batch_size,
                    max_new_tokens=args.max_new_tokens,
                )
                times[batch_size].append(seconds)

    print(f"medr1 eval on the tiny model, sample data: {args.questions} questions, "
          f"max_new_tokens={args.max_new_tokens}, CPU threads={torch.get_num_threads()}, {args.rounds} rounds")
    print(f"{'run':24} {'best s':>8} {'median s':>9} {'questions/s (best)':>19} {'(median)':>9}")
    rates = {}
    for label, batch_size in configs:
        best, median = min(times[batch_size]), statistics.median(times[batch_size])
        rates[batch_size] = (args.questions / best, args.questions / median)
        print(f"{label:24} {best:8.2f} {median:9.2f} {rates[batch_size][0]:19.1f} {rates[batch_size][1]:9.1f}")
    ratio_best = rates[args.batch_size][0] / rates[1][0]
    ratio_median = rates[args.batch_size][1] / rates[1][1]
    verdict = "ok" if ratio_best >= TARGET_RATIO else "MISSED"
    print(f"speed-up of batch {args.batch_size} over batch 1: {ratio_best:.1f}x best-of-{args.rounds} "
          f"({ratio_median:.1f}x median); target >= {TARGET_RATIO:.0f}x: {verdict}")

if __name__ == "__main__":
    main()
