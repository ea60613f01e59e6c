"""Running an evaluation: choose the questions, generate, score, and write the run's files.

:func:`evaluate` is composed of the same steps training uses:

1. the questions are chosen by :func:`medr1_core.data.choose_samples` (the
   selection, de-duplication, subset and image check ``medr1 train`` runs), so
   the same flags select the same questions;
2. the output directory must be a new or empty folder or an earlier
   evaluation (a folder of the user's own files is refused), and is locked
   while the evaluation runs; ``eval_config.json`` records the model and
   settings: predictions of different models or settings are never mixed in
   one directory, and ``--overwrite`` deletes only the files medr1 wrote;
3. questions already in ``predictions.jsonl`` are skipped (resume) when the
   same weights, decoding settings and question produced them (each record's
   ``key``, :mod:`medr1_core.eval.predictions`); the rest are answered again;
4. the rest are generated in batches, their images opened exactly as for
   training (:func:`medr1_core.data.images.open_sample_images`; an unreadable
   image skips and counts its question), each completion scored with the
   ``accuracy`` reward (so training and evaluation never disagree about an
   answer) and appended to ``predictions.jsonl``;
5. ``results.json`` / ``results.md`` / ``heatmap.png`` are written
   (:mod:`medr1_core.eval.results`), and ``report.html`` (each question with
   its image, answer and expected answer: :mod:`medr1_core.report.evaluation`).

torch and transformers are imported only when a model loads (through
:mod:`medr1_core.eval.generation`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.selection import Selection
from ..errors import UsageError
from ..files import drop_partial_tail
from ..report import REPORT_FILE
from ..train.run_dir import claim_run_dir, locked, write_atomic
from .generation import DEFAULT_BATCH_SIZE, SamplingSettings
from .predictions import (
    PREDICTIONS_FILE,
    SUPERSEDED_FILE,
    append_predictions,
    model_fingerprint,
    prediction_key,
    read_predictions,
    supersede,
)
from .results import HEATMAP_PNG, RESULTS_JSON, RESULTS_MD, write_results
from .stats import summarize

EVAL_CONFIG = "eval_config.json"
#: the files an evaluation writes into its output directory (``--overwrite`` removes these, nothing else)
EVAL_FILES = (PREDICTIONS_FILE, SUPERSEDED_FILE, RESULTS_JSON, RESULTS_MD, HEATMAP_PNG, EVAL_CONFIG, REPORT_FILE)


class EvalError(UsageError, ValueError):
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


def _check_eval_config(out: Path, config: dict[str, Any], overwrite: bool) -> None:
    """Refuse to mix predictions of different models/settings in one directory; remember the weights' digests."""
    path = out / EVAL_CONFIG
    try:
        old = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        old = {}
    config["weights"], config["weight_files"] = model_fingerprint(config["model_source"], old.get("weight_files"))
    if overwrite:
        for name in EVAL_FILES:
            (out / name).unlink(missing_ok=True)
    elif path.exists() and (out / PREDICTIONS_FILE).exists():
        def flat(c: Mapping[str, Any]) -> dict[str, Any]:
            return {"model": c.get("model_source"), "variant": c.get("variant"),
                    "prompt_set": c.get("prompt_set", "medr1"), **(c.get("sampling") or {}),
                    "accuracy": c.get("accuracy") or {}, "model options": c.get("model_options") or {}}

        before, now = flat(old), flat(config)
        diffs = [f"{k} {before.get(k)!r} there, {v!r} now" for k, v in now.items() if before.get(k) != v]
        if diffs:
            raise EvalError(
                f"{out} holds predictions made with other settings ({'; '.join(diffs)}). "
                "Use another --output-dir, or --overwrite to start again."
            )
    write_atomic(path, json.dumps(config, indent=2) + "\n")


