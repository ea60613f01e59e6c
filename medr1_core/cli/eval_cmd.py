"""``medr1 eval``: accuracy by modality and task, the generalization matrix, paired comparison.

::

    medr1 eval --model runs/ct --data /data/OmniMedVQA --output-dir eval/ct
    medr1 eval matrix --models ct=runs/ct,mri=runs/mri --base Qwen/Qwen2-VL-2B-Instruct \\
        --data /data/OmniMedVQA --by modality --output-dir eval/matrix
    medr1 eval compare eval/base/results.json eval/ct/results.json

The work is done by :mod:`medr1_core.eval.run` (running),
:mod:`medr1_core.eval.matrix` (the matrix) and
:mod:`medr1_core.eval.stats` (the paired comparison); this module only
parses options and prints. torch and transformers are imported when a model loads.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..prompts import PROMPT_SETS
from ..registry import comma_list
from ..samples import VARIANTS


def _selection_options(fn):
    """Options shared by ``medr1 eval`` and ``medr1 eval matrix``."""
    options = [
        click.option("--format", "format_", default=None, help="Dataset format (default: detected)."),
        click.option("--image-root", default=None, type=click.Path(file_okay=False),
                     help="Folder relative image paths are resolved against."),
        click.option("--modality", multiple=True, help="Only these modalities (ids or aliases; repeat or comma-separate)."),
        click.option("--task", multiple=True, help="Only these tasks (ids or aliases; repeat or comma-separate)."),
        click.option("--dataset", multiple=True, help="Only these source datasets."),
        click.option("--variant", type=click.Choice(VARIANTS), default=None,
                     help="Prompt variant (default: the one the model was trained with, else think)."),
        click.option("--prompt-set", type=click.Choice(PROMPT_SETS), default=None,
                     help="Whose prompt wording: medr1 or med-r1 (Med-R1's evaluation prompts, as published); "
                          "default: the one the model was trained with, else medr1."),
        click.option("--batch-size", type=click.IntRange(min=1), default=None,
                     help="Questions generated together (default 16)."),
        click.option("--max-new-tokens", type=click.IntRange(min=1), default=None,
                     help="Completion budget in tokens (default 512)."),
        click.option("--do-sample", is_flag=True, help="Sample instead of greedy decoding (then --temperature, --top-p, --seed)."),
        click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True),
        click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True),
        click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed."),
        click.option("--limit", type=click.IntRange(min=1), default=None,
                     help="Evaluate a seeded random subset of N questions (the same N every run)."),
        click.option("--backend", type=click.Choice(["transformers", "vllm"]), default="transformers",
                     show_default=True, help="Generation backend; vllm needs the vllm package."),
        click.option("--device", default=None, help="cuda, cpu, mps ... (default: cuda if available)."),
        click.option("--dtype", default=None, help="Model dtype, e.g. bfloat16 (default: bf16 on GPU, else float32)."),
        click.option("--attn-implementation", type=click.Choice(["eager", "sdpa", "flash_attention_2"]), default=None,
                     help="Attention kernel (default: transformers' choice)."),
        click.option("--min-pixels", type=click.IntRange(min=1), default=None,
                     help="Qwen-VL processors: fewest pixels an image is resized to."),
        click.option("--max-pixels", type=click.IntRange(min=1), default=None,
                     help="Qwen-VL processors: most pixels an image is resized to (Med-R1: 401408)."),
        click.option("--revision", default=None, help="Hub branch, tag or commit of the model."),
        click.option("--trust-remote-code", is_flag=True, help="Run the model repository's own code."),
        click.option("--open-metric", type=click.Choice(["auto", "fuzzy", "exact", "contains", "recall", "f1"]),
                     default=None, help="How open answers are scored (the accuracy reward's open_metric; "
                                        "default auto: the benchmark's own metric, see docs/data.md)."),
        click.option("--on-missing-image", type=click.Choice(["error", "skip"]), default="error", show_default=True,
                     help="Questions whose image file is missing: stop before generating, or skip and count them."),
        click.option("--max-bad-fraction", type=click.FloatRange(0, 1), default=None, metavar="SHARE",
                     help="Share of bad records accepted before refusing to start (default 0.1; 1: go on)."),
        click.option("--allow-outside-images", is_flag=True,
                     help="Let image paths be absolute or lead outside the dataset's folder."),
        click.option("--overwrite", is_flag=True,
                     help="Discard earlier predictions in the output directory (only the files medr1 wrote)."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
        click.option("--verbose", "-v", is_flag=True,
                     help="Also show the libraries' own progress bars (weights loading) and warnings."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _eval_kwargs(o: dict) -> dict:
    """:func:`~medr1_core.eval.run.evaluate`'s arguments from the shared options."""
    from ..data.selection import Selection
    from ..eval.generation import DEFAULT_BATCH_SIZE, DEFAULT_MAX_NEW_TOKENS, SamplingSettings

    selection = Selection(
        format=o["format_"], image_root=o["image_root"], modalities=tuple(comma_list(o["modality"])),
        tasks=tuple(comma_list(o["task"])), datasets=tuple(comma_list(o["dataset"])), limit=o["limit"],
        on_missing_image=o["on_missing_image"], allow_outside_images=o["allow_outside_images"],
        **({"max_bad_fraction": o["max_bad_fraction"]} if o["max_bad_fraction"] is not None else {}),
    )
    sampling = SamplingSettings(
        max_new_tokens=o["max_new_tokens"] or DEFAULT_MAX_NEW_TOKENS, do_sample=o["do_sample"],
        temperature=o["temperature"], top_p=o["top_p"], seed=o["seed"],
    )
    return {
        "selection": selection, "sampling": sampling, "variant": o["variant"], "prompt_set": o["prompt_set"],
        "batch_size": o["batch_size"] or DEFAULT_BATCH_SIZE, "backend": o["backend"], "device": o["device"],
        "dtype": o["dtype"], "overwrite": o["overwrite"],
        "model_options": {k: o[k] for k in ("attn_implementation", "min_pixels", "max_pixels", "revision")
                          if o.get(k) is not None} | ({"trust_remote_code": True} if o.get("trust_remote_code") else {}), "progress": not o["quiet"],
        "accuracy_params": {"open_metric": o["open_metric"]} if o.get("open_metric") else None,
    }


