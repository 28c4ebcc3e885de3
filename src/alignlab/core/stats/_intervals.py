"""Intervals for rates."""

from __future__ import annotations

__all__ = ["wilson"]


def wilson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float, float]:
    """Rate and Wilson score interval ``(rate, low, high)``; an empty sample gives ``(nan, 0, 1)``.

    Args:
        successes: number of successes.
        trials: number of trials.
        level: confidence level of the interval.

    Returns:
        ``(rate, low, high)``, with the interval clipped to [0, 1] and always containing the rate.

    Example:
        >>> rate, low, high = wilson(3, 10)
        >>> rate, round(low, 3), round(high, 3)
        (0.3, 0.108, 0.603)
    """
    if trials == 0:
        return float("nan"), 0.0, 1.0
    from statsmodels.stats.proportion import proportion_confint

    rate = successes / trials
    low, high = proportion_confint(successes, trials, alpha=1 - level, method="wilson")
    # clip rounding residue (e.g. 3e-17 for 0 of n) so the interval always contains the rate
    return rate, min(max(float(low), 0.0), rate), max(min(float(high), 1.0), rate)
