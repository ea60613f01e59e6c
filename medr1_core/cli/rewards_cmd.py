"""``medr1 rewards``: list the installed rewards; score completions offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..samples import VARIANTS

#: Default per-batch time limit of each reward, in seconds (as ``reward_time_limit`` of a training run).
DEFAULT_TIME_LIMIT = 120.0


@click.group()
def rewards() -> None:
    """Rewards: what is installed, and scoring completions from a JSONL file."""


@rewards.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list instead of text.")
def list_(as_json: bool) -> None:
    """List rewards: name, description, parameters with defaults, constraints and descriptions, and the
    plugin providing each."""
    from ..plugins import get_plugins
    from ..rewards import param_info

    registry = get_plugins().rewards
    items = [
        {"name": name, "description": cls.description, "origin": registry.origin(name), "range": list(cls.range),
         "params": param_info(cls.Params)}
        for name, cls in registry.items()
    ]
    if as_json:
        click.echo(json.dumps(items, indent=2, default=str))
        return
    for item in items:
        click.echo(f"{item['name']}  [{item['origin']}]")
        if item["description"]:
            click.echo(f"    {item['description']}")
        for p in item["params"]:
            limits = f"  ({'; '.join(p['constraints'])})" if p["constraints"] else ""
            click.echo(f"    {p['name']}: {p['type']} = {p['default']!r}{limits}")
            if p["description"]:
                click.echo(f"        {p['description']}")


def _read(path: Path, plugins, notes: list[str]):
    """Yield ``(line number, Sample, completion)`` for good lines; bad ones go to ``notes`` with file:line."""
    from ..files import BadLine, iter_jsonl
    from ..samples import Sample

    modalities, tasks = plugins.modalities, plugins.tasks
    for item in iter_jsonl(path):
        if isinstance(item, BadLine):
            notes.append(f"{path}:{item.line}: skipped: {item.reason}")
            continue
        number, row = item
        problem = _check_row(row)
        if problem:
            notes.append(f"{path}:{number}: skipped: {problem}")
            continue
        modality_label, task_label = row.get("modality"), row.get("task")
        modality = modalities.resolve(modality_label) if modality_label else None
        task = tasks.resolve(task_label) if task_label else None
        if modality_label and modality is None:
            notes.append(f"{path}:{number}: note: unknown modality '{modality_label}' (scored without one)")
        if task_label and task is None:
            notes.append(f"{path}:{number}: note: unknown task '{task_label}' (scored without one)")
        options = row.get("options")
        answer = row["answer"]
        question = row.get("question")
        sample = Sample(
            id=str(row.get("id", number)),
            question=question if type(question) is str else str(question or ""),
            answer=answer if type(answer) is str else str(answer),
            options=options or None,  # JSON keys are strings, and _check_row saw string values
            modality=modality,
            task=task,
            dataset=row.get("dataset"),
        )
        yield number, sample, row["completion"]


def _progress(input_path: Path):
    """A tqdm bar over the file's lines on a terminal; elsewhere nothing (no tqdm import, no counting pass)."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    total_lines = sum(1 for _ in input_path.open("rb"))
    return tqdm(total=total_lines, unit="line", file=sys.stderr, desc="scoring")


def _score_file(names, weights, config_path, input_path, out, variant, strict, batch_size, time_limit, notes):
    from ..composition import compose, read_config
    from ..plugins import get_plugins

    composed = compose(names, weights, read_config(config_path) if config_path else None, strict=strict,
                       time_limit=time_limit)
    plugins = get_plugins()
    tally = _Tally(composed, variant, out)
    bar = _progress(input_path)
    batch = []
    try:
        for item in _read(input_path, plugins, notes):
            batch.append(item)
            if len(batch) >= batch_size:
                tally.flush(batch)
                if bar is not None:
                    bar.update(len(batch))
                batch = []
        tally.flush(batch)
        if bar is not None:
            bar.update(bar.total - bar.n)
    finally:
        if bar is not None:
            bar.close()
    return tally


_STR_ONLY = frozenset({str})


