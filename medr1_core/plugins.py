"""Finding and loading plugins: the ``medr1`` entry-point group, through pluggy.

Built-in plugins (``medr1_plugins.*``) are found exactly like third-party ones,
through entry points. :func:`get_plugins` loads them once per process and
returns the :class:`Plugins`: what was loaded, what was skipped and why, and
the five registries (rewards, modalities, tasks, data formats, rule files).
:func:`register_commands` adds the commands plugins provide to the CLI.

Environment:

- ``MEDR1_STRICT_PLUGINS=1``: a plugin that fails to load or whose hook raises
  is fatal instead of skipped with a warning.
- ``MEDR1_DISABLE_PLUGINS=a,b``: entry points named ``a`` and ``b`` are not loaded;
  ``medr1 plugins`` lists them as disabled, an unknown name that one of them
  provides says so (``reward 'x' belongs to plugin 'a' (...), which is
  disabled``), and an entry that names no installed plugin is a warning.

Isolation: one plugin's mistakes cost that plugin only. An import that raises
(``SystemExit`` included), a hook medr1 does not define (a misspelt
``medr1_register_reward``), a hook that raises, or a name another plugin
already registered: the plugin is skipped whole (nothing it registered is
kept) with one warning naming it, and every other plugin loads. Built-in
plugins load first, so a third-party plugin can never take over ``format``.
What plugins print while they load goes to stderr, never into medr1's output.
A ``KeyboardInterrupt`` while a plugin loads stops medr1 naming the plugin.
"""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy

from . import hookspecs
from .errors import EXIT_INTERRUPTED, PluginError
from .registry import DuplicateNameError, Registry, did_you_mean

ENTRY_POINT_GROUP = "medr1"

#: hook name -> the registry (attribute of Plugins) it fills
HOOKS = {
    "medr1_register_rewards": "rewards",
    "medr1_register_modalities": "modalities",
    "medr1_register_tasks": "tasks",
    "medr1_register_data_formats": "data_formats",
    "medr1_register_rules": "rules",
}
#: what ``medr1 plugins`` lists per plugin: the registries, and CLI commands
KINDS = (*HOOKS.values(), "commands")


class PluginWarning(UserWarning):
    """A plugin was skipped (it failed to load, or its hook raised), or what it registered does not fit
    (a modality's default tree that no plugin registers, a disable entry that matches no plugin)."""


class PluginInterrupted(PluginError):
    """``KeyboardInterrupt`` (Ctrl-C, or a plugin raising it) while a plugin was loading; names the plugin."""

    exit_code = EXIT_INTERRUPTED


@dataclass
class PluginInfo:
    """One loaded (or skipped) plugin, as ``medr1 plugins`` shows it."""

    name: str
    distribution: str | None
    version: str | None
    module: str
    registered: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    error: str | None = None
    disabled: bool = False
    """Not loaded: ``MEDR1_DISABLE_PLUGINS`` names its entry point."""

    @property
    def label(self) -> str:
        dist = f"{self.distribution} {self.version}" if self.distribution else "in-process"
        return f"plugin '{self.name}' ({dist})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            **self.registered,
            "error": self.error,
            "disabled": self.disabled,
        }


