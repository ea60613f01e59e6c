"""Running an experiment's cells (train, then evaluate on every test subset) and writing its tables.

::

    experiments/<name>/
      experiment.json      the cells, the tables, the figures (what ``medr1 report`` renders)
      summary.md           the tables in markdown
      report.html          the experiment's report
      cells/<id>.json      written when a cell has finished: what it was run with
      runs/<id>/           each trained cell's run directory (medr1 train / medr1 sft)
      evals/<id>/<test>/   each cell's evaluation on each test subset (medr1 eval)
      matrices/<method>-<variant>/  matrix.json, matrix.md, matrix.png, improvement.png

A cell is finished once ``cells/<id>.json`` says so with the settings it has
now: a second run skips it. A cell cut off mid-way continues: its training
resumes from its last checkpoint and its evaluations skip the questions
already answered. A cell whose settings changed since it finished is refused
(run the experiment into another folder, or remove the cell's files).
"""

from __future__ import annotations

import json
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Medr1Error, RunDirError, RunFailed
from ..report.experiment import EXPERIMENT_JSON, SUMMARY_MD
from ..train import run_dir as rd
from .spec import Cell, ExperimentSpec, plan
from .tables import build_tables, summary_markdown, write_figures

CELLS_DIR = "cells"


@dataclass
class ExperimentRun:
    """What :func:`run_experiment` did."""

    root: Path
    cells: list[Cell]
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)


def experiment_root(spec: ExperimentSpec, source: Path, output_dir: str | None = None) -> Path:
    """The experiment's folder: ``--output-dir``, else ``output_dir:``, else ``experiments/<name>``
    (the name defaults to the file's)."""
    chosen = output_dir or spec.output_dir
    return Path(chosen) if chosen else Path("experiments") / (spec.name or source.stem)


def run_dir_of(root: Path, cell: Cell) -> Path | None:
    return root / "runs" / cell.id if cell.method != "zero_shot" else None


def eval_dir_of(root: Path, cell: Cell, test: str) -> Path:
    return root / "evals" / cell.id / test


def marker_of(root: Path, cell: Cell) -> Path:
    return root / CELLS_DIR / f"{cell.id}.json"


def cell_status(root: Path, cell: Cell) -> str:
    """``done``, ``changed`` (finished with other settings), ``started`` or ``to run``."""
    marker = marker_of(root, cell)
    if marker.is_file():
        try:
            digest = json.loads(marker.read_text()).get("digest")
        except (ValueError, OSError, AttributeError):
            digest = None
        return "done" if digest == cell.digest else "changed"
    started = (run_dir_of(root, cell) or Path("/nonexistent")).exists() or (root / "evals" / cell.id).exists()
    return "started" if started else "to run"


def _train(root: Path, cell: Cell, say: Callable[[str], None], verbose: bool) -> None:
    from ..train.engine import train

    run = run_dir_of(root, cell)
    if rd.finished(run) is not None:
        return
    resume = (run / rd.CONFIG).is_file()
    if resume and rd.latest_complete_checkpoint(run) is None:
        with rd.locked(run, "medr1 experiment"):  # no other process is in it: start it again
            say(f"   {run} was cut off before its first checkpoint: training it again from the start")
        shutil.rmtree(run)
        resume = False
    summary = train(cell.config.model_copy(deep=True), resume=resume, verbose=verbose)
    if summary:
        from ..report.console import train_summary

        say(train_summary(summary))


def _evaluate(spec: ExperimentSpec, root: Path, cell: Cell, test: str, verbose: bool):
    from ..data.selection import Selection
    from ..eval.generation import SamplingSettings
    from ..eval.run import evaluate

    e = spec.eval
    names = cell.tests[test]
    selection = Selection(format=spec.test_format or spec.format, image_root=spec.test_image_root or (
        spec.image_root if not spec.test_data else None), limit=e.limit,
        **({"modalities": names} if spec.by == "modality" else {"tasks": names}))
    sampling = SamplingSettings(max_new_tokens=e.max_new_tokens, do_sample=e.do_sample, temperature=e.temperature,
                                top_p=e.top_p, seed=e.seed)
    model = str(run_dir_of(root, cell)) if cell.config is not None else spec.model
    return evaluate(model, spec.test_data or spec.data, eval_dir_of(root, cell, test), selection=selection,
                    sampling=sampling, variant=cell.variant, prompt_set=spec.prompt_set, batch_size=e.batch_size,
                    backend=e.backend, device=e.device, dtype=e.dtype,
                    accuracy_params={"open_metric": e.open_metric} if e.open_metric else None, progress=True)


def run_cell(spec: ExperimentSpec, root: Path, cell: Cell, *, say: Callable[[str], None] = print,
             verbose: bool = False) -> None:
    """Train ``cell`` (resuming a cut-off run) and evaluate it on every test subset; then mark it finished."""
    if cell.config is not None:
        _train(root, cell, say, verbose)
    for test in cell.tests:
        report = _evaluate(spec, root, cell, test, verbose)
        o = report.results["overall"]
        acc = "n/a" if o["accuracy"] is None else f"{100 * o['accuracy']:.1f}%"
        say(f"   tested on {test}: accuracy {acc} of {o['n']} (answered now {report.generated})")
        for message in report.messages:
            say(f"   medr1: warning: {message}")
    marker = marker_of(root, cell)
    marker.parent.mkdir(parents=True, exist_ok=True)
    rd.write_atomic(marker, json.dumps({"id": cell.id, "digest": cell.digest, "finished": time.time()}) + "\n")


