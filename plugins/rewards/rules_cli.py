"""``medr1 rules``: check decision-tree files and see how one judges a completion.

The command belongs to the ``dtree`` reward plugin: it is added to the ``medr1``
command line through the ``medr1_register_commands(cli)`` hook, like any
plugin's command, and the core knows nothing of it. The decision-tree engine is
imported only when a sub-command runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from medr1_core.errors import UsageError
from medr1_core.samples import VARIANTS


def _dtree_class():
    from .dtree import DTreeReward

    return DTreeReward


def register(cli: click.Group) -> None:
    """Add ``medr1 rules`` to ``cli``."""
    cli.add_command(rules)


@click.group()
def rules() -> None:
    """Decision-tree rule files of the dtree reward: validate, explain, list."""


@rules.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check tree files (YAML/JSON; folders: every tree in them) against the schema and for meaning.

    Prints each problem as FILE: JSON-PATH: what was expected. Exits 1 if any file is invalid.
    """
    results = _dtree_class().check_files(files)
    if not results:
        raise UsageError(f"no tree files (*.yaml, *.yml, *.json) in {', '.join(map(str, files))}")
    bad = 0
    for path, errors, summary in results:
        if errors:
            bad += 1
            for error in errors:
                click.echo(error, err=True)
        else:
            click.echo(f"ok {path}: {summary}")
    if bad:
        click.echo(f"{bad} of {len(results)} tree file(s) invalid", err=True)
        raise click.exceptions.Exit(1)


def parse_options(text: str | None) -> dict[str, str] | None:
    """``'A=CT;B=MRI'`` or a JSON object -> ``{"A": "CT", "B": "MRI"}``."""
    if not text:
        return None
    text = text.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"invalid JSON: {exc.msg}", param_hint="--options") from None
        if not isinstance(value, dict):
            raise click.BadParameter("expected a JSON object of letter -> text", param_hint="--options")
        return {str(k): str(v) for k, v in value.items()}
    options = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        letter, sep, option = part.partition("=")
        if not sep or not letter.strip():
            raise click.BadParameter(f"expected 'A=text;B=text', got {part!r}", param_hint="--options")
        options[letter.strip()] = option.strip()
    return options


@rules.command()
@click.argument("tree")
@click.option("--question", required=True, help="The question asked.")
@click.option("--completion", required=True, help="The model's completion (with <think>/<answer> tags).")
@click.option("--options", "options_text", help="'A=CT;B=MRI' or a JSON object; omit for an open question.")
@click.option("--answer", help="The correct letter (or reference text); without it nothing is scored.")
@click.option("--modality", help="Modality id or alias (ct, 'X-Ray', ...).")
@click.option("--task", help="Task id or alias (disease_diagnosis, 'Lesion Grading', ...).")
@click.option("--variant", type=click.Choice(VARIANTS), default="think", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
def explain(tree, question, completion, options_text, answer, modality, task, variant, as_json) -> None:
    """Show how TREE (a tree file, or the name of a registered tree: `medr1 rules list`) judges a completion.

    Prints whether it applies, how options map to its conclusions, the findings
    matched (and negated, with the cue), the path taken and the score.
    """
    from medr1_core.parsing import make_rollouts
    from medr1_core.plugins import get_plugins
    from medr1_core.samples import Sample

    cls = _dtree_class()
    params = {"trees": [str(tree)], "shipped": False} if Path(tree).exists() else {"only": [tree]}
    reward = cls(params)  # bad trees or parameters: a one-line medr1 error
    plugins = get_plugins()
    labels = {}
    for key, label, registry in (("modality", modality, plugins.modalities), ("task", task, plugins.tasks)):
        labels[key] = registry.resolve(label) if label else None
        if label and labels[key] is None:
            raise click.BadParameter(f"unknown {key} '{label}'; known: {', '.join(registry.names())}",
                                     param_hint=f"--{key}")
    sample = Sample(id="explain", question=question, answer=answer or "", options=parse_options(options_text),
                    modality=labels["modality"], task=labels["task"])
    rollout = make_rollouts([sample], [completion], variant)[0]
    report = reward.explain(rollout, every_tree=True)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    c = rollout.completion
    click.echo(f"completion: answer {c.answer!r}, letter {c.letter or '-'}, "
               f"{'well-formed' if c.well_formed else 'problems: ' + ', '.join(c.problems)}")
    for t in report["trees"]:
        click.echo(f"\ntree {t['tree']}: {t['title']}  ({t['source']})")
        click.echo(f"  applies: {'yes' if t['applies'] else 'no - ' + str(t['why_not'])}")
        if t["options"]:
            mapped = ", ".join(f"{k}={'/'.join(v)}" for k, v in sorted(t["options"].items()))
            click.echo(f"  options -> conclusions: {mapped}")
        click.echo(f"  ground truth: {', '.join(t['truth']) or '-'}; chosen ({t['chosen_letter'] or '-'}): "
                   f"{', '.join(t['chosen']) or '-'}")
        affirmed = [m for m in t["mentions"] if m["negated_by"] is None]
        negated = [m for m in t["mentions"] if m["negated_by"] is not None]
        click.echo("  findings: " + (", ".join(f"{m['finding']} (\"{m['text']}\")" for m in affirmed) or "none"))
        if negated:
            click.echo("  negated:  " + ", ".join(
                f"{m['finding']} (\"{m['text']}\", by \"{m['negated_by']}\")" for m in negated))
        click.echo("  path:")
        for step in t["path"]:
            note = f"  - {step['note']}" if step["note"] else ""
            click.echo(f"    {step['node']}: {'yes' if step['held'] else 'no'}{note}")
        click.echo(f"    -> conclusion: {t['conclusion'] or 'none (undecided)'}")
        if t["score"] is not None:
            click.echo(f"  score: {t['score']:.2f} ({t['reason']})")
    total = report["score"]
    click.echo(f"\ndtree score: {'None (no tree applies)' if total is None else f'{total:.2f}'}")


@rules.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list instead of text.")
def list_(as_json: bool) -> None:
    """List the registered decision trees (medr1's and those plugins ship): scope, sources, and the
    plugin that registered each."""
    cls = _dtree_class()
    reward = cls()
    if as_json:
        click.echo(json.dumps([{
            "name": t.id, "title": t.title, "plugin": t.origin, "source": t.source,
            "modalities": sorted(t.modalities), "tasks": sorted(t.tasks), "conclusions": list(t.conclusions),
            "references": list(t.references)} for t in reward.trees], indent=2))
        return
    for tree in reward.trees:
        scope = []
        if tree.modalities:
            scope.append("modalities " + ", ".join(sorted(tree.modalities)))
        if tree.tasks:
            scope.append("tasks " + ", ".join(sorted(tree.tasks)))
        click.echo(f"{tree.id}: {tree.title}  [{tree.origin or tree.source}]")
        click.echo(f"    {'; '.join(scope) or 'any sample'}; conclusions {', '.join(tree.conclusions)}")
        click.echo(f"    file: {tree.source}")
        for ref in tree.references:
            click.echo(f"    - {ref}")
