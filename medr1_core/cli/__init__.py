"""The ``medr1`` command line.

Each sub-command lives in its own module and is imported only when it runs (or
when ``--help`` lists it), so ``medr1 --help`` and ``medr1 plugins`` never
import torch, transformers or trl.
"""

from __future__ import annotations

import importlib
import sys
import warnings

import click

from .. import __version__

#: command word -> "module:attribute" of its click command
COMMANDS = {
    "plugins": "medr1_core.cli.plugins_cmd:plugins",
    "rewards": "medr1_core.cli.rewards_cmd:rewards",
    "rules": "medr1_core.cli.rules_cmd:rules",
    "data": "medr1_core.cli.data_cmd:data",
    "train": "medr1_core.cli.train_cmd:train",
    "eval": "medr1_core.cli.eval_cmd:eval_",
}


class LazyGroup(click.Group):
    """A click group that imports a sub-command's module only when needed."""

    def __init__(self, *args, lazy: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx, name):
        if name in self.lazy:
            module, attr = self.lazy[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


def _format_warning(message, category, filename, lineno, line=None):
    return f"medr1: warning: {message}\n"


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="medr1")
def cli():
    """Train and evaluate medical vision-language models with GRPO.

    Rewards, imaging modalities, question types and data formats are plugins:
    `medr1 plugins` lists what is installed.
    """
    warnings.formatwarning = _format_warning


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    try:
        # click returns the code of a `ctx.exit(n)` / `Exit(n)` instead of exiting
        rv = cli.main(args=argv, prog_name="medr1", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
