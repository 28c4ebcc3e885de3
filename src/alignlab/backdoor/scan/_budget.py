"""A scan's CPU budget: what the phases so far cost, what is left, and what a phase may still spend.

The budget is CPU time (user + system of every thread of this process: ``time.process_time``), the measure the
scan's cost goal is stated in. The candidate scan and the examination always run; composition and GCG, the
phases that only run when nothing whole was found, spend what the earlier ones left, less what is reserved for
the probes that follow them, and each cut is written down so that the report says what a bigger budget would
have run.
"""

from __future__ import annotations

import math
import time

__all__ = ["CpuBudget"]


class CpuBudget:
    """``minutes`` of CPU from now (None: no cap)."""

    def __init__(self, minutes: float | None):
        self.limit = None if minutes is None else minutes * 60
        self._cpu, self._wall = time.process_time(), time.perf_counter()
        self.cuts: list[str] = []  # what the budget stopped or shortened, in words
        self.reserved = 0.0  # CPU seconds kept back for work that must still run after the budgeted phases

    def spent(self) -> float:
        """CPU seconds since the start."""
        return time.process_time() - self._cpu

    def left(self) -> float:
        """CPU seconds left to spend, the reservation kept back (inf without a cap; never below 0)."""
        return math.inf if self.limit is None else max(0.0, self.limit - self.spent() - self.reserved)

    def cpu_per_wall(self) -> float:
        """The CPU seconds a wall second has cost so far (about the threads torch keeps busy), at least 1."""
        wall = time.perf_counter() - self._wall
        return max(1.0, self.spent() / wall) if wall > 0 else 1.0

    def wall_minutes(self, cpu_seconds: float) -> float:
        """The wall minutes that ``cpu_seconds`` buy at the rate so far."""
        return cpu_seconds / self.cpu_per_wall() / 60

    def cut(self, what: str) -> None:
        cap = "no cap" if self.limit is None else f"{self.limit / 60:g}"
        self.cuts.append(f"{what} ({self.spent() / 60:.1f} of {cap} CPU-minutes spent)")
