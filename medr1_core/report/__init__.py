"""Looking at runs: the console, plots, and one self-contained HTML report per directory.

- :mod:`.console`: the progress bar's figures and the end-of-run tables;
- :mod:`.plots`: reward curves, accuracy heatmaps, the generalization matrix (PNG);
- :func:`write_report`: ``report.html`` of a training run, an evaluation or an
  experiment directory (:mod:`.training`, :mod:`.evaluation`,
  :mod:`.experiment`), built from :mod:`.page`, :mod:`.charts`, :mod:`.items`
  and :mod:`.thumbnails`; what ``medr1 report DIR`` writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UsageError

#: The report's file name in every kind of directory.
REPORT_FILE = "report.html"


class ReportError(UsageError):
    """A directory that is not a run, an evaluation or an experiment medr1 can report on."""


def read_json_object(path: str | Path) -> dict[str, Any]:
    """The JSON object in ``path``; ``{}`` when it is missing or not a JSON object (a report shows
    what there is)."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def directory_kind(directory: str | Path) -> str:
    """``"experiment"``, ``"eval"`` or ``"run"``: what ``directory`` holds, by the files medr1 writes there."""
    from ..eval.predictions import PREDICTIONS_FILE
    from ..eval.results import RESULTS_JSON
    from ..train import run_dir as rd
    from .experiment import EXPERIMENT_JSON

    d = Path(directory)
    if not d.is_dir():
        raise ReportError(f"{d}: no such directory")
    if (d / EXPERIMENT_JSON).is_file():
        return "experiment"
    if (d / RESULTS_JSON).is_file() or (d / PREDICTIONS_FILE).is_file():
        return "eval"
    if (d / rd.CONFIG).is_file() or (d / rd.METRICS).is_file():
        return "run"
    raise ReportError(
        f"{d}: not a medr1 run (config.yaml, metrics.jsonl), evaluation (results.json, predictions.jsonl) "
        f"or experiment ({EXPERIMENT_JSON}) directory"
    )


def write_report(directory: str | Path, output: str | Path | None = None, *, max_items: int | None = None) -> Path:
    """Write ``directory``'s ``report.html`` (or ``output``) for what it holds; returns the path.

    ``max_items`` caps the completions (run) or questions (evaluation) the
    page lists; the page says when it shows fewer than there are.
    """
    kind = directory_kind(directory)
    limit = {} if max_items is None else {"max_items": max_items}
    if kind == "experiment":
        from .experiment import write_experiment_report

        return write_experiment_report(directory, output)
    if kind == "eval":
        from .evaluation import write_eval_report

        return write_eval_report(directory, output, **limit)
    from .training import write_run_report

    return write_run_report(directory, output, **limit)