@dataclass
class Plugins:
    """Everything the plugins provided."""

    manager: pluggy.PluginManager
    infos: list[PluginInfo]
    rewards: Registry = field(default_factory=lambda: Registry("reward"))
    modalities: Registry = field(default_factory=lambda: Registry("modality"))
    tasks: Registry = field(default_factory=lambda: Registry("task"))
    data_formats: Registry = field(default_factory=lambda: Registry("data format"))
    rules: Registry = field(default_factory=lambda: Registry("rule file"))

    disabled: dict[str, Any] = field(default_factory=dict)
    """Entry points ``MEDR1_DISABLE_PLUGINS`` disabled, by name (never loaded unless a name is unknown)."""
    _probed: dict[str, dict[str, set[str]] | None] = field(default_factory=dict, repr=False)

    def disabled_owner(self, kind: str, name: str) -> str | None:
        """Which disabled plugin provides ``name`` of ``kind`` (for the unknown-name error), or which are disabled.

        Only then is a disabled plugin imported, in isolation (a throwaway plugin manager; what it prints
        goes to stderr; if it fails, it is just not named).
        """
        if not self.disabled:
            return None
        from .registry import normalise_label

        key = normalise_label(name)
        for ep_name, (info, ep) in self.disabled.items():
            if ep_name not in self._probed:
                self._probed[ep_name] = _probe(ep)
            found = self._probed[ep_name]
            if found is not None and key in found.get(kind, ()):
                setting = os.environ.get("MEDR1_DISABLE_PLUGINS", "")
                return f"belongs to {info.label}, which is disabled (MEDR1_DISABLE_PLUGINS={setting})"
        return f"(Disabled by MEDR1_DISABLE_PLUGINS: {', '.join(self.disabled)}.)"

    # LabelResolver protocol, for data formats.
    def modality(self, label: str | None) -> str | None:
        return self.modalities.resolve(label)

    def task(self, label: str | None) -> str | None:
        return self.tasks.resolve(label)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _fail(info: PluginInfo, what: str, exc: BaseException | None, strict: bool) -> None:
    """Skip ``info``'s plugin with one warning (or raise :class:`PluginError` when strict)."""
    if exc is None or isinstance(exc, DuplicateNameError):
        info.error = f"{what}: {exc}" if exc is not None else what
        detail = ""
    else:
        info.error = f"{what}: {type(exc).__name__}: {exc}"
        detail = "\n" + "".join(traceback.format_exception(exc)).rstrip()
    message = f"{info.label} from module '{info.module}' {info.error}"
    if strict:
        raise PluginError(message) from exc
    warnings.warn(f"skipping {message} (set MEDR1_STRICT_PLUGINS=1 to make this fatal){detail}",
                  PluginWarning, stacklevel=3)


def _interrupted(info: PluginInfo, doing: str) -> PluginInterrupted:
    return PluginInterrupted(f"interrupted while {info.label} from module '{info.module}' was {doing}")


def _unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> str | None:
    """Why ``plugin`` is wrong when it implements a hook medr1 does not define (a misspelt name)."""
    known = [name for name in dir(hookspecs) if name.startswith("medr1_")]
    wrong = sorted(
        caller.name for caller in pm.get_hookcallers(plugin) or ()
        if caller.spec is None and any(impl.plugin is plugin and not impl.optionalhook
                                       for impl in caller.get_hookimpls())
    )
    if not wrong:
        return None
    hints = [f"{name} (did you mean {hint}?)" if (hint := did_you_mean(name, known)) else name for name in wrong]
    return f"implements {', '.join(hints)}, which medr1 does not define; its hooks are {', '.join(known)}"


def _register(pm: pluggy.PluginManager, info: PluginInfo, load, name: str, strict: bool) -> object | None:
    """Import (``load()``) and register one plugin; ``None`` if it was skipped."""
    try:
        with redirect_stdout(sys.stderr):
            plugin = load()
        pm.register(plugin, name=name)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a broken plugin must not break medr1
        _fail(info, "failed to load", exc, strict)
        return None
    except KeyboardInterrupt:
        raise _interrupted(info, "loading") from None
    problem = _unknown_hooks(pm, plugin)
    if problem:
        pm.unregister(plugin)
        _fail(info, problem, None, strict)
        return None
    return plugin


def _expected_types() -> dict[str, tuple[type, str]]:
    from .rewards import Reward
    from .specs import DataFormat, Modality, Task

    return {
        "rewards": (Reward, "a medr1_core.Reward subclass (e.g. made with @reward)"),
        "modalities": (Modality, "a medr1_core.Modality"),
        "tasks": (Task, "a medr1_core.Task"),
        "data_formats": (DataFormat, "a medr1_core.DataFormat"),
    }


def _register_callback(kind: str, pending: list):
    if kind == "rules":
        from .specs import rule_files

        def register_rules(obj: Any) -> None:
            for rule_file in rule_files(obj):
                pending.append((kind, rule_file.name, rule_file, ()))

        return register_rules
    expected, what = _expected_types()[kind]

    def register(obj: Any) -> None:
        ok = issubclass(obj, expected) if isinstance(obj, type) else isinstance(obj, expected)
        if not ok or (kind == "rewards" and not isinstance(obj, type)):
            raise TypeError(f"register() for {kind} takes {what}, got {obj!r}")
        name = getattr(obj, "id", None) or obj.name
        pending.append((kind, name, obj, tuple(getattr(obj, "aliases", ()) or ())))

    return register


