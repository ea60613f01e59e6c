"""``medr1 plugins``: what is installed and what each plugin registered.

``medr1 plugins new NAME``: a working plugin package to start from (:mod:`medr1_core.scaffold`).
"""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list instead of a table.")
@click.pass_context
def plugins(ctx, as_json: bool) -> None:
    """List plugins: distribution, version and what each registered (commands included).

    `medr1 plugins new NAME` writes a working plugin package to start from.
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..plugins import KINDS, get_plugins
    from .output import data_stdout

    with data_stdout():  # what plugins print while loading goes to stderr
        ctx.find_root().command.load_plugin_commands()
        infos = get_plugins().infos
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in infos], indent=2))
        return
    for info in infos:
        dist = f"{info.distribution} {info.version}" if info.distribution else "(in-process)"
        click.echo(f"{info.name}  [{dist}]  {info.module}")
        if info.disabled:
            click.echo("    DISABLED by MEDR1_DISABLE_PLUGINS (not loaded)")
        if info.error:
            click.echo(f"    SKIPPED: {info.error}")
        for kind in KINDS:
            if info.registered[kind]:
                click.echo(f"    {kind.replace('_', ' ')}: {', '.join(info.registered[kind])}")


@plugins.command()
@click.argument("name")
@click.option("--dir", "parent", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder to create the package folder (medr1-NAME) in.")
def new(name: str, parent: Path) -> None:
    """Write a working plugin package medr1-NAME: pyproject with the entry point, a reward, a
    modality, a decision tree (package data) and tests using medr1_core.testing that pass as written.
    """
    from ..scaffold import new_plugin

    root = new_plugin(name, parent)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        click.echo(f"wrote {path}")
    click.echo(f"\nnext: cd {root} && python -m pytest    # then: pip install -e . && medr1 plugins")
