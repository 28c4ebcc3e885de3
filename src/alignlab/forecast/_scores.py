"""Scores of forecasts against outcomes: MAE, pinball/CRPS from quantiles or samples, coverage, PIT.

CRPS from a set of quantiles is twice the mean pinball loss over the quantile levels (the quantile
decomposition of CRPS; Gneiting & Raftery 2007, Laio & Tamea 2007). With levels 0.05…0.95 it leaves out
the tails, so compare models scored on the same levels only.

Example::

    crps_quantiles(y, Q, taus)      # one score per row
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "crps_quantiles",
    "crps_samples",
    "interval_coverage",
    "mae",
    "pinball",
    "pit_uniformity",
    "pit_values",
    "pooled_scores",
    "quantile_columns",
]


def mae(y: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(np.asarray(y, float) - np.asarray(forecast, float))))


def pinball(y: np.ndarray, q: np.ndarray, tau: float | np.ndarray) -> np.ndarray:
    """Pinball (quantile) loss of quantile forecast ``q`` at level ``tau`` for outcomes ``y``."""
    u = np.asarray(y, float) - np.asarray(q, float)
    return np.maximum(tau * u, (tau - 1) * u)


def crps_quantiles(y: np.ndarray, Q: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """CRPS approximated from quantiles ``Q`` (rows × levels) at ``taus``: ``2 × mean pinball``."""
    Q = np.asarray(Q, float)
    return 2.0 * pinball(np.asarray(y, float)[:, None], Q, np.asarray(taus)[None, :]).mean(axis=1)


def crps_samples(samples: np.ndarray, y: np.ndarray | float) -> np.ndarray:
    """Exact CRPS of the empirical distribution of ``samples`` (rows × m) at ``y``.

    ``E|X - y| - E|X - X'| / 2`` computed from sorted samples in O(m log m); properscoring does this too,
    but it is unmaintained, and the formula is three lines.
    """
    x = np.sort(np.atleast_2d(np.asarray(samples, float)), axis=1)
    m = x.shape[1]
    y = np.asarray(y, float).reshape(-1, 1)
    first = np.abs(x - y).mean(axis=1)
    weights = 2 * np.arange(1, m + 1) - m - 1
    spread = (x * weights).sum(axis=1) / (m * m)
    return first - spread


def quantile_columns(frame: pd.DataFrame, model: str) -> tuple[list[str], np.ndarray]:
    """The ``MODEL-lo-L``/``MODEL-hi-L`` columns of a frame, sorted by their quantile level."""
    cols = []
    for c in frame.columns:
        if c.startswith((f"{model}-lo-", f"{model}-hi-")):
            lv = float(c.rsplit("-", 1)[1])
            tau = (1 - lv / 100) / 2 if "-lo-" in c else 1 - (1 - lv / 100) / 2
            cols.append((tau, c))
    cols.sort()
    return [c for _, c in cols], np.array([t for t, _ in cols])


def interval_coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Share of outcomes inside ``[lo, hi]``."""
    y = np.asarray(y, float)
    return float(np.mean((y >= lo) & (y <= hi)))


def pit_values(y: np.ndarray, Q: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Probability integral transform from quantile forecasts (linear between quantiles; the tails
    beyond the outermost quantiles are spread uniformly over ``[0, tau_1]`` and ``[tau_K, 1]``)."""
    Q = np.asarray(Q, float)
    y = np.asarray(y, float)
    out = np.empty(len(y))
    for i in range(len(y)):
        q = Q[i]
        if y[i] <= q[0]:
            out[i] = taus[0] * 0.5
        elif y[i] >= q[-1]:
            out[i] = (1 + taus[-1]) * 0.5
        else:
            out[i] = np.interp(y[i], q, taus)
    return out


def pit_uniformity(pit: np.ndarray, bins: int = 10) -> dict[str, float]:
    """Kolmogorov–Smirnov and chi-square tests of PIT uniformity.

    Their p-values assume independent outcomes; overlapping multi-step windows are dependent, so read
    them as descriptive (too small), not as exact tests.
    """
    pit = np.asarray(pit, float)
    counts, _ = np.histogram(pit, bins=bins, range=(0, 1))
    return {
        "ks_stat": float(stats.kstest(pit, "uniform").statistic),
        "ks_p": float(stats.kstest(pit, "uniform").pvalue),
        "chi2_p": float(stats.chisquare(counts).pvalue),
    }


def pooled_scores(frame: pd.DataFrame, models: list[str], level: float) -> dict[str, dict[str, float]]:
    """MAE, CRPS (twice the multi-quantile loss) and coverage of the ``level`` interval per model, pooled
    over every row of a long frame (``y`` and the model columns, already scaled), by ``utilsforecast.losses``.

    The rows are pooled under one id, so that every forecast counts once whatever its series (the
    per-series means that utilsforecast returns would weight a short series like a long one).
    """
    from utilsforecast import losses

    lv = int(level) if float(level).is_integer() else level
    long = frame.assign(unique_id="pooled")
    maes = losses.mae(long, models, id_col="unique_id", target_col="y").iloc[0]
    out: dict[str, dict[str, float]] = {m: {"mae": float(maes[m])} for m in models}
    for m in models:
        cols, taus = quantile_columns(long, m)
        if cols:
            mql = losses.mqloss(long, {m: cols}, quantiles=taus, id_col="unique_id", target_col="y").iloc[0]
            out[m]["crps"] = 2.0 * float(mql[m])
        if f"{m}-lo-{lv}" in long.columns:
            cov = losses.coverage(long, [m], level=lv, id_col="unique_id", target_col="y").iloc[0]
            out[m]["coverage"] = float(cov[m])
    return out