def load_plugins(extra: list[tuple[str, object]] = (), *, strict: bool | None = None) -> Plugins:
    """Load every plugin of the ``medr1`` entry-point group, plus ``extra``.

    ``extra`` is a list of ``(name, module_or_object)`` registered in-process
    (for tests and notebooks; :mod:`medr1_core.testing` wraps this). A module
    that an installed entry point already loaded is not registered twice. A plugin that registers a name (or alias)
    already taken is skipped with a warning naming both plugins
    (:class:`~medr1_core.registry.DuplicateNameError` under ``strict``); see
    the module doc for the other ways a plugin is skipped.
    """
    strict = _env_flag("MEDR1_STRICT_PLUGINS") if strict is None else strict
    disabled = {s.strip() for s in os.environ.get("MEDR1_DISABLE_PLUGINS", "").split(",") if s.strip()}

    pm = pluggy.PluginManager("medr1")
    pm.add_hookspecs(hookspecs)
    plugins = Plugins(manager=pm, infos=[])
    loaded: list[tuple[PluginInfo, object]] = []

    # built-ins first: a plugin cannot take over a name medr1 itself ships
    eps = sorted(entry_points(group=ENTRY_POINT_GROUP),
                 key=lambda e: (bool(e.dist) and e.dist.name != "medr1", e.dist.name if e.dist else "", e.name))
    _check_disabled(disabled, [ep.name for ep in eps])
    for ep in eps:
        dist = ep.dist
        info = PluginInfo(ep.name, dist.name if dist else None, dist.version if dist else None, ep.value)
        plugins.infos.append(info)
        if ep.name in disabled:
            info.disabled = True
            plugins.disabled[ep.name] = (info, ep)
            continue
        module = _register(pm, info, ep.load, ep.name, strict)
        if module is not None:
            loaded.append((info, module))

    for name, obj in extra:
        if pm.is_registered(obj):  # its package is installed: its entry point loaded this very module
            continue
        info = PluginInfo(name, None, None, getattr(obj, "__name__", repr(obj)))
        plugins.infos.append(info)
        if pm.get_plugin(name) is not None:
            taken = next(i for i in plugins.infos if i.name == name and i is not info)
            _fail(info, f"has the name of {taken.label}; give the in-process plugin another name", None, strict)
            continue
        if _register(pm, info, lambda obj=obj: obj, name, strict) is not None:
            loaded.append((info, obj))

    pm.check_pending()

    for info, obj in loaded:
        _call_register_hooks(pm, plugins, info, obj, strict)
    _check_default_trees(plugins)
    for kind in HOOKS.values():
        getattr(plugins, kind).unknown_hint = lambda name, kind=kind: plugins.disabled_owner(kind, name)
    return plugins


def _check_disabled(disabled: set[str], names: list[str]) -> None:
    """Warn about each ``MEDR1_DISABLE_PLUGINS`` entry that names no installed entry point."""
    for entry in sorted(disabled - set(names)):
        hint = did_you_mean(entry, names)
        warnings.warn(
            f"MEDR1_DISABLE_PLUGINS names '{entry}', which is no installed plugin"
            f"{f' (did you mean {hint!r}?)' if hint else ''}; it disables entry-point names: "
            f"{', '.join(sorted(set(names)))}", PluginWarning, stacklevel=3)