def _quiet_libraries(options: dict) -> None:
    """One progress bar (medr1's): the libraries' own bars and warnings only with --verbose."""
    from ..report.console import quiet_libraries

    quiet_libraries(verbose=options["verbose"] and not options["quiet"])


def _cpu_threads(options: dict) -> None:
    """MEDR1_THREADS for a CPU evaluation (checked, not applied, on other devices)."""
    from ..eval.generation import pick_device
    from ..train.threads import configure_threads

    configure_threads(options["device"] or pick_device())


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _report_lines(report) -> list[str]:
    from ..report.console import eval_summary

    r = report.results
    o = r["overall"]
    ci = o["ci95"]
    ci_text = f" (95% CI {100 * ci[0]:.1f}-{100 * ci[1]:.1f})" if ci else ""
    lines = [
        f"{r['model']} on {r['data']} [{r['variant']}{'' if r.get('prompt_set', 'medr1') == 'medr1' else ', ' + r['prompt_set']}]: accuracy {_pct(o['accuracy'])}{ci_text} "
        f"over {o['n']} question(s); parse failures {_pct(r['parse_failure_rate'])}",
        f"  answered now: {report.generated}; from earlier runs: {report.resumed}"
        + "".join(f"; skipped ({k.replace('_', ' ')}): {v}" for k, v in report.skipped.items()),
        eval_summary(r),
    ]
    kinds = r.get("by_answer_type") or {}
    if "open" in kinds:  # closed and open apart, as the VQA benchmarks report them
        parts = []
        for kind, cell in kinds.items():
            mean = cell.get("mean_score")
            partial = f", mean score {_pct(mean)}" if mean is not None and abs(mean - (cell["accuracy"] or 0)) > 1e-9 else ""
            parts.append(f"{kind} {_pct(cell['accuracy'])} of {cell['n']}{partial}")
        lines.insert(1, f"  {'; '.join(parts)} (open answers: {r.get('open_metric', 'auto')})")
    return lines


