"""Benchmark: read a Hub-layout benchmark (PathVQA-sized parquet with image bytes) through its format.

    python benchmarks/bench_formats.py [--rows 6719] [--image-kb 25]

Writes, in a temporary folder named like the dataset (``path-vqa/data/test-00000-of-00001.parquet``),
a parquet shard in the Hugging Face ``datasets`` layout: ``image`` cells of PNG bytes (random
pixels, about ``--image-kb`` each), ``question``, ``answer``; PathVQA's test split has 6,719 rows.
Then, each in a fresh interpreter:

- first read: ``load_samples`` with an empty cache, which extracts every image into the cache;
- second read: the same with the cache complete (only the text columns are read);
- named baseline: ``pyarrow.parquet.read_table`` of the whole file (every column, images included),
  the least any reader of the file does.

Prints seconds and the ratio of each read to the baseline.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

READ = """
import sys, time
t = time.perf_counter()
from medr1_core.data import load_samples
report = load_samples(sys.argv[1])
assert not report.bad, report.bad[:3]
print(time.perf_counter() - t, len(report.samples))
"""

BASELINE = """
import sys, time
t = time.perf_counter()
import pyarrow.parquet as pq
table = pq.read_table(sys.argv[1])
print(time.perf_counter() - t, table.num_rows)
"""


def write_shard(path: Path, rows: int, image_kb: int) -> None:
    import datasets
    import numpy as np
    from PIL import Image

    side = int((image_kb * 1024 / 3) ** 0.5)
    rng = np.random.default_rng(0)
    images = []
    for i in range(rows):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buffer, format="PNG")
        images.append({"bytes": buffer.getvalue(), "path": None})
    features = datasets.Features({"image": datasets.Image(), "question": datasets.Value("string"),
                                  "answer": datasets.Value("string")})
    table = {"image": images, "question": [f"is there evidence of lesion {i}?" for i in range(rows)],
             "answer": ["yes" if i % 2 else "in the liver" for i in range(rows)]}
    path.parent.mkdir(parents=True)
    datasets.Dataset.from_dict(table, features=features).to_parquet(str(path))


def run(code: str, *args: str, env: dict) -> tuple[float, int]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
    seconds, count = out.stdout.split()[-2:]
    return float(seconds), int(count)


def main() -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=6719)
    parser.add_argument("--image-kb", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        shard = Path(tmp) / "path-vqa" / "data" / "test-00000-of-00001.parquet"
        write_shard(shard, args.rows, args.image_kb)
        env = {**os.environ, "MEDR1_CACHE": str(Path(tmp) / "cache"), "OMP_NUM_THREADS": "1"}
        base, n = run(BASELINE, str(shard), env=env)
        first, n1 = run(READ, str(shard.parents[1]), env=env)
        second, n2 = run(READ, str(shard.parents[1]), env=env)
        assert n == n1 == n2 == args.rows
        size = shard.stat().st_size / 2**20
        print(f"{args.rows} rows, {size:.0f} MB parquet")
        print(f"baseline pyarrow read_table (all columns): {base:6.2f} s")
        print(f"first read (extracts images):             {first:6.2f} s  ({first / base:.1f}x baseline)")
        print(f"second read (cache complete):             {second:6.2f} s  ({second / base:.1f}x baseline)")


if __name__ == "__main__":
    main()
