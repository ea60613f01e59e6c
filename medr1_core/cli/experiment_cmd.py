"""``medr1 experiment EXPERIMENT.yaml``: run a grid of training methods, prompt variants and subsets, and its tables."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="List the cells (number, id, status, folders) and run nothing.")
@click.option("--cell", type=int, default=None, metavar="N",
              help="Run only cell N (0-based, as --dry-run lists them), e.g. $SLURM_ARRAY_TASK_ID; the tables are "
                   "written by a later run without --cell.")
@click.option("--output-dir", "-o", default=None, type=click.Path(file_okay=False),
              help="The experiment's folder (default: output_dir: in the file, else experiments/<name>).")
@click.option("--verbose", "-v", is_flag=True, help="Also print each training step's metrics and the libraries' "
                                                    "own progress bars and warnings.")
def experiment(experiment, dry_run, cell, output_dir, verbose):
    """Run an experiment: every method x prompt variant x training subset, each
    trained then evaluated on every test subset, and the paper's tables.

    Writes experiment.json, summary.md (accuracy per train -> test cell with
    95% intervals, improvement over zero-shot with paired McNemar,
    in-domain vs out-of-domain, method and variant differences), heatmaps
    and report.html into the experiment's folder. Finished cells are
    skipped, so running it again resumes (and does nothing new when all
    are done). See docs/experiments.md.
    """
    from ..experiment import cell_status, experiment_root, plan, read_experiment, run_experiment
    from ..report.console import quiet_libraries, table

    source = Path(experiment)
    spec = read_experiment(source)
    if dry_run:
        root = experiment_root(spec, source, output_dir)
        cells = plan(spec, root, source=str(source))
        rows = [[c.index, c.id, c.method, c.variant, c.train_label or "-", cell_status(root, c),
                 f"runs/{c.id}" if c.config is not None else "-"] for c in cells]
        click.echo(f"{len(cells)} cell(s) in {root}, each tested on: {', '.join(cells[0].tests) if cells else '-'}")
        click.echo(table(["N", "id", "method", "variant", "trained on", "status", "run"], rows))
        return
    quiet_libraries(verbose)
    result = run_experiment(spec, source, output_dir=output_dir, cell=cell, verbose=verbose,
                            say=lambda text: click.echo(text, err=True))
    if cell is None:
        click.echo(result.paths["summary"].read_text())
        click.echo(f"ran {len(result.ran)} cell(s), {len(result.skipped)} finished earlier; wrote "
                   + ", ".join(str(p) for p in result.paths.values()))
