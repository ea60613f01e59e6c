"""Evaluation: accuracy by modality and task, with honest uncertainty.

Three layers, each usable on its own:

- **metrics** (pure Python, no model): :func:`wilson_interval`,
  :func:`accuracy_cell`, :func:`summarize` (accuracy per modality, per task,
  per modality x task and overall, with 95% Wilson intervals, counts and the
  parse-failure rate) and the paired comparison of two runs on shared
  question ids, :func:`mcnemar_exact` / :func:`compare_predictions`;
- **predictions files**: ``predictions.jsonl`` is the record of a run, one
  line per question, appended as batches finish so a run can resume
  (:func:`read_predictions` tolerates a half-written last line);
- **running** an evaluation (:func:`evaluate`) and the generalization matrix
  (:func:`generalization_matrix`), which load a model and generate; torch and
  transformers are imported only there.

"Correct" means exactly what the ``accuracy`` reward says (score 1.0): the
evaluation scores each completion with that reward, so training and
evaluation never disagree about an answer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: z for a two-sided 95% interval.
Z95 = 1.959963984540054

#: Label used for questions whose modality or task is not known.
UNKNOWN = "unknown"

PREDICTIONS_FILE = "predictions.jsonl"
RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
HEATMAP_PNG = "heatmap.png"
EVAL_CONFIG = "eval_config.json"


# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------


def wilson_interval(correct: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion ``correct / n`` (``None`` when ``n == 0``).

    Unlike the normal ("Wald") interval it stays inside [0, 1] and is sensible
    for small cells and accuracies near 0 or 1, which per modality x task
    cells often are.

    >>> [round(x, 4) for x in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    """
    if n < 0 or correct < 0 or correct > n:
        raise ValueError(f"wilson_interval: need 0 <= correct <= n, got correct={correct}, n={n}")
    if n == 0:
        return None
    p = correct / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Cell:
    """Accuracy of one group of questions: counts, proportion and 95% interval."""

    n: int
    correct: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n if self.n else None

    @property
    def ci95(self) -> tuple[float, float] | None:
        return wilson_interval(self.correct, self.n)

    def to_dict(self) -> dict[str, Any]:
        ci = self.ci95
        return {
            "n": self.n,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "ci95": list(ci) if ci else None,
        }


def accuracy_cell(correct_flags: Iterable[bool]) -> Cell:
    """The :class:`Cell` of a sequence of correct/incorrect flags."""
    flags = list(correct_flags)
    return Cell(n=len(flags), correct=sum(1 for f in flags if f))


def _label(value: Any) -> str:
    return str(value) if value else UNKNOWN


def _ordered(names: Iterable[str], order: Sequence[str] | None) -> list[str]:
    """``names`` in ``order`` first (registry order), then the rest sorted."""
    names = set(names)
    first = [n for n in (order or ()) if n in names]
    return first + sorted(names - set(first))


def is_parse_failure(prediction: Mapping[str, Any]) -> bool:
    """A prediction whose completion commits to no answer (no answer block, or several that disagree)."""
    return prediction.get("answer") is None


