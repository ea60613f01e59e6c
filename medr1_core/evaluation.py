"""Running an evaluation: generate, score, and write the run's files.

:func:`evaluate` loads a model and the data, generates an answer to every
question in batches, scores each completion and writes into its output
directory:

- ``predictions.jsonl``, the record of the run, one line per question,
  appended as batches finish so an interrupted run resumes where it stopped
  (:func:`read_predictions` tolerates a half-written last line,
  :func:`drop_partial_tail` cuts it off before appending);
- ``results.json`` / ``results.md`` / ``heatmap.png``, the accuracy tables of
  :func:`medr1_core.accuracy_stats.summarize` (:func:`write_results`);
- ``eval_config.json``, the model and settings, so predictions of different
  models are never mixed in one directory.

"Correct" means exactly what the ``accuracy`` reward says (score 1.0): the
evaluation scores each completion with that reward, so training and
evaluation never disagree about an answer. torch and transformers are
imported only inside :func:`evaluate` (through :mod:`medr1_core.generation`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .accuracy_stats import ci95_text, percent_text, summarize

PREDICTIONS_FILE = "predictions.jsonl"
RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
HEATMAP_PNG = "heatmap.png"
EVAL_CONFIG = "eval_config.json"


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


def _is_prediction(record: Any) -> bool:
    """Whether a parsed ``predictions.jsonl`` line is a prediction: a JSON object with a string ``id``."""
    return isinstance(record, dict) and isinstance(record.get("id"), str)


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
            if not _is_prediction(record):
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
        complete = _is_prediction(json.loads(tail))
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


def results_markdown(results: Mapping[str, Any]) -> str:
    """``results.md``: the accuracy tables of a ``results.json`` (percentages, 95% Wilson CIs)."""
    o = results["overall"]
    lines = [
        f"# Evaluation of `{results.get('model', '?')}`",
        "",
        f"- data: `{results.get('data', '?')}`; prompt variant: `{results.get('variant', '?')}`",
        f"- questions: {o['n']}; accuracy {percent_text(o['accuracy'])}% (95% CI {ci95_text(o)})",
    ]
    if results.get("parse_failure_rate") is not None:
        lines.append(
            f"- parse failures (no committed answer, scored wrong): {results['parse_failures']} "
            f"({percent_text(results['parse_failure_rate'])}%); malformed tags: {results['malformed']} "
            f"({percent_text(results['malformed_rate'])}%)"
        )
    lines += ["", "Accuracy in %, with 95% Wilson intervals.", ""]
    for title, key, label in (("By modality", "by_modality", "modality"), ("By task", "by_task", "task")):
        lines += [f"## {title}", "", f"| {label} | n | correct | accuracy | 95% CI |", "| --- | ---: | ---: | ---: | --- |"]
        for name, cell in results[key].items():
            lines.append(
                f"| {name} | {cell['n']} | {cell['correct']} | {percent_text(cell['accuracy'])} | {ci95_text(cell)} |"
            )
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
            f"{percent_text(row[t]['accuracy'])} ({row[t]['n']})" if t in row else "" for t in tasks
        ]
        total = results["by_modality"][m]
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {percent_text(total['accuracy'])} ({total['n']}) |")
    row_all = [f"{percent_text(results['by_task'][t]['accuracy'])} ({results['by_task'][t]['n']})" for t in tasks]
    lines.append("| all | " + " | ".join(row_all) + f" | {percent_text(o['accuracy'])} ({o['n']}) |")
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
