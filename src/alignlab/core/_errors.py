"""Errors that reach users.

A user mistake (bad spec, unknown model, missing file) raises :class:`AlignlabError`; the CLI prints its
message as one paragraph and exits with status 2, without a traceback. Anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import importlib

__all__ = ["AlignlabError", "MissingExtraError", "require"]


class AlignlabError(Exception):
    """A problem the user can fix; the message names the field or file and what is expected."""


class MissingExtraError(AlignlabError, ImportError):
    """An optional dependency is not installed; the message gives the install command."""


def require(module: str, *, extra: str | None = None, package: str | None = None, why: str = ""):
    """Import an optional module or raise :class:`MissingExtraError` naming the install command.

    Args:
        module: importable module name, e.g. ``"ray"``.
        extra: the alignlab extra that provides it, e.g. ``"ray"`` gives ``pip install 'alignlab[ray]'``.
        package: the PyPI name, when no extra provides it.
        why: what needs it, for the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        command = f"pip install 'alignlab[{extra}]'" if extra else f"pip install {package or module}"
        need = f" {why}" if why else ""
        raise MissingExtraError(
            f"The optional package '{module}' is not installed; it is needed{need}. Install it with: {command}"
        ) from exc
