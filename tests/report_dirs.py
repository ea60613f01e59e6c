"""Small run, evaluation and experiment directories for the report tests, made as medr1 makes them.

The run's completions go through the real path: the composed rewards
(format, accuracy, dtree) as TRL reward functions, called as TRL calls them,
with the run's :class:`~medr1_core.train.recording.CompletionRecorder` as the
batch listener. Only the model is missing: the completions are written here,
and the metrics are those a run whose format reward rises would log.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw

from medr1_core.files import append_jsonl
from medr1_core.samples import Sample

GOOD = "<think>Lobar consolidation with air bronchograms in the right lower lobe.</think><answer>B</answer>"
WRONG = "<think>The lungs are clear, no opacity.</think><answer>C</answer>"
NO_TAGS = "pneumonia probably"
#: What the CT question's completions say, as it learns more slowly.
CT_TEXTS = {GOOD: "<think>An axial CT slice of the chest.</think><answer>A</answer>",
            WRONG: "<think>It looks like a scan.</think><answer>B</answer>", NO_TAGS: "MRI"}


def draw_image(path: Path, color: tuple[int, int, int], size: int = 96) -> str:
    """A small picture with a disc in it (a stand-in for a scan)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (size, size), (10, 10, 10))
    ImageDraw.Draw(image).ellipse((12, 12, size - 12, size - 12), fill=color)
    image.save(path)
    return str(path)


def samples(root: Path) -> list[Sample]:
    """An X-ray pneumonia question (the dtree's chest tree applies) and a CT modality question."""
    xray = draw_image(root / "images" / "cxr.png", (200, 200, 200))
    ct = draw_image(root / "images" / "ct.png", (120, 160, 220))
    return [
        Sample(id="cxr-1", question="What condition is shown in this chest X-ray?",
               options={"A": "COVID-19", "B": "Pneumonia", "C": "Normal"}, answer="B", images=(xray,),
               modality="xray", task="disease_diagnosis", dataset="Synthetic-Xray"),
        Sample(id="ct-1", question="Which imaging modality was used to acquire this image?",
               options={"A": "CT", "B": "MRI"}, answer="A", images=(ct,), modality="ct",
               task="modality_recognition", dataset="Synthetic-CT"),
    ]