def prediction_record(rollout, score: float | None, images: Sequence[str] | None = None, weights: str | None = None,
                      key: str | None = None) -> dict[str, Any]:
    """One line of ``predictions.jsonl`` for a scored rollout (``images``: the image paths as opened;
    ``weights`` and ``key``: what produced it)."""
    s, c = rollout.sample, rollout.completion
    return {
        "id": s.id,
        "modality": s.modality,
        "task": s.task,
        "dataset": s.dataset,
        "question": s.question,
        "options": s.options,
        "images": list(images if images is not None else s.images),
        "target": s.answer,
        "answer_type": s.answer_type,
        "language": s.language,
        "completion": c.text,
        "answer": c.answer,
        "letter": c.letter,
        "well_formed": c.well_formed,
        "score": score,
        "correct": score is not None and score >= 1.0 - 1e-9,
        "weights": weights,
        "key": key,
    }


def _source_label(source: str) -> str:
    path = Path(source)
    return str(path.resolve()) if path.exists() else source


@dataclass
class _Generation:
    """Answering the questions still to do, batch by batch; counts what it did and skipped."""

    plugins: Any
    variant: str
    image_root: str | None
    preds_path: Path
    messages: list[str]
    accuracy_params: Mapping[str, Any] = field(default_factory=dict)
    generated: int = 0
    correct: int = 0
    unreadable: int = 0
    paths: dict[str, list[str]] = field(default_factory=dict)
    allow_outside: bool = False
    weights: str | None = None
    keys: dict[str, str] = field(default_factory=dict)
    prompt_set: str = "medr1"

    def _prepare(self, samples: Sequence) -> tuple[list, list, list]:
        from ..data.images import MAX_IMAGE_WARNINGS, ImageError, image_path, modality_spec, open_sample_images
        from ..data.volumes import volume_settings
        from ..prompts import build_prompt, conversation

        modalities = dict(self.plugins.modalities.items())
        batch, conversations, images = [], [], []
        self.paths = {}
        for s in samples:
            try:
                paths = [image_path(s, p, self.image_root, allow_outside=self.allow_outside) for p in s.images]
                pics = open_sample_images(paths, modality_spec(modalities, s.modality), volume_settings(s))
            except ImageError as exc:  # one unreadable image never kills a run
                self.unreadable += 1
                if self.unreadable <= MAX_IMAGE_WARNINGS:
                    self.messages.append(f"question {s.id} skipped: image {exc}")
                continue
            task = self.plugins.tasks.get(s.task) if s.task in self.plugins.tasks else None
            batch.append(s)
            self.paths[s.id] = paths
            text = build_prompt(s, task, self.variant, prompt_set=self.prompt_set, stage="eval")
            conversations.append(conversation(text, len(pics)))
            images.append(pics)
        return batch, conversations, images

    def run(self, todo: Sequence, generator, batch_size: int, bar) -> None:
        from ..parsing import make_rollouts

        accuracy = self.plugins.rewards.get("accuracy")(dict(self.accuracy_params))
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            batch, conversations, images = self._prepare(chunk)
            if batch:
                rollouts = make_rollouts(batch, generator.generate(conversations, images), self.variant)
                scores = accuracy.score(rollouts)
                append_predictions(self.preds_path, [
                    prediction_record(r, sc, self.paths.get(r.sample.id), self.weights, self.keys.get(r.sample.id))
                    for r, sc in zip(rollouts, scores)])
                self.generated += len(batch)
                self.correct += sum(1 for sc in scores if sc is not None and sc >= 1.0 - 1e-9)
                bar.set_postfix_str(f"accuracy {100 * self.correct / self.generated:.1f}% of {self.generated} "
                                    "answered now", refresh=False)
            bar.update(len(chunk))


