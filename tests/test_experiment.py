"""medr1 experiment: the YAML checked before anything runs, the cells it expands to, and a 2x2 grid on the tiny
model end to end (train, evaluate, tables, heatmaps, report; a second run does nothing new)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from helpers import run_cli

GRID = {
    "name": "grid",
    "model": "tiny",
    "data": "sample",
    "by": "modality",
    "train_subsets": ["ct", "MRI"],  # an alias is fine
    "test_subsets": ["ct", "mri"],
    "variants": ["think"],
    "methods": {
        "zero_shot": {},
        "sft": {"report_to": "none", "sft": {"max_steps": 2}},
        "grpo": {"report_to": "none", "rewards": ["format", "accuracy"],
                 "grpo": {"max_steps": 1, "max_completion_length": 8, "num_generations": 4,
                          "per_device_train_batch_size": 8}},
    },
    "eval": {"limit": 3, "max_new_tokens": 8, "batch_size": 8},
}


def write(tmp_path: Path, spec: dict, name: str = "grid.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_dry_run_lists_the_cells_without_running_anything(tmp_path, capsys):
    from medr1_core.cli import main

    path = write(tmp_path, {**GRID, "variants": ["think", "nothink"]})
    out = tmp_path / "exp"
    assert main(["experiment", str(path), "--dry-run", "-o", str(out)]) == 0
    stdout = capsys.readouterr().out
    lines = [line.split() for line in stdout.splitlines()[3:]]
    assert [line[1] for line in lines] == [
        "zero_shot-think", "zero_shot-nothink", "sft-think-ct", "sft-think-mri", "sft-nothink-ct",
        "sft-nothink-mri", "grpo-think-ct", "grpo-think-mri", "grpo-nothink-ct", "grpo-nothink-mri"]
    assert [line[0] for line in lines] == [str(i) for i in range(10)]
    assert all(line[5:7] == ["to", "run"] for line in lines)
    assert "each tested on: ct, mri" in stdout and not out.exists()


@pytest.mark.parametrize("change, message", [
    ({"methods": {"dpo": {}}}, "methods.dpo"),
    ({"methods": {"grpo": {"variant": "nothink"}}}, "grpo.variant: set by the experiment from variants:"),
    ({"methods": {"grpo": {"grpo": {"betaa": 0.1}}}}, "cell grpo-think-ct (methods.grpo)"),
    ({"methods": {"sft": {"sft": {"learning_rate": -1}}}}, "sft.learning_rate"),
    ({"train_subsets": ["petscan"]}, "unknown modality 'petscan'"),
    ({"eval": {"limit": 0}}, "eval.limit"),
    ({"variant": "think"}, "variant: unknown field"),
])
def test_a_bad_experiment_fails_before_any_cell_runs_and_names_the_field(tmp_path, capsys, change, message):
    from medr1_core.cli import main

    path = write(tmp_path, {**GRID, **change})
    code = main(["experiment", str(path), "-o", str(tmp_path / "exp")])  # in this process: no model is loaded
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert "Traceback" not in err and not (tmp_path / "exp").exists()


@pytest.mark.slow
def test_a_two_by_two_grid_runs_writes_the_tables_and_a_second_run_does_nothing_new(tmp_path):
    path = write(tmp_path, GRID)
    out = tmp_path / "exp"
    one = run_cli("experiment", str(path), "-o", str(out), "--cell", "0")  # as one task of a SLURM array would
    assert "cell 0 zero_shot-think: evaluating" in one.stderr and "cell 1" not in one.stderr
    assert [p.name for p in (out / "cells").iterdir()] == ["zero_shot-think.json"]
    assert not (out / "experiment.json").exists()  # the tables are the final run's
    proc = run_cli("experiment", str(path), "-o", str(out))
    assert "cell 0 zero_shot-think: finished earlier, skipped" in proc.stderr
    assert proc.stderr.count("training, then evaluating") == 4 and "failed" not in proc.stderr

    doc = json.loads((out / "experiment.json").read_text())
    assert [c["id"] for c in doc["cells"]] == ["zero_shot-think", "sft-think-ct", "sft-think-mri", "grpo-think-ct",
                                               "grpo-think-mri"]
    assert all(c["status"] == "done" for c in doc["cells"])
    for c in doc["cells"]:
        for test, folder in c["eval_dirs"].items():
            results = json.loads((out / folder / "results.json").read_text())
            assert results["overall"]["n"] == 3 and set(results["by_modality"]) == {test}
        if c["run_dir"]:
            assert (out / c["run_dir"] / "final" / "config.json").is_file()
    tables = doc["tables"]
    # accuracy of each trained cell on each test subset, with a 95% interval; improvement over zero-shot, paired
    assert {(r["method"], r["train"], r["test"]) for r in tables["accuracy"] if r["method"] != "zero_shot"} == {
        (m, tr, te) for m in ("sft", "grpo") for tr in ("ct", "mri") for te in ("ct", "mri")}
    assert all(r["n"] == 3 and len(r["ci95"]) == 2 for r in tables["accuracy"])
    assert len(tables["improvement"]) == 8 and all(0 <= r["p_value"] <= 1 for r in tables["improvement"])
    domain = {r["method"]: r for r in tables["in_domain_vs_out_of_domain"]}
    assert set(domain) == {"sft", "grpo"} and domain["sft"]["in_domain_cells"] == 2
    assert domain["sft"]["out_of_domain_cells"] == 2
    assert {(r["train"], r["a"], r["b"]) for r in tables["methods"]} == {("ct", "sft", "grpo"), ("mri", "sft", "grpo")}
    assert all(r["n"] == 6 for r in tables["methods"])  # both test subsets, the same questions
    for figure in doc["figures"].values():
        assert (out / figure).stat().st_size > 1000
    assert len(doc["figures"]) == 4  # sft and grpo: accuracy (zero-shot its base row) and improvement heatmaps
    summary = (out / "summary.md").read_text()
    assert "## sft, think" in summary and "Improvement over zero_shot" in summary
    assert "## In-domain vs out-of-domain" in summary and "## Method vs method" in summary
    assert "| ct | " in summary and summary in proc.stdout
    page = (out / "report.html").read_text()
    assert "sft · think" in page and page.count("data:image/png;base64,") == 4

    predictions = sorted(out.glob("evals/*/*/predictions.jsonl"))
    stamps = [p.stat().st_mtime_ns for p in predictions]
    again = run_cli("experiment", str(path), "-o", str(out))
    assert again.stderr.count("finished earlier, skipped") == 5 and "training" not in again.stderr
    assert "ran 0 cell(s), 5 finished earlier" in again.stdout
    assert [p.stat().st_mtime_ns for p in predictions] == stamps
    assert (out / "summary.md").read_text() == summary

    changed = write(tmp_path, {**GRID, "eval": {**GRID["eval"], "limit": 4}})
    refused = run_cli("experiment", str(changed), "-o", str(out), check=False)
    assert refused.returncode == 2 and "finished with other settings" in refused.stderr


@pytest.mark.parametrize("name, by, cells", [("med_r1_cross_modality", "modality", 17), ("med_r1_cross_task", "task", 11)])
def test_the_published_set_ups_validate_into_their_cells(tmp_path, name, by, cells):
    """Med-R1's set-ups: every cell's run configuration validates (against TRL's own configs), all eight
    modalities (five tasks) as training and test subsets; the data itself is not here, so the subsets are named."""
    from medr1_core.experiment import plan, read_experiment
    from medr1_core.plugins import get_plugins

    spec = read_experiment(Path(__file__).parents[1] / "examples" / "experiments" / f"{name}.yaml")
    assert spec.by == by and spec.prompt_set == "med-r1" and spec.model == "Qwen/Qwen2-VL-2B-Instruct"
    plugins = get_plugins()
    names = (plugins.modalities if by == "modality" else plugins.tasks).names()[: 8 if by == "modality" else 5]
    spec = spec.model_copy(update={"train_subsets": names, "test_subsets": names})
    planned = plan(spec, tmp_path, plugins=plugins)
    assert len(planned) == cells
    sft = next(c for c in planned if c.method == "sft").config
    assert (sft.sft.learning_rate, sft.sft.lr_scheduler_type, sft.sft.warmup_steps) == (2e-5, "cosine", 0.1)
    grpo = next(c for c in planned if c.method == "grpo").config
    assert (grpo.grpo.num_generations, grpo.grpo.learning_rate, grpo.grpo.beta) == (4, 1e-6, 0.04)