def check_unchanged(root: Path, cells: list[Cell]) -> None:
    """Refuse to go on when a finished cell's settings changed since it ran (its results would be stale)."""
    changed = [c.id for c in cells if cell_status(root, c) == "changed"]
    if changed:
        raise RunDirError(
            f"{root}: cell(s) {', '.join(changed)} finished with other settings than the experiment has now; "
            f"run it into another folder (--output-dir), or remove {root / CELLS_DIR}/<id>.json and the cell's "
            "runs/ and evals/ folders to run them again"
        )


def run_experiment(spec: ExperimentSpec, source: Path, *, output_dir: str | None = None, cell: int | None = None,
                   say: Callable[[str], None] = print, verbose: bool = False) -> ExperimentRun:
    """Run the experiment's cells one after another (or only cell number ``cell``), skipping finished ones;
    without ``cell``, then write the tables, heatmaps, summary and report. A failing cell does not stop the
    others; the run raises :class:`~medr1_core.errors.RunFailed` at the end, naming it."""
    root = experiment_root(spec, source, output_dir)
    cells = plan(spec, root, source=str(source))
    if cell is not None and not 0 <= cell < len(cells):
        raise RunDirError(f"--cell {cell}: the experiment has cells 0 to {len(cells) - 1} (see --dry-run)")
    rd.claim_run_dir(root, "experiment")
    check_unchanged(root, cells)
    result = ExperimentRun(root, cells)
    for c in cells if cell is None else [cells[cell]]:
        if cell_status(root, c) == "done":
            result.skipped.append(c.id)
            say(f"== cell {c.index} {c.id}: finished earlier, skipped")
            continue
        say(f"== cell {c.index} {c.id}: " + ("evaluating" if c.config is None else "training, then evaluating"))
        try:
            run_cell(spec, root, c, say=say, verbose=verbose)
            result.ran.append(c.id)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Medr1Error as exc:
            result.failed[c.id] = str(exc)
            say(f"   cell {c.id} failed: {exc}")
        except Exception as exc:  # noqa: BLE001 - one cell's crash never loses the others
            result.failed[c.id] = f"{type(exc).__name__}: {exc}"
            say(f"   cell {c.id} failed:\n{traceback.format_exc()}")
    if cell is None:
        with rd.locked(root, "medr1 experiment"):
            result.paths = write_outputs(spec, root, cells, name=spec.name or source.stem)
    if result.failed:
        raise RunFailed(f"{len(result.failed)} cell(s) failed: "
                        + "; ".join(f"{k}: {v.splitlines()[0]}" for k, v in result.failed.items())
                        + " (run the experiment again to retry them; finished cells are skipped)")
    return result


def _cell_predictions(root: Path, cell: Cell) -> dict[str, list[dict[str, Any]]]:
    from ..eval.predictions import PREDICTIONS_FILE, read_predictions

    return {test: read_predictions(eval_dir_of(root, cell, test) / PREDICTIONS_FILE).records for test in cell.tests}


def write_outputs(spec: ExperimentSpec, root: Path, cells: list[Cell], *, name: str) -> dict[str, Path]:
    """``experiment.json``, ``summary.md``, the heatmaps and ``report.html`` from the finished cells."""
    from ..report.experiment import write_experiment_report

    done = [c for c in cells if cell_status(root, c) == "done"]
    predictions = {c.id: _cell_predictions(root, c) for c in done}
    tests = cells[0].tests if cells else {}
    tables = build_tables(cells, predictions, by=spec.by, tests=tests, alpha=spec.alpha)
    figures = write_figures(root, tables["matrices"])
    missing = [c.id for c in cells if c not in done]
    header = [f"- model: `{spec.model}`; training data: `{spec.data}`; test data: `{spec.test_data or spec.data}`",
              f"- by {spec.by}; prompt set `{spec.prompt_set}`; cells finished: {len(done)} of {len(cells)}"
              + (f" (not yet: {', '.join(missing)})" if missing else "")]
    summary = summary_markdown(name, header, tables, spec.alpha)
    rd.write_atomic(root / SUMMARY_MD, summary + "\n")
    document = {
        "name": name,
        "spec": spec.model_dump(mode="json"),
        "by": spec.by,
        "cells": [{"id": c.id, "index": c.index, "method": c.method, "variant": c.variant,
                   "train_subset": list(c.train_subset) if c.train_subset and len(c.train_subset) > 1
                   else c.train_label,
                   "run_dir": str(run_dir_of(Path("."), c)) if c.config is not None else None,
                   "eval_dirs": {t: str(eval_dir_of(Path("."), c, t)) for t in c.tests},
                   "status": cell_status(root, c)} for c in cells],
        "tables": {k: v for k, v in tables.items() if k != "matrices"},
        "matrices": {k: f"matrices/{k}/matrix.json" for k in tables["matrices"]},
        "figures": figures,
    }
    rd.write_atomic(root / EXPERIMENT_JSON, json.dumps(document, indent=2, default=str) + "\n")
    return {"experiment": root / EXPERIMENT_JSON, "summary": root / SUMMARY_MD,
            "report": write_experiment_report(root)}