def summarize(
    predictions: Iterable[Mapping[str, Any]],
    *,
    modality_order: Sequence[str] | None = None,
    task_order: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Accuracy tables of a list of predictions (dicts as in ``predictions.jsonl``).

    Each prediction needs ``modality``, ``task``, ``correct`` (bool), and
    ``answer`` (the committed answer text or ``None``) and ``well_formed`` for
    the failure rates. Returns a JSON-ready dict::

        {"overall": cell, "by_modality": {m: cell}, "by_task": {t: cell},
         "by_modality_task": {m: {t: cell}}, "parse_failures": k,
         "parse_failure_rate": r, "malformed": k, "malformed_rate": r}

    where a cell is ``{"n", "correct", "accuracy", "ci95": [lo, hi]}``.
    A *parse failure* is a completion with no committed answer (none, or
    several disagreeing answer blocks); it is scored wrong. *Malformed* is
    the looser count of completions whose tags do not follow the prompt
    variant's structure (some of them still commit to an answer).
    """
    preds = list(predictions)
    by_m: dict[str, list[bool]] = {}
    by_t: dict[str, list[bool]] = {}
    by_mt: dict[tuple[str, str], list[bool]] = {}
    for p in preds:
        m, t, ok = _label(p.get("modality")), _label(p.get("task")), bool(p.get("correct"))
        by_m.setdefault(m, []).append(ok)
        by_t.setdefault(t, []).append(ok)
        by_mt.setdefault((m, t), []).append(ok)
    modalities = _ordered(by_m, modality_order)
    tasks = _ordered(by_t, task_order)
    n = len(preds)
    parse_failures = sum(1 for p in preds if is_parse_failure(p))
    malformed = sum(1 for p in preds if not p.get("well_formed", False))
    return {
        "overall": accuracy_cell(bool(p.get("correct")) for p in preds).to_dict(),
        "by_modality": {m: accuracy_cell(by_m[m]).to_dict() for m in modalities},
        "by_task": {t: accuracy_cell(by_t[t]).to_dict() for t in tasks},
        "by_modality_task": {
            m: {t: accuracy_cell(by_mt[(m, t)]).to_dict() for t in tasks if (m, t) in by_mt} for m in modalities
        },
        "parse_failures": parse_failures,
        "parse_failure_rate": parse_failures / n if n else None,
        "malformed": malformed,
        "malformed_rate": malformed / n if n else None,
    }


# ---------------------------------------------------------------------------
# Paired comparison
# ---------------------------------------------------------------------------


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts.

    ``b``: questions model A got right and B wrong; ``c``: the reverse. Under
    the null hypothesis (equal accuracy) each discordant question is a fair
    coin, so the p-value is the two-sided binomial test of ``b`` out of
    ``b + c`` at 0.5. Concordant questions carry no information.

    >>> round(mcnemar_exact(1, 9), 6)   # 2 * (1 + 10) / 2**10
    0.021484
    """
    if b < 0 or c < 0:
        raise ValueError(f"mcnemar_exact: counts must be >= 0, got b={b}, c={c}")
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


@dataclass(frozen=True)
class PairedCell:
    """Two runs compared on the questions of one cell that both answered."""

    n: int
    correct_a: int
    correct_b: int
    a_only: int
    """Questions A got right and B got wrong."""
    b_only: int
    """Questions B got right and A got wrong."""
    alpha: float = 0.05

    @property
    def p_value(self) -> float:
        return mcnemar_exact(self.a_only, self.b_only)

    def to_dict(self) -> dict[str, Any]:
        acc_a = self.correct_a / self.n if self.n else None
        acc_b = self.correct_b / self.n if self.n else None
        p = self.p_value
        return {
            "n": self.n,
            "accuracy_a": acc_a,
            "accuracy_b": acc_b,
            "difference": (acc_b - acc_a) if self.n else None,
            "a_only": self.a_only,
            "b_only": self.b_only,
            "p_value": p,
            "significant": bool(self.n) and p < self.alpha,
        }


def paired_cell(pairs: Iterable[tuple[bool, bool]], alpha: float = 0.05) -> PairedCell:
    """The :class:`PairedCell` of ``(a_correct, b_correct)`` pairs."""
    n = ca = cb = a_only = b_only = 0
    for a, b in pairs:
        n += 1
        ca += a
        cb += b
        a_only += a and not b
        b_only += b and not a
    return PairedCell(n, ca, cb, a_only, b_only, alpha)


def compare_predictions(
    a: Iterable[Mapping[str, Any]],
    b: Iterable[Mapping[str, Any]],
    *,
    alpha: float = 0.05,
    modality_order: Sequence[str] | None = None,
    task_order: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Per-cell differences between two runs, on the question ids both answered.

    ``difference`` is B minus A. Each cell carries the exact McNemar p-value
    of the paired correct/incorrect outcomes and ``significant`` (p < alpha).
    The flag is per cell, uncorrected: with many cells some will be flagged
    by chance; ``p_holm`` gives Holm-adjusted p-values over all cells of the
    modality x task table for a family-wise reading.
    """
    index_a: dict[str, Mapping[str, Any]] = {}
    index_b: dict[str, Mapping[str, Any]] = {}
    for index, preds in ((index_a, a), (index_b, b)):
        for p in preds:
            index.setdefault(p["id"], p)  # the first record of an id, as read_predictions keeps
    shared = [i for i in index_a if i in index_b]
    groups: dict[str, dict] = {"overall": [], "by_modality": {}, "by_task": {}, "by_modality_task": {}}
    for i in shared:
        pa, pb = index_a[i], index_b[i]
        pair = (bool(pa.get("correct")), bool(pb.get("correct")))
        m, t = _label(pa.get("modality")), _label(pa.get("task"))
        groups["overall"].append(pair)
        groups["by_modality"].setdefault(m, []).append(pair)
        groups["by_task"].setdefault(t, []).append(pair)
        groups["by_modality_task"].setdefault(m, {}).setdefault(t, []).append(pair)
    modalities = _ordered(groups["by_modality"], modality_order)
    tasks = _ordered(groups["by_task"], task_order)
    result = {
        "shared": len(shared),
        "only_a": len(index_a) - len(shared),
        "only_b": len(index_b) - len(shared),
        "alpha": alpha,
        "overall": paired_cell(groups["overall"], alpha).to_dict(),
        "by_modality": {m: paired_cell(groups["by_modality"][m], alpha).to_dict() for m in modalities},
        "by_task": {t: paired_cell(groups["by_task"][t], alpha).to_dict() for t in tasks},
        "by_modality_task": {
            m: {
                t: paired_cell(groups["by_modality_task"][m][t], alpha).to_dict()
                for t in tasks
                if t in groups["by_modality_task"][m]
            }
            for m in modalities
        },
    }
    cells = [c for row in result["by_modality_task"].values() for c in row.values()]
    for cell, adjusted in zip(cells, holm_adjust([c["p_value"] for c in cells])):
        cell["p_holm"] = adjusted
    return result


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order.

    >>> holm_adjust([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


# ---------------------------------------------------------------------------
# predictions.jsonl
# ---------------------------------------------------------------------------


@dataclass
class PredictionsFile:
    """What :func:`read_predictions` found in a ``predictions.jsonl``.

    ``records`` holds the first record of each id, in file order. Lines that
    are not JSON objects with an ``id`` are listed in ``bad_lines`` as
    ``(line_number, reason)``; ``partial_tail`` says the last line was cut off
    mid-write (a crash), and ``duplicates`` counts repeated ids (ignored).
    """

    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    partial_tail: bool = False
    duplicates: int = 0

    @property
    def ids(self) -> set[str]:
        return {r["id"] for r in self.records}


def read_predictions(path: str | Path) -> PredictionsFile:
    """Read a ``predictions.jsonl``, tolerating a half-written last line.

    A missing file reads as empty. Nothing bad is dropped silently: every
    unreadable line is reported in :attr:`PredictionsFile.bad_lines`.
    """
    path = Path(path)
    found = PredictionsFile(path)
    if not path.exists():
        return found
    data = path.read_bytes()
    lines = data.split(b"\n")
    seen: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        is_tail = number == len(lines)  # no newline after it: possibly cut off mid-write
        try:
            record = json.loads(raw)
            if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                raise ValueError("expected a JSON object with a string 'id'")
        except ValueError as exc:
            if is_tail:
                found.partial_tail = True
            reason = "partially written line (cut off mid-write)" if is_tail else f"not a prediction: {exc}"
            found.bad_lines.append((number, reason))
            continue
        if record["id"] in seen:
            found.duplicates += 1
            continue
        seen.add(record["id"])
        found.records.append(record)
    return found


def drop_partial_tail(path: str | Path) -> int:
    """Cut a half-written last line off ``path`` so appends start on a fresh line.

    Returns the number of bytes removed (0 when the file ends cleanly).
    """
    path = Path(path)
    if not path.exists():
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    tail = data[keep:]
    try:
        record = json.loads(tail)
        complete = isinstance(record, dict) and isinstance(record.get("id"), str)
    except ValueError:
        complete = False
    with open(path, "r+b") as f:
        if complete:  # a whole record, only its newline missing
            f.seek(0, 2)
            f.write(b"\n")
            return 0
        f.truncate(keep)
    return len(tail)


def append_predictions(path: str | Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Append records to ``predictions.jsonl``, one JSON line each, flushed to disk."""
    with open(path, "a", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        f.flush()


# ---------------------------------------------------------------------------
# Reports: results.json, results.md, heatmap
# ---------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def _ci(cell: Mapping[str, Any]) -> str:
    ci = cell.get("ci95")
    return "n/a" if not ci else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def results_markdown(results: Mapping[str, Any]) -> str:
    """``results.md``: the accuracy tables of a ``results.json`` (percentages, 95% Wilson CIs)."""
    o = results["overall"]
    lines = [
        f"# Evaluation of `{results.get('model', '?')}`",
        "",
        f"- data: `{results.get('data', '?')}`; prompt variant: `{results.get('variant', '?')}`",
        f"- questions: {o['n']}; accuracy {_pct(o['accuracy'])}% (95% CI {_ci(o)})",
    ]
    if results.get("parse_failure_rate") is not None:
        lines.append(
            f"- parse failures (no committed answer, scored wrong): {results['parse_failures']} "
            f"({_pct(results['parse_failure_rate'])}%); malformed tags: {results['malformed']} "
            f"({_pct(results['malformed_rate'])}%)"
        )
    lines += ["", "Accuracy in %, with 95% Wilson intervals.", ""]
    for title, key, label in (("By modality", "by_modality", "modality"), ("By task", "by_task", "task")):
        lines += [f"## {title}", "", f"| {label} | n | correct | accuracy | 95% CI |", "| --- | ---: | ---: | ---: | --- |"]
        for name, cell in results[key].items():
            lines.append(f"| {name} | {cell['n']} | {cell['correct']} | {_pct(cell['accuracy'])} | {_ci(cell)} |")
        lines.append("")
    tasks = list(results["by_task"])
    lines += [
        "## Modality x task",
        "",
        "Accuracy in % (number of questions).",
        "",
        "| modality \\ task | " + " | ".join(tasks) + " | all |",
        "| --- |" + " ---: |" * (len(tasks) + 1),
    ]
    for m, row in results["by_modality_task"].items():
        cells = [
            f"{_pct(row[t]['accuracy'])} ({row[t]['n']})" if t in row else "" for t in tasks
        ]
        total = results["by_modality"][m]
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {_pct(total['accuracy'])} ({total['n']}) |")
    row_all = [f"{_pct(results['by_task'][t]['accuracy'])} ({results['by_task'][t]['n']})" for t in tasks]
    lines.append("| all | " + " | ".join(row_all) + f" | {_pct(o['accuracy'])} ({o['n']}) |")
    return "\n".join(lines) + "\n"


def write_results(output_dir: str | Path, results: Mapping[str, Any], *, plot: bool = True) -> dict[str, Path]:
    """Write ``results.json``, ``results.md`` and (with ``plot``) ``heatmap.png``; return their paths."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / RESULTS_JSON, "md": out / RESULTS_MD}
    paths["json"].write_text(json.dumps(results, indent=2) + "\n")
    paths["md"].write_text(results_markdown(results))
    if plot and results["overall"]["n"]:
        from .plots import plot_modality_task

        paths["heatmap"] = plot_modality_task(results, out / HEATMAP_PNG)
    return paths


# ---------------------------------------------------------------------------
# Running an evaluation
# ---------------------------------------------------------------------------


class EvalError(ValueError):
    """An evaluation that cannot run as asked; the message says why and what to do."""


@dataclass
class EvalReport:
    """What :func:`evaluate` did: the results and how the questions were accounted for."""

    output_dir: Path
    results: dict[str, Any]
    paths: dict[str, Path]
    generated: int = 0
    """Questions answered by this call."""
    resumed: int = 0
    """Selected questions already in ``predictions.jsonl`` (not generated again)."""
    skipped: dict[str, int] = field(default_factory=dict)
    """Questions not evaluated, by reason (bad records, missing or unreadable images, duplicate ids)."""
    messages: list[str] = field(default_factory=list)
    """Warnings worth showing the user (e.g. a partially written line dropped)."""
    predictions: list[dict[str, Any]] = field(default_factory=list, repr=False)
    """The predictions the results were computed from (the selected questions)."""


def _selection_subset(samples: list, limit: int | None, seed: int = 0) -> list:
    """A seeded random subset of ``limit`` samples, kept in data order (the same every run)."""
    if limit is None or limit >= len(samples):
        return samples
    import random

    keep = set(random.Random(seed).sample(range(len(samples)), limit))
    return [s for i, s in enumerate(samples) if i in keep]


def _canonical(registry, names: Sequence[str]) -> list[str]:
    return [registry.get(n).id for n in names]


def _check_eval_config(out: Path, config: dict[str, Any], overwrite: bool) -> None:
    """Refuse to mix predictions of different models/settings in one directory."""
    path = out / EVAL_CONFIG
    preds = out / PREDICTIONS_FILE
    if overwrite:
        for name in (PREDICTIONS_FILE, RESULTS_JSON, RESULTS_MD, HEATMAP_PNG, EVAL_CONFIG):
            (out / name).unlink(missing_ok=True)
    elif path.exists() and preds.exists():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = {}
        def flat(c: Mapping[str, Any]) -> dict[str, Any]:
            return {"model": c.get("model_source"), "variant": c.get("variant"), **(c.get("sampling") or {})}

        before, now = flat(old), flat(config)
        diffs = [f"{k} {before.get(k)!r} there, {v!r} now" for k, v in now.items() if before.get(k) != v]
        if diffs:
            raise EvalError(
                f"{out} holds predictions made with other settings ({'; '.join(diffs)}). "
                "Use another --output-dir, or --overwrite to start again."
            )
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")


def _prediction_record(rollout, score: float | None) -> dict[str, Any]:
    s, c = rollout.sample, rollout.completion
    return {
        "id": s.id,
        "modality": s.modality,
        "task": s.task,
        "dataset": s.dataset,
        "target": s.answer,
        "completion": c.text,
        "answer": c.answer,
        "letter": c.letter,
        "well_formed": c.well_formed,
        "score": score,
        "correct": score is not None and score >= 1.0 - 1e-9,
    }


def _source_label(source: str) -> str:
    path = Path(source)
    return str(path.resolve()) if path.exists() else source


def evaluate(
    model: str,
    data: str,
    output_dir: str | Path,
    *,
    format: str | None = None,
    image_root: str | None = None,
    modalities: Sequence[str] = (),
    tasks: Sequence[str] = (),
    datasets: Sequence[str] = (),
    variant: str | None = None,
    batch_size: int | None = None,
    max_new_tokens: int | None = None,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
    limit: int | None = None,
    backend: str = "transformers",
    device: str | None = None,
    dtype: str | None = None,
    on_missing_image: str = "error",
    overwrite: bool = False,
    progress: bool = True,
    generator=None,
    samples: Sequence | None = None,
    plugins=None,
) -> EvalReport:
    """Evaluate ``model`` on ``data`` and write the run's files into ``output_dir``.

    ``model`` is anything ``--model`` takes (hub id, model directory, ``medr1
    train`` run directory or checkpoint, ``tiny``); ``data`` anything
    ``--data`` takes (a path, or ``sample``). The prompt variant defaults to
    the one the model was trained with, else ``think``. Questions already in
    ``output_dir/predictions.jsonl`` are not generated again (resume);
    ``limit`` keeps a seeded random subset of that many questions (the same
    subset every run). Decoding is greedy unless ``do_sample`` (then
    ``temperature``, ``top_p`` and ``seed`` apply). ``generator`` (anything with
    ``generate(conversations, images) -> texts``) and ``samples`` replace the
    model loading and data loading, for tests and benchmarks.

    Writes ``predictions.jsonl``, ``results.json``, ``results.md``,
    ``heatmap.png`` and ``eval_config.json``; returns an :class:`EvalReport`.
    """
    from .generation import DEFAULT_BATCH_SIZE, DEFAULT_MAX_NEW_TOKENS, SamplingSettings
    from .models import resolve_model
    from .parsing import make_rollouts
    from .plugins import get_plugins
    from .prompts import build_conversation
    from .samples import VARIANTS

    plugins = plugins or get_plugins()
    batch_size = DEFAULT_BATCH_SIZE if batch_size is None else batch_size
    if batch_size < 1:
        raise EvalError(f"--batch-size must be at least 1, got {batch_size}")
    if limit is not None and limit < 1:
        raise EvalError(f"--limit must be at least 1, got {limit}")
    if max_new_tokens is not None and max_new_tokens < 1:
        raise EvalError(f"--max-new-tokens must be at least 1, got {max_new_tokens}")
    settings = SamplingSettings(
        max_new_tokens=max_new_tokens or DEFAULT_MAX_NEW_TOKENS,
        do_sample=do_sample,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
    )
    wanted_modalities = _canonical(plugins.modalities, modalities)
    wanted_tasks = _canonical(plugins.tasks, tasks)

    resolved = resolve_model(model)
    variant = variant or resolved.variant or "think"
    if variant not in VARIANTS:
        raise EvalError(f"unknown prompt variant {variant!r}; expected one of {', '.join(VARIANTS)}")

    out = Path(output_dir)
    skipped: dict[str, int] = {}
    messages: list[str] = []
    if samples is None:
        from .data import load_samples

        loaded = load_samples(
            data,
            format=format,
            modalities=wanted_modalities or None,
            tasks=wanted_tasks or None,
            datasets=list(datasets) or None,
            image_root=image_root,
            plugins=plugins,
        )
        samples = list(loaded.samples)
        if loaded.bad:
            skipped["bad_records"] = len(loaded.bad)
            messages.append(f"{len(loaded.bad)} record(s) of {data} could not be read (see `medr1 data inspect`)")
    else:
        samples = [
            s for s in samples
            if (not wanted_modalities or s.modality in wanted_modalities)
            and (not wanted_tasks or s.task in wanted_tasks)
            and (not datasets or s.dataset in datasets)
        ]

    unique, seen = [], set()
    for s in samples:
        if s.id in seen:
            continue
        seen.add(s.id)
        unique.append(s)
    if len(unique) < len(samples):
        skipped["duplicate_ids"] = len(samples) - len(unique)
        messages.append(f"{len(samples) - len(unique)} question(s) repeat an id already seen; only the first is evaluated")
    selected = _selection_subset(unique, limit)
    if selected:
        from .data import check_images

        checked = check_images(selected, image_root, on_missing=on_missing_image)
        if checked.skipped:
            skipped["missing_images"] = checked.skipped
            messages.append(f"{checked.skipped} question(s) skipped: image file(s) missing")
        selected = checked.samples
    if not selected:
        raise EvalError(f"no questions to evaluate in --data {data} after filtering")

    _check_eval_config(
        out,
        {
            "model": model,
            "model_source": _source_label(resolved.source),
            "variant": variant,
            "sampling": settings.to_dict(),
            "backend": backend,
        },
        overwrite,
    )
    preds_path = out / PREDICTIONS_FILE
    existing = read_predictions(preds_path)
    for number, reason in existing.bad_lines:
        messages.append(f"{preds_path}:{number}: {reason}; that question will be answered again")
    drop_partial_tail(preds_path)
    done = existing.ids
    todo = [s for s in selected if s.id not in done]
    resumed = len(selected) - len(todo)

    generated = 0
    if todo:
        if generator is None:
            from .generation import make_generator

            max_images = max((len(s.images) for s in todo), default=1)
            generator = make_generator(
                resolved.source, backend=backend, settings=settings, device=device, dtype=dtype,
                max_images_per_prompt=max_images,
            )
        from .images import ImageError

        accuracy = plugins.rewards.get("accuracy")()
        image_failures = 0
        bar = _progress(len(selected), resumed, enabled=progress)
        try:
            for start in range(0, len(todo), batch_size):
                batch, convs, images = [], [], []
                for s in todo[start : start + batch_size]:
                    try:
                        pics = _sample_images(s, plugins, image_root)
                    except ImageError as exc:  # one unreadable image never kills a run
                        image_failures += 1
                        if image_failures <= 20:
                            messages.append(f"question {s.id} skipped: image {exc}")
                        continue
                    task_spec = plugins.tasks.get(s.task) if s.task in plugins.tasks else None
                    batch.append(s)
                    convs.append(build_conversation(s, task_spec, variant))
                    images.append(pics)
                if batch:
                    texts = generator.generate(convs, images)
                    rollouts = make_rollouts(batch, texts, variant)
                    scores = accuracy.score(rollouts)
                    append_predictions(preds_path, [_prediction_record(r, sc) for r, sc in zip(rollouts, scores)])
                    generated += len(batch)
                bar.update(len(todo[start : start + batch_size]))
        finally:
            bar.close()
        if image_failures:
            skipped["unreadable_images"] = image_failures

    selected_ids = {s.id for s in selected}
    predictions = [p for p in read_predictions(preds_path).records if p["id"] in selected_ids]
    results = {
        "model": model,
        "model_source": _source_label(resolved.source),
        "data": data,
        "format": format,
        "variant": variant,
        "backend": backend,
        "sampling": settings.to_dict(),
        "filters": {"modality": wanted_modalities, "task": wanted_tasks, "dataset": list(datasets), "limit": limit},
        **summarize(
            predictions,
            modality_order=plugins.modalities.names(),
            task_order=plugins.tasks.names(),
        ),
        "counts": {
            "selected": len(selected),
            "evaluated": len(predictions),
            "generated_now": generated,
            "resumed": resumed,
            "skipped": skipped,
        },
    }
    paths = write_results(out, results)
    paths["predictions"] = preds_path
    return EvalReport(out, results, paths, generated, resumed, skipped, messages, predictions)


def _sample_images(sample, plugins, image_root: str | None) -> list:
    """The sample's images, opened and prepared for its modality exactly as for training."""
    from .data import image_path
    from .images import DEFAULT_MODALITY, open_image

    modality = plugins.modalities.get(sample.modality) if sample.modality in plugins.modalities else DEFAULT_MODALITY
    return [open_image(image_path(sample, p, image_root), modality) for p in sample.images]


def _progress(total: int, initial: int, *, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="q", desc="eval", disable=not enabled, dynamic_ncols=True)


# ---------------------------------------------------------------------------
# The generalization matrix
# ---------------------------------------------------------------------------

MATRIX_JSON = "matrix.json"
MATRIX_MD = "matrix.md"
MATRIX_PNG = "matrix.png"
IMPROVEMENT_PNG = "improvement.png"
BY = ("modality", "task")


def build_matrix(
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    by: str = "modality",
    base: Sequence[Mapping[str, Any]] | None = None,
    base_name: str = "base",
    alpha: float = 0.05,
    column_order: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The generalization matrix of several models' predictions.

    ``rows`` maps a model's name (what it was trained on: ``"ct"``) to its
    predictions; columns are what the questions are (their modality, or task
    with ``by="task"``). Each cell is an accuracy cell with a 95% Wilson
    interval. With ``base`` predictions, ``improvement[row][column]`` is the
    paired comparison of the model against the base on shared question ids
    (``difference`` = model minus base, exact McNemar ``p_value``,
    ``significant``). Returns the JSON-ready ``matrix.json`` dict.
    """
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}, got {by!r}")
    if not rows:
        raise ValueError("build_matrix: no models")
    if base is not None and base_name in rows:
        raise ValueError(f"build_matrix: the base model's name {base_name!r} is also a row name")
    key = by
    found = {_label(p.get(key)) for preds in [*rows.values(), base or []] for p in preds}
    columns = _ordered(found, column_order)

    def cells(preds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        groups: dict[str, list[bool]] = {}
        for p in preds:
            groups.setdefault(_label(p.get(key)), []).append(bool(p.get("correct")))
        return {c: accuracy_cell(groups[c]).to_dict() for c in columns if c in groups}

    matrix: dict[str, Any] = {
        "by": by,
        "rows": list(rows),
        "columns": columns,
        "accuracy": {name: cells(preds) for name, preds in rows.items()},
        "overall": {name: accuracy_cell(bool(p.get("correct")) for p in preds).to_dict() for name, preds in rows.items()},
        "alpha": alpha,
        "base_name": base_name if base is not None else None,
        "base": None,
        "base_overall": None,
        "improvement": None,
        "improvement_overall": None,
    }
    if base is not None:
        matrix["base"] = cells(base)
        matrix["base_overall"] = accuracy_cell(bool(p.get("correct")) for p in base).to_dict()
        matrix["improvement"], matrix["improvement_overall"] = {}, {}
        for name, preds in rows.items():
            paired = compare_predictions(
                [{**p, "modality": p.get(key)} for p in base],
                [{**p, "modality": p.get(key)} for p in preds],
                alpha=alpha,
                modality_order=columns,
            )
            matrix["improvement"][name] = paired["by_modality"]
            matrix["improvement_overall"][name] = paired["overall"]
    return matrix


def matrix_markdown(matrix: Mapping[str, Any]) -> str:
    """``matrix.md``: accuracy (with 95% CIs) per model x tested-on column, and the improvement table."""
    by, cols, rows = matrix["by"], matrix["columns"], matrix["rows"]

    def cell_text(cell: Mapping[str, Any] | None, bold: bool = False) -> str:
        if not cell or not cell.get("n"):
            return ""
        text = f"{_pct(cell['accuracy'])} {_ci(cell)}"
        return f"**{text}**" if bold else text

    lines = [
        f"# Cross-{by} generalization",
        "",
        f"Accuracy in % [95% Wilson interval]. Rows: the model (what it was trained on); columns: the {by} "
        "of the test questions. **Bold**: in-domain (row name = column).",
        "",
        f"| model \\ tested on | " + " | ".join(cols) + " | all |",
        "| --- |" + " ---: |" * (len(cols) + 1),
    ]
    for r in rows:
        cells = [cell_text(matrix["accuracy"][r].get(c), bold=(r == c)) for c in cols]
        lines.append(f"| {r} | " + " | ".join(cells) + f" | {cell_text(matrix['overall'][r])} |")
    if matrix.get("base") is not None:
        cells = [cell_text(matrix["base"].get(c)) for c in cols]
        name = matrix["base_name"]
        lines.append(f"| {name if name == 'base' else name + ' (base)'} | " + " | ".join(cells) + f" | {cell_text(matrix['base_overall'])} |")
    counts = []
    for c in cols:
        ns = {matrix["accuracy"][r][c]["n"] for r in rows if c in matrix["accuracy"][r]}
        counts.append("/".join(str(n) for n in sorted(ns)))
    ns_all = {matrix["overall"][r]["n"] for r in rows}
    lines.append("| n (questions) | " + " | ".join(counts) + " | " + "/".join(str(n) for n in sorted(ns_all)) + " |")
    if matrix.get("improvement"):
        lines += [
            "",
            f"## Improvement over {matrix['base_name']}",
            "",
            f"Accuracy difference, model minus {matrix['base_name']}, in percentage points, on the questions both "
            f"answered. `*`: exact McNemar p < {matrix['alpha']} (per cell, uncorrected).",
            "",
            "| model | " + " | ".join(cols) + " | all |",
            "| --- |" + " ---: |" * (len(cols) + 1),
        ]

        def diff_text(cell: Mapping[str, Any] | None) -> str:
            if not cell or cell.get("difference") is None:
                return ""
            return f"{100 * cell['difference']:+.1f}" + ("*" if cell["significant"] else "")

        for r in rows:
            cells = [diff_text(matrix["improvement"][r].get(c)) for c in cols]
            lines.append(f"| {r} | " + " | ".join(cells) + f" | {diff_text(matrix['improvement_overall'][r])} |")
    return "\n".join(lines) + "\n"


def write_matrix(output_dir: str | Path, matrix: Mapping[str, Any]) -> dict[str, Path]:
    """Write ``matrix.json``, ``matrix.md``, ``matrix.png`` and (with a base) ``improvement.png``."""
    from .plots import plot_improvement, plot_matrix

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / MATRIX_JSON, "md": out / MATRIX_MD}
    paths["json"].write_text(json.dumps(matrix, indent=2) + "\n")
    paths["md"].write_text(matrix_markdown(matrix))
    paths["png"] = plot_matrix(matrix, out / MATRIX_PNG)
    if matrix.get("improvement"):
        paths["improvement_png"] = plot_improvement(matrix, out / IMPROVEMENT_PNG)
    return paths


def parse_named_models(text: str) -> dict[str, str]:
    """``"ct=runs/ct,mri=runs/mri"`` -> ``{"ct": "runs/ct", "mri": "runs/mri"}``.

    Names become directory names under the matrix's output directory, so they
    must be simple (letters, digits, ``_ . -``) and unique.
    """
    import re

    models: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, spec = part.partition("=")
        name, spec = name.strip(), spec.strip()
        if not sep or not name or not spec:
            raise EvalError(f"--models: expected NAME=MODEL pairs separated by commas, got {part!r}")
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name) or name in (".", ".."):
            raise EvalError(f"--models: name {name!r} must be letters, digits, '_', '.' or '-' (it names a directory)")
        if name in models:
            raise EvalError(f"--models: name {name!r} is given twice")
        models[name] = spec
    if not models:
        raise EvalError("--models: no models given (expected e.g. ct=runs/ct,mri=runs/mri)")
    return models


def generalization_matrix(
    models: Mapping[str, str],
    data: str,
    output_dir: str | Path,
    *,
    by: str = "modality",
    base: str | None = None,
    base_name: str = "base",
    alpha: float = 0.05,
    plugins=None,
    on_model=None,
    **eval_kwargs,
) -> tuple[dict[str, Any], dict[str, EvalReport]]:
    """Evaluate every model on all of ``data`` and build the generalization matrix.

    Each model is evaluated into ``output_dir/<name>/`` (and the base model
    into ``output_dir/<base_name>/``) with :func:`evaluate`, so an interrupted
    matrix resumes where it stopped. ``eval_kwargs`` go to :func:`evaluate`
    (filters, batch size, ...); ``on_model(name, spec)`` is called before each
    evaluation (progress messages). Writes the files of :func:`write_matrix`
    into ``output_dir`` and returns the matrix and each model's report.
    """
    from .plugins import get_plugins

    if by not in BY:
        raise EvalError(f"--by must be one of {', '.join(BY)}, got {by!r}")
    if base is not None and base_name in models:
        raise EvalError(f"the base model's name {base_name!r} is also one of --models; pick another --base-name")
    plugins = plugins or get_plugins()
    out = Path(output_dir)
    todo = dict(models)
    if base is not None:
        todo[base_name] = base
    reports: dict[str, EvalReport] = {}
    for name, spec in todo.items():
        if on_model is not None:
            on_model(name, spec)
        reports[name] = evaluate(spec, data, out / name, plugins=plugins, **eval_kwargs)
    registry = plugins.modalities if by == "modality" else plugins.tasks
    matrix = build_matrix(
        {name: reports[name].predictions for name in models},
        by=by,
        base=reports[base_name].predictions if base is not None else None,
        base_name=base_name,
        alpha=alpha,
        column_order=registry.names(),
    )
    matrix["data"] = data
    matrix["models"] = {name: {"model": spec, "results": f"{name}/{RESULTS_JSON}"} for name, spec in todo.items()}
    write_matrix(out, matrix)
    return matrix, reports
