"""``medr1 report DIR``: write the HTML report of a training run, an evaluation or an experiment."""

from __future__ import annotations

import click


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Where to write the page (default: DIRECTORY/report.html).")
@click.option("--max-items", type=click.IntRange(min=1), default=None,
              help="List at most this many completions (run; default 2000) or questions (evaluation; default 2000).")
def report(directory, output, max_items):
    """Write DIRECTORY's report.html: one self-contained page that opens from disk, offline.

    \b
    A training run (medr1 train / sft): reward curves per reward, modality and
      task, each logged step's sampled completions with their images, every
      reward's score and the dtree explanation, the configuration and data report.
    An evaluation (medr1 eval): accuracy tables, the modality x task heatmap,
      each question with its image, the model's answer and the expected one.
    An experiment (medr1 experiment): its grid, tables, figures and summary.

    Runs and evaluations write their report themselves (a run at every
    checkpoint and at the end); this command writes it again on demand.
    """
    from ..report import write_report

    path = write_report(directory, output, max_items=max_items)
    click.echo(f"wrote {path}")
