"""The errors medr1 raises for its users, and what ``medr1`` exits with for each.

Every error meant for a person (a bad config field, an unknown reward, an
unreadable dataset, a run directory that is not a run) derives from
:class:`Medr1Error`, as every llm model error derives from ``llm.ModelError``.
The command line catches ``Medr1Error`` once, prints its message on one line
(``medr1: error: ...``) and exits with its :attr:`~Medr1Error.exit_code`:

==== ================================================================
code meaning
==== ================================================================
0    success
1    the run failed: a reward or plugin broke under strict mode, a
     training or evaluation step failed, training diverged
2    usage: bad options, config, names, parameters, data or paths,
     found before any work started (nothing was changed)
130  interrupted (Ctrl-C); what was written so far is kept
==== ================================================================

A plugin raises these too (``from medr1_core.errors import ConfigError``) so
its users see one line instead of a traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class Medr1Error(Exception):
    """Base of every error whose message is for the user; the CLI prints it as one line."""

    exit_code: int = EXIT_RUN_FAILED


class UsageError(Medr1Error):
    """Bad input found before any work started: options, config, names, data, paths (exit 2)."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError, ValueError):
    """A configuration value that does not validate; the message names the file and field."""


class UnknownNameError(UsageError, KeyError):
    """A name nobody registered; the message lists the known names and a suggestion."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataError(UsageError, ValueError):
    """A dataset that cannot be read as asked; the message names the file, record or field."""


class RunDirError(UsageError):
    """An output directory this command must not use (a user's folder, a run in use, a finished run)."""


class MissingDependency(UsageError, ImportError):
    """An optional package a feature needs is not installed; the message says what to install."""


class PluginError(Medr1Error):
    """A plugin failed under ``MEDR1_STRICT_PLUGINS=1``, or registered something invalid; names the plugin."""


class RunFailed(Medr1Error, RuntimeError):
    """A training or evaluation run that started and could not finish; the message says why."""
