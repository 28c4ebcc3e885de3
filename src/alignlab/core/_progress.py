"""Progress display for a running study: rich bars, or none; quieter transformers while bars show."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["progress_bars", "quiet_transformers", "stage_bars"]


def quiet_transformers() -> None:
    # Our rich bars show progress; transformers' own tqdm bars (saving shards, loading weights) and
    # advisory warnings would interleave with them. Environment variables, not an import: importing
    # transformers costs seconds, which a study of no-op cells must not pay.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft|trl)\b")


class _NoBars:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, *a, **k):
        return 0

    def advance(self, *a, **k):
        pass

    def update(self, *a, **k):
        pass

    def remove_task(self, *a, **k):
        pass


def progress_bars(show: bool, console: Console):
    if not show:
        return _NoBars()
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), console=console, transient=False, disable=not (console.is_terminal or os.environ.get("ALIGNLAB_PROGRESS")),
    )


def stage_bars(bars: Any, prefix: str) -> Callable[[str, int], Callable[[int], None]]:
    def factory(description: str, total: int) -> Callable[[int], None]:
        if bars is None:
            return lambda k: None
        task = bars.add_task(f"  {prefix} · {description}", total=total)
        done = [0]

        def advance(k: int) -> None:
            bars.advance(task, k)
            done[0] += k
            if done[0] >= total:  # finished stage bars go, so the display stays one screen
                bars.remove_task(task)

        return advance

    return factory
