"""``medr1 plugins``: what is installed and what each plugin registered."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list instead of a table.")
@click.pass_context
def plugins(ctx, as_json: bool) -> None:
    """List plugins: distribution, version and what each registered (commands included)."""
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