def evaluate(
    model: str,
    data: str,
    output_dir: str | Path,
    *,
    selection: Selection = Selection(),
    sampling: SamplingSettings = SamplingSettings(),
    variant: str | None = None,
    prompt_set: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    backend: str = "transformers",
    device: str | None = None,
    dtype: str | None = None,
    model_options: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    accuracy_params: Mapping[str, Any] | None = None,
    progress: bool = True,
    report: bool = True,
    generator=None,
    samples: Sequence | None = None,
    plugins=None,
) -> EvalReport:
    """Evaluate ``model`` on ``data`` into ``output_dir`` (the steps and files: see the module doc).

    ``model`` and ``data`` are anything ``--model`` and ``--data`` take;
    ``selection`` chooses the questions as ``medr1 train`` does; ``sampling``
    is greedy by default. The prompt variant defaults to the model's training
    variant, else ``think``, and the prompt set to the model's training set,
    else ``medr1`` (:mod:`medr1_core.prompts`; ``med-r1`` asks with Med-R1's
    evaluation wording). ``accuracy_params`` are the ``accuracy`` reward's
    parameters that score the answers (e.g. ``{"open_metric": "exact"}``;
    default: the benchmark's own metric, see the reward). ``report`` writes
    ``report.html`` too (:mod:`medr1_core.report.evaluation`). ``generator`` (anything with
    ``generate(conversations, images) -> texts``) and ``samples`` replace model
    and data loading (tests, benchmarks). ``model_options`` are the loading options of a run
    config's ``model:`` (``attn_implementation``, ``min_pixels``, ``max_pixels``, ``revision``,
    ``trust_remote_code``; :class:`~medr1_core.train.config.ModelSettings`).
    """
    from ..data import choose_samples
    from ..plugins import get_plugins
    from ..prompts import check_prompt_set
    from ..samples import check_variant
    from ..train.models import resolve_model

    plugins = plugins or get_plugins()
    if batch_size < 1:
        raise EvalError(f"--batch-size must be at least 1, got {batch_size}")
    options = model_settings(model, model_options)
    resolved = resolve_model(model)
    variant = check_variant(variant or resolved.variant or "think", "--variant")
    prompt_set = check_prompt_set(prompt_set or resolved.prompt_set or "medr1", "--prompt-set")
    chosen = choose_samples(data if samples is None else None, selection, samples=samples, plugins=plugins)
    if not chosen.samples:
        raise EvalError(f"no questions to evaluate in --data {data} after filtering")
    if prompt_set != "medr1":  # a question the set has no prompt for stops now, not mid-generation
        from ..prompts import med_r1_template

        med_r1_template(variant, "eval", open_question=any(not s.options for s in chosen.samples))
    out = Path(output_dir)
    claim_run_dir(out, "eval")
    with locked(out, "medr1 eval"):
        return _evaluate_into(
            out, model=model, data=data, resolved=resolved, variant=variant, prompt_set=prompt_set, chosen=chosen,
            selection=selection,
            sampling=sampling, batch_size=batch_size, backend=backend, device=device, dtype=dtype,
            options=options, overwrite=overwrite, accuracy_params=dict(accuracy_params or {}), progress=progress, report=report,
            generator=generator, plugins=plugins,
        )


def model_settings(model: str, options: Mapping[str, Any] | None):
    """``model_options`` checked as a run config's ``model:`` is (one line naming the option)."""
    from pydantic import ValidationError

    from ..train.config import ModelSettings, describe_validation_error

    try:
        return ModelSettings(name=model, **dict(options or {}))
    except ValidationError as exc:
        raise EvalError(" ".join(describe_validation_error(exc, "medr1 eval", "model options").split("\n"))) from None


