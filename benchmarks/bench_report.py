"""What the run report costs a long run: the time to write report.html at a checkpoint, and its size.

Builds a run directory as a long GRPO run leaves it (``--steps`` logged steps,
16 recorded completions a step with dtree explanations, real images from the
bundled sample data), then times ``write_report`` twice: the first write
(every thumbnail made) and a rewrite in the same process (a later checkpoint:
thumbnails reused). Baseline, measured in the same run: reading the run's
files (``metrics.jsonl``, ``completions.jsonl``), which any report must do.
Target: a checkpoint's rewrite stays a small part of a checkpoint interval
(100 steps of a 2B model on a GPU: minutes) -- a few seconds.

    python benchmarks/bench_report.py [--steps 1000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def make_run(root: Path, steps: int) -> Path:
    from medr1_core.composition import compose
    from medr1_core.data import load_samples
    from medr1_core.files import append_jsonl
    from medr1_core.parsing import make_rollouts
    from medr1_core.train import run_dir as rd
    from medr1_core.train.recording import CompletionRecorder

    samples = load_samples("sample").samples
    composed = compose("format,accuracy,dtree")
    recorder = CompletionRecorder(composed=composed)
    texts = ["<think>Lobar consolidation in the right lower lobe, no effusion; the image shows a lesion.</think>"
             "<answer>A</answer>", "<think>Normal study.</think><answer>B</answer>"] * 8
    run = root / "run"
    run.mkdir()
    (run / rd.CONFIG).write_text("model: tiny\ndata: sample\nrewards: {format: {weight: 1}, accuracy: {weight: 1}, "
                                 "dtree: {weight: 1}}\n")
    for step in range(1, steps + 1):
        pair = [samples[(2 * step) % len(samples)], samples[(2 * step + 1) % len(samples)]]
        batch = [s for s in pair for _ in range(8)]
        rollouts = make_rollouts(batch, texts)
        recorder(rollouts, composed.score(rollouts).per_reward)
        append_jsonl(run / rd.COMPLETIONS, [{"step": step, **r} for r in recorder.drain()])
        append_jsonl(run / rd.METRICS, [{"step": step, "loss": 0.01, "reward": 1.0 + step / steps,
                                         "rewards/format/mean": 1.0, "rewards/accuracy/mean": step / steps}])
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    from medr1_core.report import write_report
    from medr1_core.train import run_dir as rd

    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp), args.steps)
        start = time.perf_counter()
        rd.read_records(run / rd.COMPLETIONS)
        rd.metric_series(run)
        baseline = time.perf_counter() - start
        start = time.perf_counter()
        write_report(run)
        first = time.perf_counter() - start
        start = time.perf_counter()
        path = write_report(run)
        again = time.perf_counter() - start
        completions_mb = os.path.getsize(run / rd.COMPLETIONS) / 1e6
        print(f"run: {args.steps} steps, completions.jsonl {completions_mb:.1f} MB")
        print(f"baseline, reading the run's files:      {baseline:6.2f} s")
        print(f"report.html, first write (thumbnails):  {first:6.2f} s  ({first / baseline:.1f}x baseline)")
        print(f"report.html, rewrite at a checkpoint:   {again:6.2f} s  ({again / baseline:.1f}x baseline)")
        print(f"report.html size: {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
