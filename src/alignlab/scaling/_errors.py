"""Refusals: a fit that cannot give a trustworthy number says so, with a reason code and a sentence."""

from __future__ import annotations

from typing import Literal

from alignlab.core._errors import AlignlabError

__all__ = ["FitRefused", "RefusalReason"]

RefusalReason = Literal[
    "too_few_runs", "narrow_range", "degenerate_grid", "no_interior_minimum", "at_bound", "not_converged",
]


class FitRefused(AlignlabError):
    """The data cannot support the requested fit; ``reason`` is a machine-readable code.

    It is an :class:`AlignlabError`, so the CLI prints it as one paragraph (exit status 2) instead of a number
    that would look trustworthy and is not.
    """

    def __init__(self, reason: RefusalReason, message: str):
        super().__init__(f"Refused ({reason}): {message}")
        self.reason = reason
        self.detail = message  # without the prefix, so a caller adding context does not repeat it
