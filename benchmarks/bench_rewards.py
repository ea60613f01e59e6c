"""Reward throughput: medr1's format / accuracy / dtree against Med-R1's own reward functions.

Generates realistic GRPO batches (seeded): groups of ``--group`` completions per
question, several hundred characters of reasoning each, mixed modalities and
tasks (so decision trees apply to a good share), and a mix of correct, wrong,
differently written and malformed answers. Then, on one CPU core, it times:

- in-process, the baseline measured in the same run: the *string fallback* of
  Med-R1 / R1-V's accuracy reward alone (``re.search(r"<answer>(.*?)</answer>")``
  then ``strip() == ground truth``; their reward first tries ``math_verify``,
  left out here) and R1-V's format regex
  ``^<think>.*?</think>\\s*<answer>.*?</answer>$`` (``re.DOTALL``), called
  TRL-style on the raw strings;
- medr1: parsing once (:func:`medr1_core.parsing.make_rollouts`) plus each
  reward, each reward alone, ``format+accuracy`` and ``format+accuracy+dtree``
  through :class:`medr1_core.composition.ComposedRewards`.

- whole process (``--whole N``, default 50,000; 0 skips it): ``medr1 rewards
  score --rewards format,accuracy`` on a JSONL file of N completions, against
  Med-R1's own ``accuracy_reward`` (``math_verify`` first, then exact match) and
  ``format_reward`` scoring the same file in a process of their own
  (``benchmarks/med_r1_rewards.py``), and against that script without
  ``math_verify``. Each process is started fresh (interpreter, imports, reading,
  scoring, writing the scores), pinned to one core; the ratio is on CPU time
  (user + system of the child), wall time is printed too. Target: medr1 at
  least 20x Med-R1's own functions.

Times are CPU seconds of this single-threaded process pinned to one core, so
other processes on a shared machine do not inflate them. Targets (one core):
format+accuracy >= 100,000 completions/s, format+accuracy+dtree
>= 20,000/s. It also prints how the two accuracy rewards score each kind of
answer, to show what the baseline lets through.

    python benchmarks/bench_rewards.py            # 100,000 completions in-process, 50,000 whole-process
    python benchmarks/bench_rewards.py --n 20000 --whole 10000  # quick
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from medr1_core import parsing
from medr1_core.composition import compose
from medr1_core.parsing import make_rollouts
from medr1_core.samples import Sample

# --- the in-process baseline: Med-R1 / R1-V's string fallback (no math_verify) -------


def r1v_accuracy_reward(completions, solution, **kwargs):
    """The string fallback of Med-R1 / R1-V's accuracy (their math_verify step left out): the <answer>
    text, stripped, equals the ground truth."""
    rewards = []
    for content, sol in zip(completions, solution):
        reward = 0.0
        try:
            sol_match = re.search(r"<answer>(.*?)</answer>", sol)
            ground_truth = sol_match.group(1).strip() if sol_match else sol.strip()
            content_match = re.search(r"<answer>(.*?)</answer>", content)
            student_answer = content_match.group(1).strip() if content_match else content.strip()
            if student_answer == ground_truth:
                reward = 1.0
        except Exception:  # noqa: BLE001 - as in R1-V
            pass
        rewards.append(reward)
    return rewards


def r1v_format_reward(completions, **kwargs):
    """Med-R1 / R1-V format: the whole completion matches think-then-answer."""
    pattern = r"^<think>.*?</think>\s*<answer>.*?</answer>$"
    matches = [re.match(pattern, content, re.DOTALL) for content in completions]
    return [1.0 if match else 0.0 for match in matches]


# --- synthetic but realistic data ----------------------------------------------------

FILLER = [
    "The image quality is adequate for interpretation.",
    "I will look at the overall appearance first and then at specific structures.",
    "The field of view is centred appropriately.",
    "There are no obvious artefacts limiting the assessment.",
    "Comparing both sides helps to detect subtle asymmetry.",
    "Let me go through the options one by one before deciding.",
    "The contrast and brightness allow the main structures to be distinguished.",
    "Several options can be excluded based on the visible anatomy.",
]

# (modality, task, question, {option text: [reasoning sentences supporting it]})
SCENARIOS = [
    ("xray", "disease_diagnosis", "What specific condition is depicted in this chest X-ray?", {
        "Pneumonia": ["There is a dense lobar consolidation in the right lower lobe with air bronchograms.",
                      "Focal airspace consolidation is seen in the left lower lobe; no pleural effusion."],
        "COVID-19": ["Bilateral peripheral ground-glass opacities predominate in the lower zones.",
                     "Multifocal hazy opacities are present bilaterally with a subpleural, basal predominance."],
        "Normal": ["The lungs are clear with no consolidation or effusion.",
                   "Clear lung fields bilaterally; the costophrenic angles are sharp and no opacity is seen."],
        "Pulmonary fibrosis": ["Coarse reticular markings with volume loss are seen at both bases.",
                               "There is honeycombing and traction bronchiectasis peripherally."],
    }),
    ("ct", "disease_diagnosis", "Is this CT scan image indicative of COVID-19?", {
        "Yes": ["Bilateral peripheral ground-glass opacities with crazy paving are present.",
                "Multifocal rounded ground-glass opacities are seen bilaterally with a reverse halo sign."],
        "No": ["The lungs are clear and no ground-glass opacity or consolidation is identified.",
               "There is an isolated lobar consolidation with centrilobular nodules and tree-in-bud change."],
    }),
    ("fundus", "lesion_grading", "What is the severity of diabetic retinopathy shown in this fundus image?", {
        "No diabetic retinopathy.": ["The fundus appears normal with no haemorrhages or microaneurysms.",
                                     "Normal fundus: the optic disc and macula look healthy."],
        "Mild diabetic retinopathy.": ["Only a few microaneurysms are visible near the macula.",
                                       "Scattered microaneurysms are the only abnormality."],
        "Moderate diabetic retinopathy.": ["There are dot and blot haemorrhages with hard exudates.",
                                           "Several intraretinal haemorrhages and cotton wool spots are present."],
        "Severe diabetic retinopathy.": ["Haemorrhages are present in all four quadrants with venous beading.",
                                         "Prominent intraretinal microvascular abnormalities are seen."],
        "Proliferative diabetic retinopathy.": ["New vessels at the disc indicate neovascularization.",
                                                "There is a preretinal haemorrhage with fibrovascular proliferation."],
    }),
    ("xray", "lesion_grading", "What is the Kellgren-Lawrence grade of osteoarthritis in this knee radiograph?", {
        "Grade 0": ["The joint space is preserved and no osteophytes are seen.",
                    "Normal knee: no osteophytes and no joint space narrowing."],
        "Grade 1": ["There is doubtful joint space narrowing with possible osteophytic lipping.",
                    "Only possible osteophytic lipping is noted medially."],
        "Grade 2": ["Definite osteophytes are present at the tibial spines; the joint space looks normal.",
                    "Small definite osteophytes are visible without clear narrowing."],
        "Grade 3": ["Definite joint space narrowing with multiple osteophytes and subchondral sclerosis.",
                    "Moderate joint space narrowing with osteophytes is seen."],
        "Grade 4": ["Bone-on-bone contact medially with large osteophytes and bony deformity.",
                    "Marked joint space narrowing with severe sclerosis and deformity of the bone ends."],
    }),
    ("dermoscopy", "disease_diagnosis", "Is the abnormality in this image benign or malignant?", {
        "Benign image.": ["The lesion is symmetric with a uniform colour and a regular pigment network.",
                          "Symmetrical lesion with regular borders and homogeneous brown pigmentation."],
        "Malignant": ["The lesion is asymmetric with irregular borders and a blue-white veil.",
                      "Asymmetric lesion with multiple colours, irregular streaks and an atypical network."],
    }),
    ("xray", "disease_diagnosis", "What type of abnormality is depicted in this breast image?", {
        "A tumor": ["A spiculated mass with architectural distortion is visible.",
                    "There is an irregular mass with clustered microcalcifications."],
        "No, It's normal": ["The breast shows normal fibroglandular tissue without a mass.",
                            "Scattered fibroglandular tissue; no mass or suspicious calcifications."],
        "Infection": ["The skin looks thickened and there is diffuse oedema of the breast."],
        "Congenital defect": ["The breast outline seems unusual in shape."],
    }),
    (None, "modality_recognition", "What imaging technique is utilized to capture this picture?", {
        "CT": ["The image is an axial slice with attenuation differences in Hounsfield units.",
               "Hyperdense and hypodense regions are seen on this soft tissue window."],
        "MRI": ["This is a T2-weighted image with hyperintense fluid signal.",
                "The signal intensity pattern and FLAIR sequence suggest magnetic resonance."],
        "X-ray": ["This is a projection radiograph with radiopaque bones.",
                  "A plain film in PA view shows the bony structures."],
        "Ultrasound": ["The grainy speckle and hypoechoic areas with acoustic shadowing suggest sonography.",
                       "The sector-shaped field with echogenic structures is typical of a transducer image."],
        "Dermoscopy": ["A magnified skin surface with a pigment network is shown.",
                       "Dermoscopic globules and a pigment network are visible."],
        "Fundus photography": ["The optic disc, macula and retinal vessels are visible.",
                               "A fundus photograph showing the vascular arcades."],
        "Optical Coherence Tomography (OCT)": ["The retinal layers are seen in cross-section with the RPE.",
                                               "The foveal contour and retinal layers are visible."],
        "Microscopy": ["Stained cells with nuclei and cytoplasm are visible at high magnification.",
                       "This is an H&E stained tissue section."],
    }),
    ("ct", "anatomy_identification", "Which organ is shown in the centre of this image?", {
        "Liver": ["A large homogeneous organ occupies the right upper quadrant."],
        "Kidney": ["A bean-shaped organ with a cortex and medulla is seen in the retroperitoneum."],
        "Spleen": ["An organ in the left upper quadrant below the diaphragm is visible."],
        "Pancreas": ["An elongated organ lies behind the stomach."],
    }),
    ("microscopy", "other_biological_attributes", "What type of cell is predominantly seen in this image?", {
        "Neutrophil": ["The cells have multilobed nuclei and pale granular cytoplasm."],
        "Lymphocyte": ["Small round cells with a large dense nucleus and scant cytoplasm."],
        "Eosinophil": ["Cells with bilobed nuclei and bright orange-red granules."],
        "Monocyte": ["Large cells with kidney-shaped nuclei."],
    }),
    ("ultrasound", "disease_diagnosis", "What abnormality can be seen in this ultrasound image?", {
        "Thyroid nodule": ["A hypoechoic nodule is seen within the thyroid gland."],
        "Gallstones": ["Echogenic foci with posterior acoustic shadowing lie in the gallbladder."],
        "Kidney cyst": ["An anechoic round structure with posterior enhancement is in the kidney."],
        "No abnormality detected": ["The organ has a homogeneous echotexture without focal lesions."],
    }),
]

LETTERS = "ABCDE"


def make_sample(rng: random.Random, index: int) -> tuple[Sample, dict[str, list[str]]]:
    modality, task, question, bank = rng.choice(SCENARIOS)
    texts = list(bank)
    if len(texts) > 4:
        truth_text = rng.choice(texts)
        others = [t for t in texts if t != truth_text]
        texts = [truth_text, *rng.sample(others, 3)]
    rng.shuffle(texts)
    options = {LETTERS[i]: t for i, t in enumerate(texts)}
    truth = rng.choice(list(options))
    if modality is None:  # modality recognition: the image's modality is the answer's
        by_text = {"CT": "ct", "MRI": "mri", "X-ray": "xray", "Ultrasound": "ultrasound", "Dermoscopy": "dermoscopy",
                   "Fundus photography": "fundus", "Optical Coherence Tomography (OCT)": "oct",
                   "Microscopy": "microscopy"}
        modality = by_text[options[truth]]
    sample = Sample(id=f"q{index}", question=question, answer=truth, options=options, modality=modality, task=task)
    return sample, bank


def reasoning(rng: random.Random, bank: dict[str, list[str]], supports: str, options: dict[str, str]) -> str:
    sentences = rng.sample(FILLER, rng.randint(3, 6))
    sentences.insert(rng.randrange(len(sentences) + 1), rng.choice(bank[supports]))
    others = [t for t in options.values() if t != supports]
    if others and rng.random() < 0.5:
        sentences.append(f"This does not look like {rng.choice(others).rstrip('.').lower()}.")
    sentences.append(f"Therefore the most likely answer is {supports.rstrip('.').lower()}.")
    return " ".join(sentences)


def make_completion(rng: random.Random, sample: Sample, bank: dict[str, list[str]]) -> tuple[str, str]:
    """One completion and its kind (for the agreement table)."""
    options = sample.options
    letters = list(options)
    truth = sample.answer
    wrong = rng.choice([x for x in letters if x != truth])
    roll = rng.random()
    chosen = truth if roll < 0.6 else wrong
    think = reasoning(rng, bank, options[chosen] if rng.random() < 0.9 else options[rng.choice(letters)], options)
    style = rng.random()
    if style < 0.55:
        answer, kind = chosen, "letter"
    elif style < 0.65:
        answer, kind = f"{chosen}. {options[chosen]}", "letter+text"
    elif style < 0.72:
        answer, kind = options[chosen], "option text"
    elif style < 0.78:
        answer, kind = f"The answer is ({chosen})", "sentence"
    elif style < 0.84:
        pair = sorted({chosen, rng.choice(letters)} | {truth})
        answer, kind = " or ".join(pair) if len(pair) > 1 else f"{pair[0]} or {wrong}", "hedge"
    else:
        answer, kind = chosen, "malformed"
    if kind == "malformed":
        form = rng.randrange(4)
        if form == 0:
            return f"<think>{think}</think>\nSo the answer is {answer}.", "malformed: no answer tag"
        if form == 1:
            return f"{think}\n<answer>{answer}</answer>", "malformed: no think tag"
        if form == 2:
            return f"<think>{think}</think><answer>{answer}</answer><answer>{wrong}</answer>", "malformed: 2 answers"
        return f"<think>{think}</think>\n<answer>{answer}</answer>\nI hope this helps.", "malformed: trailing text"
    return f"<think>{think}</think>\n<answer>{answer}</answer>", kind


def make_data(n: int, group: int, seed: int):
    rng = random.Random(seed)
    samples, texts, kinds = [], [], []
    i = 0
    while len(texts) < n:
        sample, bank = make_sample(rng, i)
        i += 1
        for _ in range(min(group, n - len(texts))):
            text, kind = make_completion(rng, sample, bank)
            samples.append(sample)
            texts.append(text)
            kinds.append(kind)
    return samples, texts, kinds


# --- timing --------------------------------------------------------------------------


def batches(n: int, size: int):
    for start in range(0, n, size):
        yield start, min(n, start + size)


def clock() -> float:
    """CPU seconds of this (single-threaded) process: what one core spends,
    unaffected by other processes competing for it."""
    return time.process_time()


def time_baseline(texts, solutions, batch):
    re.purge()
    t0 = clock()
    for a, b in batches(len(texts), batch):
        r1v_format_reward(texts[a:b])
        r1v_accuracy_reward(texts[a:b], solutions[a:b])
    return clock() - t0


def time_medr1(samples, texts, batch, names):
    """Seconds to parse and score everything; caches start cold (fresh rewards, empty option cache)."""
    composed = compose(names)
    parsing._OPTION_CACHE.clear()
    t0 = clock()
    for a, b in batches(len(texts), batch):
        composed.score(make_rollouts(samples[a:b], texts[a:b], "think"))
    return clock() - t0, composed


# --- whole process: medr1 rewards score vs Med-R1's functions on the same file ---------

HERE = Path(__file__).resolve().parent


def write_input(path: Path, samples, texts) -> None:
    """The completions as a `medr1 rewards score` input file (what both processes read)."""
    with path.open("w", encoding="utf-8") as out:
        for i, (s, text) in enumerate(zip(samples, texts)):
            out.write(json.dumps({"id": f"{s.id}-{i}", "question": s.question, "options": s.options,
                                  "answer": s.answer, "modality": s.modality, "task": s.task,
                                  "completion": text}) + "\n")


def run_process(command: list[str]) -> tuple[float, float]:
    """``(CPU seconds, wall seconds)`` of ``command`` run to completion, pinned to one core."""
    core = sorted(os.sched_getaffinity(0))[0] if hasattr(os, "sched_getaffinity") else None
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                            preexec_fn=(lambda: os.sched_setaffinity(0, {core})) if core is not None else None)
    _stderr = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{_stderr.decode(errors='replace')[-2000:]}")
    return usage.ru_utime + usage.ru_stime, wall


def agreement(a: Path, b: Path, name: str) -> float:
    """Share of lines where the two score files give reward ``name`` the same score."""
    same = total = 0
    with a.open() as fa, b.open() as fb:
        for la, lb in zip(fa, fb):
            total += 1
            same += json.loads(la)["rewards"][name] == json.loads(lb)["rewards"][name]
    return same / total if total else float("nan")


def whole_process(n: int, group: int, seed: int) -> None:
    samples, texts, _kinds = make_data(n, group, seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "completions.jsonl"
        write_input(src, samples, texts)
        runs = {
            "medr1 rewards score (format+accuracy)": (
                [sys.executable, "-m", "medr1_core.cli", "rewards", "score", "--rewards", "format,accuracy",
                 "--input", str(src), "--output", str(tmp / "medr1.jsonl")], tmp / "medr1.jsonl"),
            "Med-R1 accuracy (math_verify, then exact) + format": (
                [sys.executable, str(HERE / "med_r1_rewards.py"), str(src), str(tmp / "medr1_mv.jsonl")],
                tmp / "medr1_mv.jsonl"),
            "Med-R1 exact-match fallback only + format": (
                [sys.executable, str(HERE / "med_r1_rewards.py"), str(src), str(tmp / "medr1_exact.jsonl"),
                 "--no-math-verify"], tmp / "medr1_exact.jsonl"),
        }
        try:
            import math_verify  # noqa: F401
        except ImportError:
            print("\nmath_verify is not installed (pip install 'medr1[dev]'); the Med-R1 math_verify run is skipped")
            del runs["Med-R1 accuracy (math_verify, then exact) + format"]
        times = {label: run_process(cmd) for label, (cmd, _out) in runs.items()}
        ours = times["medr1 rewards score (format+accuracy)"][0]
        print(f"\nwhole process, {n:,} completions from one JSONL file ({src.stat().st_size / 2**20:.1f} MiB), "
              "one core each:")
        print(f"{'process':<54}{'CPU s':>8}{'wall s':>8}{'completions/s':>15}{'medr1 speed-up':>16}")
        for label, (cpu, wall) in times.items():
            print(f"{label:<54}{cpu:>8.2f}{wall:>8.2f}{n / cpu:>15,.0f}{cpu / ours:>15.1f}x")
        mv = times.get("Med-R1 accuracy (math_verify, then exact) + format")
        if mv:
            ratio = mv[0] / ours
            print(f"target: medr1 >= 20x Med-R1's own reward functions (math_verify first): {ratio:.1f}x "
                  f"{'MET' if ratio >= 20 else 'NOT MET'}")
            _out = runs["Med-R1 accuracy (math_verify, then exact) + format"][1]
            print(f"same accuracy score as Med-R1 on {agreement(tmp / 'medr1.jsonl', _out, 'accuracy'):.0%} of lines, "
                  f"same format score on {agreement(tmp / 'medr1.jsonl', _out, 'format'):.0%} "
                  "(they differ where medr1 reads 'C. CT', 'CT', 'The answer is (C)' as C and refuses two answers)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="completions (default 100,000)")
    ap.add_argument("--group", type=int, default=8, help="completions per question, as GRPO samples them")
    ap.add_argument("--batch", type=int, default=512, help="completions per scoring call")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--whole", type=int, default=50_000,
                    help="completions for the whole-process comparison (default 50,000; 0 skips it)")
    ap.add_argument("--whole-only", action="store_true", help="only the whole-process comparison")
    args = ap.parse_args(argv)
    if args.whole_only:
        whole_process(args.whole, args.group, args.seed)
        return 0

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    t0 = time.perf_counter()
    samples, texts, kinds = make_data(args.n, args.group, args.seed)
    solutions = [f"<answer> {s.answer} </answer>" for s in samples]
    mean_len = statistics.mean(len(t) for t in texts)
    print(f"{len(texts):,} completions (mean {mean_len:.0f} chars, {len(texts) // args.group:,} questions x "
          f"{args.group}) generated in {time.perf_counter() - t0:.1f}s; one core (CPU time); batches of {args.batch}")

    # Warm-up (imports, plugin loading, dtree tree loading) outside the timings.
    compose("format,accuracy,dtree").score(make_rollouts(samples[:64], texts[:64], "think"))
    r1v_accuracy_reward(texts[:64], solutions[:64])

    n = len(texts)
    base = time_baseline(texts, solutions, args.batch)
    parsing._OPTION_CACHE.clear()
    t_parse0 = clock()
    for a, b in batches(n, args.batch):
        make_rollouts(samples[a:b], texts[a:b], "think")
    parse = clock() - t_parse0
    rows = [("baseline: Med-R1 string fallback + R1-V format", base)]
    rows.append(("medr1 parse only", parse))
    timings = {}
    for names in ("format", "accuracy", "dtree", "format,accuracy", "format,accuracy,dtree"):
        timings[names], composed = time_medr1(samples, texts, args.batch, names)
        rows.append((f"medr1 {names.replace(',', '+')} (incl. parse)", timings[names]))

    print(f"\n{'what':<48}{'CPU s':>9}{'completions/s':>16}{'vs baseline':>13}")
    for label, seconds in rows:
        rate = n / seconds
        print(f"{label:<48}{seconds:>9.2f}{rate:>16,.0f}{(base / seconds):>12.2f}x")
    fa, fad = n / timings["format,accuracy"], n / timings["format,accuracy,dtree"]
    print(f"\ntargets: format+accuracy >= 100,000/s: {fa:,.0f}/s {'MET' if fa >= 100_000 else 'NOT MET'}; "
          f"format+accuracy+dtree >= 20,000/s: {fad:,.0f}/s {'MET' if fad >= 20_000 else 'NOT MET'}")

    # What each accuracy reward gives each kind of answer.
    composed = compose("format,accuracy,dtree")
    scores = composed.score(make_rollouts(samples, texts, "think"))
    base_acc = r1v_accuracy_reward(texts, solutions)
    base_fmt = r1v_format_reward(texts)
    chosen_right = [int(s == 1.0) for s in scores.per_reward["accuracy"]]
    table = defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0.0, 0, 0.0])
    for i, kind in enumerate(kinds):
        row = table[kind]
        row[0] += 1
        row[1] += base_acc[i]
        row[2] += scores.per_reward["accuracy"][i]
        row[3] += base_fmt[i]
        row[4] += scores.per_reward["format"][i]
        d = scores.per_reward["dtree"][i]
        if d is not None:
            row[5] += 1
            row[6] += d
    print(f"\n{'answer kind':<28}{'n':>8}{'R1-V acc':>10}{'medr1 acc':>11}{'R1-V fmt':>10}{'medr1 fmt':>11}"
          f"{'dtree applies':>15}{'dtree mean':>12}")
    for kind in sorted(table):
        c, ba, ma, bf, mf, dn, ds = table[kind]
        print(f"{kind:<28}{c:>8}{ba / c:>10.2f}{ma / c:>11.2f}{bf / c:>10.2f}{mf / c:>11.2f}{dn / c:>15.0%}"
              f"{(ds / dn if dn else float('nan')):>12.2f}")
    applies = sum(1 for s in scores.per_reward["dtree"] if s is not None) / n
    print(f"\ndtree applies to {applies:.0%} of completions; medr1 accuracy is 1 for {sum(chosen_right) / n:.0%}")
    if args.whole:
        whole_process(args.whole, args.group, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