@click.group(name="eval", invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", default=None, help="Hub id, model directory, medr1 run directory or checkpoint, or 'tiny'.")
@click.option("--data", default=None, help="Dataset path, or 'sample' (bundled synthetic set; 'sample-heldout': its held-out questions).")
@_selection_options
@click.option("--output-dir", "-o", default=None, type=click.Path(file_okay=False), help="Where the results go.")
@click.pass_context
def eval_(ctx, model, data, output_dir, **options):
    """Evaluate a model: accuracy by modality and task, with 95% intervals.

    Writes predictions.jsonl (one line per question), results.json,
    results.md, heatmap.png and report.html (each question with its image
    and answer) into --output-dir. Re-running the same command
    skips questions already in predictions.jsonl (resume).

    Sub-commands: `medr1 eval matrix` (the generalization matrix of several
    models) and `medr1 eval compare` (paired comparison of two runs).
    """
    if ctx.invoked_subcommand is not None:
        return
    missing = [name for name, value in (("--model", model), ("--data", data), ("--output-dir", output_dir)) if not value]
    if missing:
        raise click.UsageError(f"medr1 eval needs {', '.join(missing)} (or a sub-command: matrix, compare)")
    from ..eval.run import evaluate

    _quiet_libraries(options)
    _cpu_threads(options)
    report = evaluate(model, data, output_dir, **_eval_kwargs(options))
    for message in report.messages:
        click.echo(f"medr1: warning: {message}", err=True)
    for line in _report_lines(report):
        click.echo(line)
    click.echo(f"  wrote {', '.join(str(p) for p in report.paths.values())}")


@eval_.command("matrix")
@click.option("--models", required=True, help="NAME=MODEL pairs, comma-separated: ct=runs/ct,mri=runs/mri.")
@click.option("--base", default=None, help="Base model to measure improvement against (e.g. the model before training).")
@click.option("--base-name", default="base", show_default=True, help="Row / directory name of the base model.")
@click.option("--data", required=True, help="Dataset path, 'sample' or 'sample-heldout'.")
@click.option("--by", type=click.Choice(["modality", "task"]), default="modality", show_default=True,
              help="Columns: the modality or the task of the test questions.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True,
              help="Significance level of the improvement cells (exact McNemar).")
@_selection_options
@click.option("--output-dir", "-o", required=True, type=click.Path(file_okay=False), help="Where the matrix goes.")
def matrix(models, base, base_name, data, by, alpha, output_dir, **options):
    """The cross-modality (or cross-task) generalization matrix.

    Evaluates every model of --models (and --base) on all the questions of
    --data, each into OUTPUT_DIR/NAME/ (resumable), and writes matrix.json,
    matrix.md and matrix.png (rows: the model, i.e. what it was trained on;
    columns: what it is tested on), plus improvement.png with --base.
    """
    from ..eval.matrix import (
        IMPROVEMENT_PNG, MATRIX_JSON, MATRIX_MD, MATRIX_PNG, generalization_matrix, parse_named_models,
    )

    _quiet_libraries(options)
    _cpu_threads(options)

    def announce(name, spec):
        click.echo(f"== {name}: {spec}", err=True)

    named = parse_named_models(models)
    result, reports = generalization_matrix(
        named, data, output_dir, by=by, base=base, base_name=base_name, alpha=alpha,
        on_model=announce, **_eval_kwargs(options),
    )
    for name, report in reports.items():
        for message in report.messages:
            click.echo(f"medr1: warning: {name}: {message}", err=True)
    out = Path(output_dir)
    click.echo((out / MATRIX_MD).read_text())
    files = [MATRIX_JSON, MATRIX_MD, MATRIX_PNG] + ([IMPROVEMENT_PNG] if result.get("improvement") else [])
    click.echo(f"wrote {', '.join(str(out / f) for f in files)}")


def _results_and_predictions(path: str):
    """A results.json (or the directory holding it) and the predictions.jsonl beside it."""
    from ..eval.predictions import PREDICTIONS_FILE, read_predictions
    from ..eval.results import RESULTS_JSON
    from ..eval.run import EvalError

    p = Path(path)
    if p.is_dir():
        p = p / RESULTS_JSON
    if not p.is_file():
        raise EvalError(f"{path}: no such results.json")
    try:
        results = json.loads(p.read_text())
    except ValueError as exc:
        raise EvalError(f"{p}: not valid JSON: {exc}") from None
    preds_path = p.parent / PREDICTIONS_FILE
    if not preds_path.is_file():
        raise EvalError(f"{p}: no {PREDICTIONS_FILE} beside it (the paired test needs per-question outcomes)")
    found = read_predictions(preds_path)
    for number, reason in found.bad_lines:
        click.echo(f"medr1: warning: {preds_path}:{number}: {reason} (left out)", err=True)
    return results, found.records


def comparison_table(comparison: dict, name_a: str, name_b: str) -> str:
    """The comparison of :func:`medr1_core.eval.stats.compare_predictions` as a text table."""
    header = f"{'cell':44} {'n':>6} {'A':>7} {'B':>7} {'B-A':>7} {'A only':>7} {'B only':>7} {'p':>8}  sig"
    lines = [f"A: {name_a}", f"B: {name_b}",
             f"shared questions: {comparison['shared']} (only in A: {comparison['only_a']}, only in B: "
             f"{comparison['only_b']}); sig: exact McNemar p < {comparison['alpha']}, per cell", "", header,
             "-" * len(header)]

    def row(label: str, c: dict) -> str:
        if not c["n"]:
            return f"{label:44} {0:>6}"
        p = c["p_value"]
        p_text = f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"
        return (f"{label:44} {c['n']:>6} {100 * c['accuracy_a']:>6.1f}% {100 * c['accuracy_b']:>6.1f}% "
                f"{100 * c['difference']:>+6.1f} {c['a_only']:>7} {c['b_only']:>7} {p_text:>8}  "
                + ("*" if c["significant"] else ""))

    lines.append(row("overall", comparison["overall"]))
    for m, c in comparison["by_modality"].items():
        lines.append(row(f"modality {m}", c))
    for t, c in comparison["by_task"].items():
        lines.append(row(f"task {t}", c))
    for m, cells in comparison["by_modality_task"].items():
        for t, c in cells.items():
            lines.append(row(f"{m} x {t}", c))
    return "\n".join(lines)


@eval_.command("compare")
@click.argument("a", metavar="A/results.json")
@click.argument("b", metavar="B/results.json")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True,
              help="Significance level (exact McNemar, per cell).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def compare(a, b, alpha, as_json):
    """Paired comparison of two evaluations on the questions both answered.

    For every cell (overall, each modality, each task, each modality x task)
    prints both accuracies, B minus A, the discordant counts and the exact
    McNemar p-value, flagging p < --alpha. Reads the predictions.jsonl beside
    each results.json (a directory holding one works too).
    """
    from ..eval.run import EvalError
    from ..eval.stats import compare_predictions
    from ..plugins import get_plugins

    results_a, preds_a = _results_and_predictions(a)
    results_b, preds_b = _results_and_predictions(b)
    plugins = get_plugins()
    comparison = compare_predictions(
        preds_a, preds_b, alpha=alpha,
        modality_order=plugins.modalities.names(), task_order=plugins.tasks.names(),
    )
    comparison["a"] = {"results": str(a), "model": results_a.get("model")}
    comparison["b"] = {"results": str(b), "model": results_b.get("model")}
    if as_json:
        click.echo(json.dumps(comparison, indent=2))
        return
    if not comparison["shared"]:
        raise EvalError(f"{a} and {b} have no question id in common: nothing to compare")
    click.echo(comparison_table(comparison, f"{results_a.get('model')} ({a})", f"{results_b.get('model')} ({b})"))
