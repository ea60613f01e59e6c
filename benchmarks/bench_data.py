"""Benchmark: index a full-size OmniMedVQA tree and draw the first training batch.

    python benchmarks/bench_data.py [--records 88996] [--repeat 3] [--keep DIR]

Builds, in a temporary folder, an OmniMedVQA-native tree the size of the real
one: 88,996 questions in 42 per-dataset files under
``QA_information/{Open,Restricted}-access`` (one file uses the ``modality``
key, as the real ``Chest CT Scan.json`` does), about 82,000 distinct image
paths under ``Images/``. Question texts, options and labels are taken from the
Med-R1 splits in ``../shared/data/medr1-splits`` (cycled to reach the count)
when they are there, else generated.

Placeholder images: every image path is a real, decodable file, but a *hard
link* to one of 24 source images (3 per modality, at sizes typical of the
modality: 512x512 16-bit PNG for CT, 1600x1200 JPEG for fundus, ...). So
existence checks and decoding are real work, while building the tree stays at
about a second and a few MB of disk. Decoding reads files already in the page
cache: disk latency is not measured.

Each measurement runs in a fresh interpreter (so peak RSS is that step's own):

- index: ``medr1_core.data.load_samples(root)`` (plugin discovery included),
  against the named baseline *json.load of every QA file* (no validation, no
  Samples), with peak RSS (``VmHWM``). Targets: < 3 s, < 500 MB.
- images check: ``check_images`` (one ``stat`` per distinct image).
- first batch: ``training_dataset`` (imports ``datasets``, builds the Arrow
  table) and drawing 16 random rows with prepared images, the way TRL's
  DataLoader fetches them (``__getitems__``), against the named baseline
  *PIL open + convert("RGB") of the same 16 files* (no resizing).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPLITS = REPO.parent / "shared" / "data" / "medr1-splits"
RECORDS = 88_996
UNIQUE_IMAGES = 82_059
INDEX_TARGET_S = 3.0
RSS_TARGET_MB = 500.0

#: modality id -> (OmniMedVQA label, extension, size, mode) of its placeholder images
MODALITY_FILES = {
    "ct": ("CT(Computed Tomography)", ".png", (512, 512), "I;16"),
    "mri": ("MR (Mag-netic Resonance Imaging)", ".png", (256, 256), "L"),
    "xray": ("X-Ray", ".jpg", (1024, 1024), "L"),
    "ultrasound": ("ultrasound", ".png", (256, 256), "L"),
    "dermoscopy": ("Dermoscopy", ".jpg", (1024, 768), "RGB"),
    "fundus": ("Fundus Photography", ".jpg", (1600, 1200), "RGB"),
    "oct": ("OCT (Optical Coherence Tomography", ".jpeg", (512, 496), "L"),
    "microscopy": ("Microscopy Images", ".png", (640, 480), "RGB"),
}
TASK_LABELS = {
    "modality_recognition": "Modality Recognition",
    "anatomy_identification": "Anatomy Identification",
    "disease_diagnosis": "Disease Diagnosis",
    "lesion_grading": "Lesion Grading",
    "other_biological_attributes": "Other Biological Attributes",
}


# --------------------------------------------------------------------------- building the tree


def question_pool(rng: random.Random) -> list[dict]:
    """Native-shaped question stubs (dataset, labels, question, options, answer)."""
    if SPLITS.is_dir():
        from medr1_core.data import load_samples

        samples = load_samples(SPLITS).samples
        by_dataset: dict[str, Counter] = {}
        for s in samples:
            if s.modality:
                by_dataset.setdefault(s.dataset, Counter())[s.modality] += 1
        task_weights = Counter(s.task for s in samples if s.task)
        tasks, weights = zip(*task_weights.items())
        pool = []
        for s in samples:
            modality = s.modality or by_dataset.get(s.dataset, Counter({"ct": 1})).most_common(1)[0][0]
            task = s.task or rng.choices(tasks, weights)[0]
            pool.append({"dataset": s.dataset, "modality": modality, "task": task, "question": s.question,
                         "options": list(s.options.values()), "answer": s.answer_text})
        return pool
    modalities, tasks = list(MODALITY_FILES), list(TASK_LABELS)
    return [
        {"dataset": f"Dataset-{i % 42:02d}", "modality": modalities[i % 42 % 8], "task": tasks[i % 5],
         "question": f"Which finding is shown in this image (variant {i})?",
         "options": [f"Finding {k} of {i}" for k in range(4 if i % 9 else 2)], "answer": f"Finding 1 of {i}"}
        for i in range(20_000)
    ]


def source_images(root: Path) -> dict[str, list[Path]]:
    """3 placeholder images per modality, at typical sizes, to hard-link from."""
    import numpy as np
    from PIL import Image

    out: dict[str, list[Path]] = {}
    folder = root / "_sources"
    folder.mkdir(parents=True)
    for m_index, (modality, (_label, ext, (w, h), mode)) in enumerate(MODALITY_FILES.items()):
        for variant in range(3):
            rng = np.random.default_rng([m_index, variant])
            y, x = np.mgrid[0:h, 0:w]
            base = 0.5 + 0.4 * np.sin(x / (17 + variant)) * np.cos(y / (23 + m_index))
            base = np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1)
            if mode == "I;16":
                image = Image.fromarray((base * 4095).astype(np.uint16))
            elif mode == "L":
                image = Image.fromarray((base * 255).astype(np.uint8), "L")
            else:
                rgb = np.stack([base, base[::-1], base[:, ::-1]], axis=2)
                image = Image.fromarray((rgb * 255).astype(np.uint8), "RGB")
            path = folder / f"{modality}_{variant}{ext}"
            image.save(path, **({"quality": 90} if ext in (".jpg", ".jpeg") else {}))
            out.setdefault(modality, []).append(path)
    return out


def build_tree(root: Path, records: int, seed: int = 0) -> dict:
    """Write the tree; returns what was built."""
    rng = random.Random(seed)
    pool = question_pool(rng)
    sources = source_images(root)
    unique = min(UNIQUE_IMAGES, records) if records == RECORDS else int(records * UNIQUE_IMAGES / RECORDS)
    files: dict[str, list] = {}
    images_of: dict[str, list[str]] = {}
    made_dirs: set[Path] = set()
    for i in range(records):
        q = pool[i % len(pool)]
        dataset, modality = q["dataset"], q["modality"]
        seen = images_of.setdefault(dataset, [])
        if i < unique or not seen:
            ext = MODALITY_FILES[modality][1]
            image = f"Images/{dataset}/{i:06d}{ext}"
            target = root / image
            if target.parent not in made_dirs:
                target.parent.mkdir(parents=True, exist_ok=True)
                made_dirs.add(target.parent)
            os.link(sources[modality][i % 3], target)
            seen.append(image)
        else:
            image = seen[rng.randrange(len(seen))]  # another question about an existing image
        record = {
            "question_id": f"{dataset}_{i:06d}",
            "dataset": dataset,
            "question_type": TASK_LABELS[q["task"]],
            "question": q["question"],
            "gt_answer": q["answer"],
            "image_path": image,
            "modality_type": MODALITY_FILES[modality][0],
        }
        record.update({f"option_{letter}": text for letter, text in zip("ABCD", q["options"])})
        files.setdefault(dataset, []).append(record)
    for n, (dataset, recs) in enumerate(sorted(files.items())):
        if dataset == "Chest CT Scan":  # the real file's quirk: "modality" instead of "modality_type"
            for r in recs:
                r["modality"] = r.pop("modality_type")
        access = "Restricted-access" if n % 6 == 5 else "Open-access"
        folder = root / "QA_information" / access
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{dataset}.json").write_text(json.dumps(recs, indent=4))
    return {"records": records, "files": len(files), "images": sum(len(v) for v in images_of.values())}


# --------------------------------------------------------------------------- measurements (children)


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MB.

    ``VmHWM`` from /proc (Linux): ``ru_maxrss`` is not used where /proc exists
    because Linux carries it across ``execve``, so a child would report its
    parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource

    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def child_baseline(root: Path) -> dict:
    start = time.perf_counter()
    n = 0
    for path in sorted((root / "QA_information").rglob("*.json")):
        with open(path, encoding="utf-8") as f:
            n += len(json.load(f))
    return {"seconds": time.perf_counter() - start, "records": n, "peak_rss_mb": peak_rss_mb()}


def child_index(root: Path) -> dict:
    start = time.perf_counter()
    from medr1_core.data import check_images, load_samples

    imported = time.perf_counter()
    report = load_samples(root)
    indexed = time.perf_counter()
    checked = check_images(report.samples, on_missing="error")
    done = time.perf_counter()
    heavy = sorted(m for m in ("torch", "transformers", "trl", "datasets") if m in sys.modules)
    return {
        "import_seconds": imported - start,
        "seconds": indexed - imported,
        "check_images_seconds": done - indexed,
        "samples": len(report.samples),
        "bad": len(report.bad),
        "checked": len(checked.samples),
        "peak_rss_mb": peak_rss_mb(),
        "heavy_imports": heavy,
    }


def child_batch(root: Path, batch: int) -> dict:
    from PIL import Image

    from medr1_core.data import image_stats, load_samples, training_dataset

    report = load_samples(root)
    start = time.perf_counter()
    dataset = training_dataset(report.samples)
    built = time.perf_counter()
    indices = random.Random(0).sample(range(len(dataset)), batch)
    rows = dataset.__getitems__(indices)
    drawn = time.perf_counter()
    assert len(rows) == batch and all(r["image"].mode == "RGB" for r in rows)
    sizes = Counter(r["image"].size for r in rows)
    paths = [r["image_paths"][0] for r in rows]
    base_start = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            image.convert("RGB")
    baseline = time.perf_counter() - base_start
    return {
        "build_seconds": built - start,
        "batch_seconds": drawn - built,
        "baseline_seconds": baseline,
        "prepared": image_stats(dataset).prepared,
        "sizes": {f"{w}x{h}": n for (w, h), n in sizes.items()},
        "peak_rss_mb": peak_rss_mb(),
    }


def run_child(kind: str, root: Path, batch: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--root", str(root), "--batch", str(batch)],
        capture_output=True, text=True, cwd=REPO,
    )
    if proc.returncode != 0:
        raise SystemExit(f"child {kind} failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=RECORDS)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timing (the median is reported)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--keep", type=Path, help="build the tree here and keep it")
    parser.add_argument("--child", choices=["baseline", "index", "batch"], help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        result = {"baseline": lambda: child_baseline(args.root), "index": lambda: child_index(args.root),
                  "batch": lambda: child_batch(args.root, args.batch)}[args.child]()
        print(json.dumps(result))
        return

    root = args.keep or Path(tempfile.mkdtemp(prefix="medr1-bench-data-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        built = build_tree(root, args.records)
        print(f"built {built['records']:,} records in {built['files']} files, {built['images']:,} image paths "
              f"(hard links to 24 placeholder images) in {time.perf_counter() - start:.1f} s under {root}")
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPU(s); median of {args.repeat} runs, "
              "each step in a fresh interpreter\n")

        baselines = [run_child("baseline", root, args.batch) for _ in range(args.repeat)]
        indexes = [run_child("index", root, args.batch) for _ in range(args.repeat)]
        batches = [run_child("batch", root, args.batch) for _ in range(args.repeat)]

        def median(rows, key):
            return statistics.median(r[key] for r in rows)

        base_s, index_s = median(baselines, "seconds"), median(indexes, "seconds")
        index_rss, base_rss = max(r["peak_rss_mb"] for r in indexes), max(r["peak_rss_mb"] for r in baselines)
        last = indexes[-1]
        print("index (load_samples: detect format, read, validate, resolve labels, build Samples)")
        print(f"  samples {last['samples']:,}, bad records {last['bad']}, heavy imports: {last['heavy_imports'] or 'none'}")
        print(f"  medr1 import            {median(indexes, 'import_seconds'):7.3f} s")
        print(f"  index time              {index_s:7.3f} s   target < {INDEX_TARGET_S:.0f} s: "
              f"{'met' if index_s < INDEX_TARGET_S else 'NOT MET'}")
        print(f"  baseline json.load      {base_s:7.3f} s   (every QA file, no validation)")
        print(f"  ratio index / baseline  {index_s / base_s:7.2f} x")
        print(f"  peak RSS                {index_rss:7.1f} MB  target < {RSS_TARGET_MB:.0f} MB: "
              f"{'met' if index_rss < RSS_TARGET_MB else 'NOT MET'} (baseline json.load: {base_rss:.1f} MB)")
        print(f"  check_images (stat)     {median(indexes, 'check_images_seconds'):7.3f} s   "
              f"({last['checked']:,} samples with their images present)\n")

        batch_s, batch_base = median(batches, "batch_seconds"), median(batches, "baseline_seconds")
        print(f"first batch of {args.batch} prepared images (training_dataset, then __getitems__ as TRL's DataLoader does)")
        print(f"  training_dataset build  {median(batches, 'build_seconds'):7.3f} s   (imports datasets, Arrow table of all rows)")
        print(f"  draw first batch        {batch_s:7.3f} s   ({batch_s / args.batch * 1000:.1f} ms per image; "
              f"sizes {batches[-1]['sizes']})")
        print(f"  baseline PIL open+RGB   {batch_base:7.3f} s   (same files, no resizing)")
        print(f"  ratio batch / baseline  {batch_s / batch_base:7.2f} x")
        print(f"  peak RSS (whole step)   {max(r['peak_rss_mb'] for r in batches):7.1f} MB")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
