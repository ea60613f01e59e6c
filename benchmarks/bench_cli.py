"""Start-up time of the CLI: `medr1 --help` and `medr1 plugins --json`.

Prints the median wall time of several runs of each, beside `python -c pass`
(the interpreter's own start-up, the floor) and `python -c "import torch"`
(what an eager import of one heavy framework would cost). Target: each medr1
command under 0.5 s on this machine.

    python benchmarks/bench_cli.py [--runs 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.5


def median_time(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    medr1 = shutil.which("medr1") or str(Path(sys.executable).with_name("medr1"))
    baseline = median_time([sys.executable, "-c", "pass"], args.runs)
    rows = [
        ("python -c pass (baseline)", baseline),
        ("python -c 'import torch'", median_time([sys.executable, "-c", "import torch"], max(3, args.runs // 2))),
        ("medr1 --help", median_time([medr1, "--help"], args.runs)),
        ("medr1 plugins --json", median_time([medr1, "plugins", "--json"], args.runs)),
    ]
    print(f"{'command':32} {'median s':>9} {'x baseline':>11}  target")
    for name, seconds in rows:
        verdict = ""
        if name.startswith("medr1"):
            verdict = "ok (< 0.5 s)" if seconds < TARGET_S else "MISSED (>= 0.5 s)"
        print(f"{name:32} {seconds:9.3f} {seconds / baseline:11.1f}  {verdict}")


if __name__ == "__main__":
    main()
