"""One registry for every pluggable part, keyed by (kind, name).

Kinds core registers: ``model``, ``optimizer`` and ``study``; each instrument registers its own kinds
besides (list them with :func:`names`), and a new kind needs nothing but its first registration. Register a factory
by decorating it::

    from alignlab.core import register

    @register("scorer", "my-package/shouting")
    def shouting(phrase: str):
        return lambda text: text.isupper()

Where registrations come from: every module an entry point of the group ``alignlab`` names is imported on
the first lookup, and importing it registers its parts. alignlab's own packages use that group too
(``[project.entry-points.alignlab]`` in pyproject.toml), so this module names no instrument and adding one
edits no file here. An entry point whose module lies under ``alignlab.`` is *built-in*: its parts have plain
names (``adamw``, ``sft``). Any other is a *plugin*: it ships one ``_registry.py`` and names its parts
``package/name``. A plugin that fails to import only warns. When alignlab runs from a source tree without
installed metadata (no built-in entry point at all), the built-ins are found instead as the ``_registry``
module of each subpackage of ``alignlab`` (``_builtins`` for core, whose ``_registry`` is this module).
Factories keep heavy imports (torch, transformers) inside their bodies so that a lookup stays cheap.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import pkgutil
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from alignlab.core._errors import AlignlabError

__all__ = ["RegistryEntry", "check_part_options", "create", "get", "names", "register", "registered"]

ENTRY_POINT_GROUP = "alignlab"
_ROOT = __name__.split(".")[0]  # "alignlab": entry points under this package are built-in
_CORE = __name__.rpartition(".")[0]  # this package: its built-ins register in _builtins (_registry is this module)


@dataclass(frozen=True)
class RegistryEntry:
    """A registered factory and what it is called.

    ``forwards`` names (``"module:Qualname"``) the callable that a factory's ``**options`` are passed on
    to, so :func:`check_part_options` can check them against it too.
    """

    kind: str
    name: str
    factory: Callable[..., Any]
    description: str
    forwards: str | None = None

    @property
    def builtin(self) -> bool:
        """Registered by alignlab itself (its factory lives under the ``alignlab`` package)."""
        return (getattr(self.factory, "__module__", "") or "").split(".")[0] == _ROOT


_entries: dict[tuple[str, str], RegistryEntry] = {}
_loaded = False


def register(kind: str, name: str | None = None, *, description: str | None = None, forwards: str | None = None):
    """Decorator: register ``factory`` as ``(kind, name)``; ``name`` defaults to the function's name.

    Args:
        kind: the kind of part (``"optimizer"``, ``"study"``…).
        name: its name; plugins use ``package/name``.
        description: one line for listings (default: the first line of the docstring).
        forwards: ``"module:Qualname"`` of the callable that receives the factory's ``**options``
            (imported only when options need checking), e.g. ``"torch.optim:AdamW"``.

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
        _entries[key] = RegistryEntry(kind, key[1], factory, description or (doc[0] if doc else ""), forwards)
        return factory

    return decorate


def _builtin_modules() -> list[str]:
    """The registering module of every subpackage of ``alignlab``: ``_registry``, or ``_builtins`` for this
    package (used only when no built-in entry point is installed, e.g. a source tree on ``PYTHONPATH``)."""
    root = importlib.import_module(_ROOT)
    found = []
    for info in pkgutil.iter_modules(root.__path__):
        package = f"{_ROOT}.{info.name}"
        module = f"{package}._builtins" if package == _CORE else f"{package}._registry"
        if info.ispkg and importlib.util.find_spec(module) is not None:
            found.append(module)
    return sorted(found)