def make_run_dir(root: Path, steps: int = 12) -> Path:
    """A finished training run: config, data report, events, metrics and recorded completions."""
    from medr1_core.composition import compose, to_trl_reward_funcs
    from medr1_core.train import run_dir as rd
    from medr1_core.train.recording import CompletionRecorder

    run = root / "run"
    run.mkdir(parents=True)
    (run / rd.CONFIG).write_text("model: tiny\ndata: sample\nvariant: think\nrewards:\n"
                                 "  format: {weight: 1.0}\n  accuracy: {weight: 1.0}\n  dtree: {weight: 0.5}\n")
    (run / rd.DATA_REPORT).write_text(json.dumps({"loaded": 2, "bad_records": 0, "training_samples": 2}))
    chosen = samples(root)
    composed = compose("format,accuracy,dtree", "1,1,0.5")
    recorder = CompletionRecorder(composed=composed)
    funcs, _ = to_trl_reward_funcs(composed, samples=chosen, on_batch=recorder)
    rd.log_event(run, "start")
    for step in range(1, steps + 1):
        good = min(4, step // 3)  # more well-formed, right answers as training goes on
        texts = [GOOD] * good + [WRONG] * (3 - min(3, good)) + [NO_TAGS] * max(0, 1 - good // 4)
        ct_texts = [CT_TEXTS[t] if i < good // 2 or t == NO_TAGS else CT_TEXTS[WRONG] for i, t in enumerate(texts)]
        batch = [s for s in chosen for _ in texts]
        completions = texts + ct_texts
        kwargs = {"id": [s.id for s in batch]}
        prompts = [s.question for s in batch]  # TRL hands every reward function the same lists
        scores = {f.__name__: f(prompts=prompts, completions=completions, **kwargs) for f in funcs}
        append_jsonl(run / rd.COMPLETIONS, [{"step": step, **r} for r in recorder.drain()])
        metrics = {"step": step, "loss": 0.1 / step, "learning_rate": 1e-3 * (1 - step / steps)}
        for name, values in scores.items():
            scored = [v for v in values if v is not None]
            if scored:  # a reward that scored nothing this step is absent, as medr1 logs it
                metrics[f"rewards/{name}/mean"] = sum(scored) / len(scored)
        metrics["reward"] = sum(t for t in composed.totals(scores, len(completions)) if t is not None) / len(completions)
        append_jsonl(run / rd.METRICS, [metrics])
    rd.log_event(run, "end", steps=steps)
    return run


def make_eval_dir(root: Path) -> Path:
    """An evaluation directory: predictions (one right, one wrong, one without an answer) and results."""
    from medr1_core.eval.predictions import append_predictions
    from medr1_core.eval.results import write_results
    from medr1_core.eval.run import prediction_record
    from medr1_core.eval.stats import summarize
    from medr1_core.parsing import make_rollouts

    out = root / "eval"
    out.mkdir(parents=True)
    chosen = samples(root)
    third = Sample(id="cxr-2", question="Is this chest X-ray normal?", options={"A": "Yes", "B": "No"}, answer="A",
                   images=(draw_image(root / "images" / "cxr2.png", (90, 200, 90)),), modality="xray",
                   task="disease_diagnosis")
    rollouts = make_rollouts(chosen + [third], ["<answer>C</answer>", "<think>CT</think><answer>A</answer>", "yes"])
    scores = [0.0, 1.0, 0.0]
    records = [prediction_record(r, s) for r, s in zip(rollouts, scores)]
    append_predictions(out / "predictions.jsonl", records)
    write_results(out, {"model": "tiny", "data": "sample", "variant": "think", **summarize(records)}, plot=False)
    return out


def make_experiment_dir(root: Path) -> Path:
    """An experiment directory as ``medr1 experiment`` writes it: experiment.json, summary.md, a figure,
    and the cells' evaluation directories (two train subsets x two test subsets)."""
    from medr1_core.eval.results import write_results

    exp = root / "experiment"
    accuracy = {("ct", "ct"): 0.8, ("ct", "mri"): 0.45, ("mri", "ct"): 0.5, ("mri", "mri"): 0.75}
    cells = []
    for train in ("ct", "mri"):
        evals = {}
        for test in ("ct", "mri"):
            d = exp / "evals" / f"grpo-think-{train}" / test
            n = 20
            correct = round(accuracy[(train, test)] * n)
            cell = {"n": n, "correct": correct, "accuracy": correct / n, "ci95": [0.1, 0.9]}
            write_results(d, {"model": train, "overall": cell, "by_modality": {test: cell},
                              "by_task": {"modality_recognition": cell},
                              "by_modality_task": {test: {"modality_recognition": cell}}}, plot=False)
            evals[test] = str(d.relative_to(exp))
        cells.append({"id": f"grpo-think-{train}", "method": "grpo", "variant": "think", "train_subset": train,
                      "run_dir": f"runs/grpo-think-{train}", "eval_dirs": evals})
    (exp / "figures").mkdir(parents=True)
    draw_image(exp / "figures" / "grpo_think.png", (230, 120, 40), size=120)
    (exp / "experiment.json").write_text(json.dumps({
        "name": "cross-modality", "cells": cells,
        "tables": {"in_domain_vs_out_of_domain": [{"method": "grpo", "variant": "think", "in_domain": 0.775,
                                                   "out_of_domain": 0.475}]},
        "figures": {"GRPO, think: accuracy": "figures/grpo_think.png"},
    }))
    (exp / "summary.md").write_text("# Cross-modality\n\n| train | ct | mri |\n| --- | ---: | ---: |\n"
                                    "| ct | 80.0 | 45.0 |\n| mri | 50.0 | 75.0 |\n")
    return exp
