"""The ``medr1`` command line.

Each built-in sub-command lives in its own module and is imported only when it
runs (or when ``--help`` lists it), so ``medr1 --help`` and ``medr1 plugins``
never import torch, transformers or trl. Plugins add commands through the
``medr1_register_commands(cli)`` hook (``medr1 rules`` comes from the dtree
reward plugin); they are loaded when a command is not a built-in one, or when
the commands are listed.

Errors: every :class:`~medr1_core.errors.Medr1Error` is caught here, once, and
printed as one line ``medr1: error: ...``; the exit codes are those of
:mod:`medr1_core.errors` (2 usage, 1 run failure, 130 interrupted).
"""

from __future__ import annotations

import importlib
import sys
import warnings

import click

from .._version import __version__
from ..errors import EXIT_INTERRUPTED, EXIT_USAGE, Medr1Error

#: command word -> "module:attribute" of its click command
COMMANDS = {
    "plugins": "medr1_core.cli.plugins_cmd:plugins",
    "rewards": "medr1_core.cli.rewards_cmd:rewards",
    "data": "medr1_core.cli.data_cmd:data",
    "train": "medr1_core.cli.train_cmd:train",
    "sft": "medr1_core.cli.sft_cmd:sft",
    "eval": "medr1_core.cli.eval_cmd:eval_",
    "report": "medr1_core.cli.report_cmd:report",
    "experiment": "medr1_core.cli.experiment_cmd:experiment",
}


class Medr1ClickError(click.ClickException):
    """A :class:`~medr1_core.errors.Medr1Error` on its way out of a command: one line, its exit code."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(error_line(self.format_message()), err=True)


class LazyGroup(click.Group):
    """A click group that imports a built-in sub-command's module only when needed, and asks
    the plugins for theirs (once) when a command is not built in."""

    def __init__(self, *args, lazy: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy
        self._plugin_commands_loaded = False

    def load_plugin_commands(self) -> None:
        if not self._plugin_commands_loaded:
            self._plugin_commands_loaded = True
            from ..plugins import register_commands

            register_commands(self)

    def list_commands(self, ctx):
        self.load_plugin_commands()
        return sorted({*super().list_commands(ctx), *self.lazy})

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Medr1Error as exc:
            raise Medr1ClickError(str(exc), exc.exit_code) from None

    def get_command(self, ctx, name):
        if name in self.lazy:
            module, attr = self.lazy[name].split(":")
            return getattr(importlib.import_module(module), attr)
        self.load_plugin_commands()
        return super().get_command(ctx, name)


def _format_warning(message, category, filename, lineno, line=None):
    return f"medr1: warning: {message}\n"


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="medr1")
def cli():
    """Train and evaluate medical vision-language models with GRPO.

    Rewards, imaging modalities, question types and data formats are plugins:
    `medr1 plugins` lists what is installed.

    \b
    Exit codes: 0 success, 1 the run failed, 2 bad usage, config or data
    (nothing was started), 130 interrupted.
    """
    warnings.formatwarning = _format_warning


def error_line(message: str) -> str:
    """A user-facing error as the one line (or first line plus detail) medr1 prints."""
    return f"medr1: error: {message}"


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the CLI, turn medr1's errors into one line and an exit code."""
    try:
        # click returns the code of a `ctx.exit(n)` / `Exit(n)` instead of exiting
        rv = cli.main(args=argv, prog_name="medr1", standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort) as exc:
        cause = exc.__cause__ if isinstance(exc, click.exceptions.Abort) and exc.__cause__ else exc
        where = f" ({cause})" if str(cause) else ""
        click.echo(f"medr1: interrupted{where}; what was written so far is kept", err=True)
        return EXIT_INTERRUPTED
    except Medr1Error as exc:  # raised outside a command (e.g. while finding a plugin's command)
        click.echo(error_line(str(exc)), err=True)
        return exc.exit_code
    except click.UsageError as exc:
        exc.show()
        return EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    finally:
        _close_process_group()
    return rv if isinstance(rv, int) else 0


def _close_process_group() -> None:
    """Tear down torch.distributed's process group of a multi-process run before the interpreter exits
    (left to exit, gloo's threads can abort a finished rank: "terminate called without an active exception").
    Only where a command already imported torch.distributed: the CLI's start-up never imports torch."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
