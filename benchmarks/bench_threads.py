"""Generation speed of the tiny model on CPU with 1 torch thread (the baseline) against 2 (and more).

Each thread count runs in its own process with ``MEDR1_THREADS=N`` (the setting
``medr1 train`` / ``medr1 eval`` apply, :mod:`medr1_core.train.threads`): greedy,
batched generation of ``--max-new-tokens`` tokens for ``--questions`` sample
questions through :class:`~medr1_core.eval.generation.TransformersGenerator`,
``--rounds`` times, alternating thread counts so a busy moment on the machine
hits each. Prints the best and median seconds, tokens/s, and each count's
speed relative to 1 thread. The default of ``MEDR1_THREADS`` (half the cores,
at most 4) comes from this measurement on small shared machines.

    python benchmarks/bench_threads.py [--threads 1,2] [--questions 16] [--max-new-tokens 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time
from medr1_core.train.threads import apply_cpu_threads
threads = apply_cpu_threads()
from medr1_core.data import choose_samples, Selection
from medr1_core.eval.generation import SamplingSettings, TransformersGenerator
from medr1_core.train.models import resolve_model
from medr1_core.prompts import build_prompt
from medr1_core.data.images import image_path, open_image
questions, max_new = int(sys.argv[1]), int(sys.argv[2])
samples = choose_samples("sample", Selection(limit=questions)).samples
gen = TransformersGenerator.load(resolve_model("tiny").source, SamplingSettings(max_new_tokens=max_new), device="cpu")
conversations = [[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": build_prompt(s, None, "think")}]}]
                 for s in samples]
images = [[open_image(image_path(s, s.images[0]))] for s in samples]
gen.generate(conversations[:2], images[:2])  # warm-up
start = time.perf_counter()
texts = gen.generate(conversations, images)
seconds = time.perf_counter() - start
tokens = sum(len(gen.tokenizer(t)["input_ids"]) for t in texts)
print(json.dumps({"threads": threads, "seconds": seconds, "tokens": tokens}))
"""


def run_once(threads: int, questions: int, max_new_tokens: int) -> dict:
    env = {**os.environ, "MEDR1_THREADS": str(threads), "PYTHONPATH": str(REPO)}
    env.pop("OMP_NUM_THREADS", None)
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(questions), str(max_new_tokens)], env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="thread counts to compare; the first is the baseline")
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    counts = [int(n) for n in args.threads.split(",")]
    times: dict[int, list[float]] = {n: [] for n in counts}
    tokens: dict[int, int] = {}
    for _ in range(args.rounds):
        for n in counts:
            result = run_once(n, args.questions, args.max_new_tokens)
            if result["threads"] != n:
                raise SystemExit(f"MEDR1_THREADS={n} was not applied: torch used {result['threads']} threads")
            times[n].append(result["seconds"])
            tokens[n] = result["tokens"]
    from medr1_core.train.threads import available_cores, default_threads

    print(f"tiny model, greedy generation on CPU: {args.questions} questions x {args.max_new_tokens} new tokens, "
          f"{args.rounds} rounds; {available_cores()} cores here, load average {os.getloadavg()[0]:.1f}; "
          f"MEDR1_THREADS default here: {default_threads()}")
    print(f"{'threads':>7} {'best s':>8} {'median s':>9} {'tokens/s (best)':>16} {'speed vs 1 thread (best / median)':>34}")
    base = counts[0]
    for n in counts:
        best, median = min(times[n]), statistics.median(times[n])
        print(f"{n:>7} {best:8.2f} {median:9.2f} {tokens[n] / best:16.1f} "
              f"{min(times[base]) / best:>20.2f}x / {statistics.median(times[base]) / median:.2f}x")


if __name__ == "__main__":
    main()