def _load() -> None:
    """Import every registering module once: built-in entry points first, then plugins."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    points = list(entry_points(group=ENTRY_POINT_GROUP))
    builtin = [ep for ep in points if ep.module.split(".")[0] == _ROOT]
    plugins = [ep for ep in points if ep not in builtin]
    if builtin:
        for ep in builtin:
            ep.load()  # a broken built-in is a bug: let it raise
    else:
        for module in _builtin_modules():
            importlib.import_module(module)
    for ep in plugins:
        try:
            ep.load()
        except Exception as exc:  # a broken plugin must not break alignlab
            warnings.warn(f"alignlab plugin '{ep.name}' ({ep.value}) failed to load: {exc}", stacklevel=3)


def names(kind: str) -> list[str]:
    """All registered names of one kind, sorted."""
    _load()
    return sorted(n for k, n in _entries if k == kind)


def get(kind: str, name: str) -> RegistryEntry:
    """Look up ``(kind, name)``; an unknown name raises :class:`AlignlabError` listing the known ones."""
    _load()
    try:
        return _entries[(kind, name)]
    except KeyError:
        known = ", ".join(names(kind)) or "none"
        raise AlignlabError(f"Unknown {kind} '{name}'. Known {kind} names: {known}.") from None


def create(kind: str, name: str, **kwargs: Any) -> Any:
    """Build the component ``(kind, name)`` with keyword arguments."""
    return get(kind, name).factory(**kwargs)


def _keywords(target: Callable[..., Any]) -> tuple[set[str], bool]:
    """The keyword names ``target`` accepts, and whether it takes ``**kwargs`` (then it accepts any)."""
    accepted, var_keyword = set(), False
    for p in inspect.signature(target).parameters.values():
        if p.kind is p.VAR_KEYWORD:
            var_keyword = True
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            accepted.add(p.name)
    return accepted, var_keyword


def _resolve(path: str) -> Callable[..., Any]:
    module, _, qualname = path.partition(":")
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def check_part_options(kind: str, name: str, options: Mapping[str, Any], *, reserved: Iterable[str] = (),
                  where: str = "options") -> None:
    """Check that the factory ``(kind, name)`` accepts every keyword in ``options``, before anything is built.

    The factory's signature decides; a factory taking ``**options`` that declares ``forwards`` is checked
    against that callable's signature as well, and one that does not accepts anything. ``reserved`` are
    keywords the caller passes itself, so options may not repeat them.

    Raises:
        AlignlabError: naming the unknown keyword (with a close match) and the accepted ones.

    Example:
        >>> check_part_options("optimizer", "sgd", {"momentum": 0.9})
        >>> check_part_options("optimizer", "sgd", {"momentun": 0.9})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        alignlab.core._errors.AlignlabError: ...'momentun' is not an option of optimizer 'sgd' (did you mean 'momentum'?)...
    """
    entry = get(kind, name)
    reserved = set(reserved)
    taken = sorted(set(options) & reserved)
    if taken:
        raise AlignlabError(f"{where}: '{taken[0]}' is set by its own field, not in the options of {kind} '{name}'.")
    accepted, anything = _keywords(entry.factory)
    unknown = [k for k in options if k not in accepted]
    if not unknown:
        return
    if anything and entry.forwards:
        more, anything = _keywords(_resolve(entry.forwards))
        accepted |= more
        unknown = [k for k in unknown if k not in accepted]
    if not unknown or anything:
        return
    accepted -= reserved | {"params", "self"}
    close = difflib.get_close_matches(unknown[0], accepted, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise AlignlabError(f"{where}: '{unknown[0]}' is not an option of {kind} '{name}'{hint}; its options are: "
                        f"{', '.join(sorted(accepted)) or 'none'}.")


def registered(kind: str, noun: str | None = None, *, passes: Iterable[str] = ()):
    """A pydantic ``AfterValidator`` accepting only names registered as ``kind``.

    ``passes`` are the keywords the caller will build the part with: a factory that cannot take them is
    rejected at validation, not when the cell runs.

    Example::

        Optimizer = Annotated[str, registered("optimizer")]
        Scorer = Annotated[str, registered("scorer", passes=["phrase"])]
    """
    from pydantic import AfterValidator

    passes = tuple(passes)

    def check(value: str) -> str:
        known = names(kind)
        if value not in known:
            raise ValueError(f"unknown {noun or kind} '{value}'; known: {', '.join(known)}")
        accepted, anything = _keywords(get(kind, value).factory)
        missing = [p for p in passes if p not in accepted and not anything]
        if missing:
            raise ValueError(f"{noun or kind} '{value}' cannot take '{missing[0]}', which it is built with "
                             f"(its factory must accept {', '.join(passes)})")
        return value

    return AfterValidator(check)
