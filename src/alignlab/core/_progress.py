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


def _stderr() -> Console:
    return Console(stderr=True)


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


def progress_bars(show: bool, console: Console | None = None, *, transient: bool = False):
    """The one progress display: rich bars on stderr (or ``console``), shown on a terminal or when
    ``ALIGNLAB_PROGRESS`` is set; ``show=False`` gives an object with the same methods that shows nothing.

    Use it as a context manager; ``add_task(description, total=N)`` and ``advance(task, k)`` as in rich.
    ``transient=True`` removes the bars when the block ends (for a step inside a command's output).

    Example::

        with progress_bars(True, transient=True) as bars:
            task = bars.add_task("grading", total=len(jobs))
            for job in jobs:
                run(job)
                bars.advance(task)
    """
    if not show:
        return _NoBars()
    console = console or _stderr()
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), console=console, transient=transient,
        disable=not (console.is_terminal or os.environ.get("ALIGNLAB_PROGRESS")),
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