def _evaluate_into(out: Path, *, model, data, resolved, variant, prompt_set, chosen, selection, sampling, batch_size,
                   backend, device, dtype, options, overwrite, accuracy_params, progress, report, generator,
                   plugins) -> EvalReport:
    """:func:`evaluate`'s work once the questions are chosen and the output directory is locked."""
    from ..data.volumes import image_count

    source = _source_label(resolved.source)
    plugins.rewards.get("accuracy")(accuracy_params)  # bad parameters fail now, naming the parameter
    config = {"model": model, "model_source": source, "variant": variant, "prompt_set": prompt_set,
              "sampling": sampling.to_dict(), "backend": backend, "accuracy": accuracy_params,
              "model_options": options.options()}
    _check_eval_config(out, config, overwrite)
    state = _Generation(plugins, variant, selection.image_root, out / PREDICTIONS_FILE, list(chosen.messages),
                        accuracy_params, allow_outside=selection.allow_outside_images, weights=config["weights"],
                        prompt_set=prompt_set)
    state.keys = {s.id: prediction_key(s, config["weights"], variant, config["sampling"], prompt_set)
                  for s in chosen.samples}
    todo, resumed = _resume(state, chosen.samples)
    counts = [image_count(s) for s in todo]  # bad volume settings fail here, before any generation
    if todo:
        if generator is None:
            from .generation import make_generator

            generator = make_generator(resolved.source, backend=backend, settings=sampling, device=device,
                                       dtype=dtype, max_images_per_prompt=max(counts), options=options)
        with _progress(len(chosen.samples), resumed, enabled=progress) as bar:
            state.run(todo, generator, batch_size, bar)
    skipped = dict(chosen.skipped) | ({"unreadable_images": state.unreadable} if state.unreadable else {})
    predictions = [p for p in read_predictions(state.preds_path).records if state.keys.get(p["id"]) == p.get("key")]
    results = {
        "model": model, "model_source": source, "weights": config["weights"], "data": data,
        "format": selection.format, "variant": variant, "prompt_set": prompt_set, "backend": backend, "sampling": sampling.to_dict(),
        "accuracy": accuracy_params, "open_metric": accuracy_params.get("open_metric", "auto"),
        "filters": {"modality": _ids(plugins.modalities, selection.modalities),
                    "task": _ids(plugins.tasks, selection.tasks), "dataset": list(selection.datasets),
                    "limit": selection.limit},
        **summarize(predictions, modality_order=plugins.modalities.names(), task_order=plugins.tasks.names()),
        "counts": {"selected": len(chosen.samples), "evaluated": len(predictions), "generated_now": state.generated,
                   "resumed": resumed, "skipped": skipped},
    }
    paths = {**write_results(out, results), "predictions": state.preds_path}
    if report:
        page = _write_report(out, state.messages)
        if page is not None:
            paths["report"] = page
    return EvalReport(out, results, paths, state.generated, resumed, skipped, state.messages, predictions)


def _write_report(out: Path, messages: list[str]) -> Path | None:
    """``report.html`` of the evaluation; a report that fails is a warning, never a failed evaluation."""
    from ..report.evaluation import write_eval_report

    try:
        return write_eval_report(out)
    except Exception as exc:  # the report is a view of the files just written
        messages.append(f"could not write {out / REPORT_FILE}: {type(exc).__name__}: {exc}")
        return None


def _resume(state: _Generation, selected: Sequence) -> tuple[list, int]:
    """The selected questions not yet in ``predictions.jsonl``, and how many are."""
    existing = read_predictions(state.preds_path)
    for number, reason in existing.bad_lines:
        state.messages.append(f"{state.preds_path}:{number}: {reason}; that question will be answered again")
    drop_partial_tail(state.preds_path)
    moved = supersede(state.preds_path, state.keys)
    if moved:
        other = sum(1 for r in moved if r.get("weights") != state.weights)
        if other:
            state.messages.append(f"{other} saved prediction(s) were made by other weights (the model at this path "
                                  f"changed since): answered again; the old ones are in {SUPERSEDED_FILE}")
        if len(moved) > other:
            state.messages.append(f"{len(moved) - other} question(s) changed since they were answered (same id, new "
                                  f"text, options, answer or images): answered again; the old answers are in "
                                  f"{SUPERSEDED_FILE}")
    done = read_predictions(state.preds_path).ids if moved else existing.ids
    todo = [s for s in selected if s.id not in done]
    return todo, len(selected) - len(todo)


def _ids(registry, names: Sequence[str]) -> list[str]:
    from ..registry import comma_list

    return [registry.get(n).id for n in comma_list(names)]


def _progress(total: int, initial: int, *, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="q", desc="eval", disable=not enabled, dynamic_ncols=True)
