"""Typed name registries: one flat namespace per kind of plugin object.

Also the two ways medr1 reads names typed by a person: :func:`comma_list`
(``"ct, MRI"`` -> ``["ct", "MRI"]``) and :func:`normalise_label` (labels
compared ignoring case and punctuation).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from .errors import PluginError, UnknownNameError

T = TypeVar("T")

__all__ = ["Registry", "DuplicateNameError", "UnknownNameError", "comma_list", "normalise_label", "did_you_mean"]


class DuplicateNameError(PluginError, ValueError):
    """Two plugins registered the same name; the message names both distributions."""


def comma_list(values: str | Iterable[str] | None) -> list[str]:
    """Names from ``"a,b"``, ``["a", "b,c"]`` or ``None``: split on commas, stripped, blanks dropped.

    >>> comma_list(" ct, MRI ,")
    ['ct', 'MRI']
    >>> comma_list(["ct,mri", "xray"])
    ['ct', 'mri', 'xray']
    """
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [part.strip() for value in values for part in str(value).split(",") if part.strip()]


def normalise_label(label: str) -> str:
    """Case- and punctuation-insensitive form of a label: ``"MR (Mag-netic…"`` -> ``"mrmagnetic…"``."""
    return re.sub(r"[\W_]+", "", label.casefold())


def did_you_mean(name: str, known: list[str]) -> str | None:
    """The known name closest to ``name``, if any is close."""
    from rapidfuzz import fuzz, process

    best = process.extractOne(name, known, scorer=fuzz.ratio, score_cutoff=60)
    return best[0] if best else None


class Registry(Generic[T]):
    """Names (and their aliases) of one kind, each mapped to what a plugin registered."""

    def __init__(self, kind: str):
        self.kind = kind
        #: called with an unknown name; what it returns is added to the error (e.g. "belongs to disabled plugin X")
        self.unknown_hint: Callable[[str], str | None] | None = None
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        self._aliases: dict[str, str] = {}
        self._resolved: dict[str, str | None] = {}  # label as written -> canonical name (labels repeat in data)

    def add(self, name: str, item: T, origin: str, aliases: tuple[str, ...] = ()) -> None:
        """Register ``item`` under ``name`` (and ``aliases``) for the plugin ``origin``."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{origin}: a {self.kind} needs a non-empty string name, got {name!r}")
        if name in self._items:
            raise DuplicateNameError(
                f"{self.kind} '{name}' is registered twice: by {self._origins[name]} and by {origin}"
            )
        for label in (name, *aliases):
            key = normalise_label(label)
            owner = self._aliases.get(key)
            if owner is not None and owner != name:
                raise DuplicateNameError(
                    f"{self.kind} label '{label}' of '{name}' ({origin}) is already "
                    f"claimed by '{owner}' ({self._origins[owner]})"
                )
        self._items[name] = item
        self._origins[name] = origin
        self._resolved.clear()
        for label in (name, *aliases):
            self._aliases[normalise_label(label)] = name

    def remove(self, name: str) -> None:
        """Forget ``name`` and its aliases (a plugin skipped part-way through registering)."""
        self._items.pop(name, None)
        self._origins.pop(name, None)
        self._aliases = {label: owner for label, owner in self._aliases.items() if owner != name}
        self._resolved.clear()

    def get(self, name: str) -> T:
        """The item named ``name`` or one of its aliases; unknown names fail helpfully."""
        if name in self._items:
            return self._items[name]
        canonical = self.resolve(name)
        if canonical is not None:
            return self._items[canonical]
        known = sorted(self._items)
        extra = self.unknown_hint(name) if self.unknown_hint is not None else None
        if extra and extra.startswith("belongs to"):
            raise UnknownNameError(f"{self.kind} '{name}' {extra}")
        hint = did_you_mean(name, known)
        msg = f"unknown {self.kind} '{name}'."
        if hint:
            msg += f" Did you mean '{hint}'?"
        msg += f" Known {self.kind}s: {', '.join(known) or '(none registered)'}."
        if extra:
            msg += f" {extra}"
        raise UnknownNameError(msg)

    def resolve(self, label: str | None) -> str | None:
        """The canonical name for a name or alias, or ``None``."""
        if not label:
            return None
        try:
            return self._resolved[label]
        except (KeyError, TypeError):
            pass
        found = self._aliases.get(normalise_label(label))
        if isinstance(label, str) and len(self._resolved) < 10_000:
            self._resolved[label] = found
        return found

    def origin(self, name: str) -> str:
        return self._origins[name]

    def names(self) -> list[str]:
        return list(self._items)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
