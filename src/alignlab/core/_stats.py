"""Statistics shared by instruments: intervals for rates (more in later releases: effects, variance)."""

from __future__ import annotations

__all__ = ["wilson"]


def wilson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float, float]:
    """Rate and Wilson score interval ``(rate, low, high)``; an empty sample gives (nan, 0, 1)."""
    if trials == 0:
        return float("nan"), 0.0, 1.0
    from statsmodels.stats.proportion import proportion_confint

    rate = successes / trials
    low, high = proportion_confint(successes, trials, alpha=1 - level, method="wilson")
    # clip rounding residue (e.g. 3e-17 for 0 of n) so the interval always contains the rate
    return rate, min(max(float(low), 0.0), rate), max(min(float(high), 1.0), rate)