def _check_row(row) -> str | None:
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}"
    completion = row.get("completion")
    if type(completion) is not str and not isinstance(completion, (str, list)):
        return "'completion' must be a string or a list of chat messages"
    answer = row.get("answer")
    if not isinstance(answer, (str, int)) or (answer.isspace() or not answer if type(answer) is str
                                              else str(answer).strip() == ""):
        return "'answer' must be the correct letter or reference text"
    options = row.get("options")
    if options is not None and not (isinstance(options, dict) and set(map(type, options.values())) <= _STR_ONLY):
        return "'options' must be null or an object of letter -> text"
    return None


class _Tally:
    """Scores of ``rewards score`` so far: written out batch by batch, summed for the summary."""

    def __init__(self, composed, variant: str, out):
        self.composed, self.variant, self.out = composed, variant, out
        self.sums = {n: 0.0 for n in composed.names}
        self.counts = {n: 0 for n in composed.names}
        self.nones = {n: 0 for n in composed.names}
        self.scored = self.parse_failures = 0

    def flush(self, batch: list) -> None:
        from ..files import dumps_line
        from ..parsing import completion_text, make_rollouts

        if not batch:
            return
        samples = [s for _n, s, _c in batch]
        rollouts = make_rollouts(samples, [c if type(c) is str else completion_text(c) for _n, _s, c in batch],
                                 self.variant)
        result = self.composed.score(rollouts)
        names = self.composed.names
        columns = [result.per_reward[name] for name in names]
        lines = []
        for i, sample in enumerate(samples):
            row = {name: column[i] for name, column in zip(names, columns)}
            lines.append(dumps_line({"id": sample.id, "rewards": row, "total": result.total[i]}))
            completion = rollouts[i].completion
            self.parse_failures += (not completion.well_formed) or completion.answer is None
        self.out.write("".join(lines))
        for name, column in zip(names, columns):
            scored = [v for v in column if v is not None]
            self.sums[name] += sum(scored)
            self.counts[name] += len(scored)
            self.nones[name] += len(column) - len(scored)
        self.scored += len(batch)

    def summary(self) -> list[str]:
        lines = [f"{'reward':<24}{'weight':>8}{'mean':>9}{'None':>7}{'failed batches':>16}"]
        for name, weight in zip(self.composed.names, self.composed.weights):
            mean = f"{self.sums[name] / self.counts[name]:.3f}" if self.counts[name] else "-"
            lines.append(f"{name:<24}{weight:>8g}{mean:>9}{self.nones[name]:>7}{self.composed.failures[name]:>16}")
        return lines


@rewards.command()
@click.option("--rewards", "names", help="Comma-separated rewards (names or file.py:func); default: the config's, "
              "or format,accuracy.")
@click.option("--reward-weights", "weights", help="'0.5,1,1' (one per reward) or 'format:0.5,dtree:2'.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML config with a 'rewards' section (weights, params).")
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSONL: id, question, options, answer, modality, task, completion.")
@click.option("--output", "output_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write scores here (JSONL) instead of stdout.")
@click.option("--variant", type=click.Choice(VARIANTS), default="think", show_default=True,
              help="Prompt variant the completions answered.")
@click.option("--strict", is_flag=True, help="A reward that raises stops the run (default: its scores become null).")
@click.option("--batch-size", type=click.IntRange(min=1), default=1024, show_default=True,
              help="Completions scored per batch.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIME_LIMIT,
              show_default=True, help="Seconds a reward may take on one batch; past it, it counts as failed.")
def score(names, weights, config_path, input_path, output_path, variant, strict, batch_size, time_limit) -> None:
    """Score completions in a JSONL file with composed rewards.

    Writes one line per good input line, in input order:
    {"id", "rewards": {name: score or null}, "total": weighted sum or null};
    then a summary on stderr. Bad lines are reported with their line number and skipped.
    What rewards print goes to stderr, never among the scores.
    """
    from .output import data_stdout

    notes: list[str] = []
    with data_stdout() as stdout:
        out = output_path.open("w", encoding="utf-8") if output_path else stdout
        try:
            tally = _score_file(names, weights, config_path, input_path, out, variant, strict, batch_size,
                                time_limit, notes)
        finally:
            if output_path:
                out.close()
    skipped = sum(1 for n in notes if ": skipped: " in n)
    for note in notes:
        click.echo(note, err=True)
    click.echo(f"\nscored {tally.scored} completion(s) from {input_path}; skipped {skipped} bad line(s); "
               f"{tally.parse_failures} parse failure(s) (not well-formed or no answer)", err=True)
    for line in tally.summary():
        click.echo(line, err=True)