def _probe(ep) -> dict[str, set[str]] | None:
    """What a (disabled) entry point would register, as normalised names and aliases per kind; None if it fails."""
    from .registry import normalise_label

    pm = pluggy.PluginManager("medr1")
    pm.add_hookspecs(hookspecs)
    found: dict[str, set[str]] = {kind: set() for kind in HOOKS.values()}
    try:
        with redirect_stdout(sys.stderr), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plugin = ep.load()
            pm.register(plugin, name=f"probe-{ep.name}")
            for hook_name, kind in HOOKS.items():
                for impl in getattr(pm.hook, hook_name).get_hookimpls():
                    pending: list = []
                    kwargs = {"register": _register_callback(kind, pending)}
                    impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
                    for _kind, name, _obj, aliases in pending:
                        found[kind].update(normalise_label(label) for label in (name, *aliases))
    except (Exception, SystemExit):  # noqa: BLE001 - a disabled plugin that cannot load is just not named
        return None
    return found


def _check_default_trees(plugins: Plugins) -> None:
    """Warn, once per plugin, about the ``default_trees`` of its modalities that no plugin registered."""
    known = plugins.rules.names()
    missing: dict[str, list[str]] = {}
    for name, modality in plugins.modalities.items():
        for tree in modality.default_trees:
            if tree not in plugins.rules:
                hint = did_you_mean(tree, known) if known else None
                missing.setdefault(plugins.modalities.origin(name), []).append(
                    f"modality '{name}' lists '{tree}'" + (f" (did you mean {hint!r}?)" if hint else ""))
    off = [info.label for info in plugins.infos if info.disabled or info.error]
    for origin, problems in missing.items():
        warnings.warn(
            f"{origin}: default trees that no plugin registers: {'; '.join(problems)}. A plugin registers its "
            f"rule files with medr1_register_rules (registered: {', '.join(sorted(known)) or 'none'}"
            + (f"; not loaded: {', '.join(off)}" if off else "") + ")",
            PluginWarning, stacklevel=3)


def _call_register_hooks(pm: pluggy.PluginManager, plugins: Plugins, info: PluginInfo, obj: object,
                         strict: bool) -> None:
    """Run ``obj``'s register hooks and add what it registered: all of it, or (on any error) none."""
    pending: list = []
    try:
        with redirect_stdout(sys.stderr):
            for hook_name, kind in HOOKS.items():
                for impl in getattr(pm.hook, hook_name).get_hookimpls():
                    if impl.plugin is obj:
                        kwargs = {"register": _register_callback(kind, pending)}
                        impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
    except (Exception, SystemExit) as exc:  # noqa: BLE001
        _fail(info, "raised in its hook", exc, strict)
        pm.unregister(obj)
        return
    except KeyboardInterrupt:
        raise _interrupted(info, "registering") from None
    added: list[tuple[str, str]] = []
    try:
        for kind, name, item, aliases in pending:
            getattr(plugins, kind).add(name, item, info.label, aliases)
            added.append((kind, name))
    except (DuplicateNameError, ValueError) as exc:
        for kind, name in added:
            getattr(plugins, kind).remove(name)
        _fail(info, "registers a name already taken", exc, strict)
        pm.unregister(obj)
        return
    for kind, name in added:
        info.registered[kind].append(name)


def register_commands(cli, plugins: Plugins | None = None) -> None:
    """Call every loaded plugin's ``medr1_register_commands(cli)``, each isolated like the other hooks."""
    plugins = plugins or get_plugins()
    strict = _env_flag("MEDR1_STRICT_PLUGINS")
    by_name = {info.name: info for info in plugins.infos}
    for impl in plugins.manager.hook.medr1_register_commands.get_hookimpls():
        info = by_name.get(impl.plugin_name) or PluginInfo(impl.plugin_name, None, None, repr(impl.plugin))
        before = set(cli.commands)
        try:
            with redirect_stdout(sys.stderr):
                impl.function(cli=cli)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a broken plugin must not break medr1
            for name in set(cli.commands) - before:
                del cli.commands[name]
            _fail(info, "raised in medr1_register_commands", exc, strict)
            continue
        except KeyboardInterrupt:
            raise _interrupted(info, "adding its commands") from None
        info.registered["commands"].extend(sorted(set(cli.commands) - before))


_PLUGINS: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugins, loaded on first use."""
    global _PLUGINS
    if _PLUGINS is None:
        _PLUGINS = load_plugins()
    return _PLUGINS


def reset_plugins() -> None:
    """Forget the loaded plugins (tests; after installing a plugin package)."""
    global _PLUGINS
    _PLUGINS = None
