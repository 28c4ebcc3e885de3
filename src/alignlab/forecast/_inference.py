"""Comparing forecasters: Diebold–Mariano with overlapping windows, and skill with block-bootstrap intervals.

Forecasts ``h`` steps ahead from origins ``step`` apart overlap: errors of neighbouring origins share
shocks for ``ceil(h / step) - 1`` origins. The DM statistic therefore uses a Newey–West (HAC) variance
with that many lags (statsmodels' OLS on a constant with ``cov_type='HAC'``), the Harvey–Leybourne–Newbold
(1997) small-sample correction, and Student-t critical values; the skill interval resamples moving
blocks of that length.

Example::

    diebold_mariano(loss_model, loss_naive, h=26, step=4)   # {'stat': ..., 'p': ...}
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = ["diebold_mariano", "overlap_lags", "skill_interval"]


def overlap_lags(h: int, step: int = 1) -> int:
    """Autocorrelation lags induced by ``h``-step forecasts from origins ``step`` apart."""
    return max(0, math.ceil(h / step) - 1)


def diebold_mariano(loss_a: np.ndarray, loss_b: np.ndarray, *, h: int = 1, step: int = 1) -> dict[str, float]:
    """Test equal expected loss of A and B; ``mean_diff < 0`` means A has the smaller loss.

    Returns ``stat`` (HLN-corrected), ``p`` (two-sided), ``p_less`` (one-sided: A better), ``mean_diff``.
    """
    import statsmodels.api as sm

    d = np.asarray(loss_a, float) - np.asarray(loss_b, float)
    n = len(d)
    lags = overlap_lags(h, step)
    if n < 3 or np.allclose(d, d[0]):
        return {"stat": float("nan"), "p": float("nan"), "p_less": float("nan"), "mean_diff": float(d.mean())}
    fit = sm.OLS(d, np.ones((n, 1))).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": False})
    stat = float(fit.tvalues[0])
    k = lags + 1  # HLN's "h" is the number of overlapping periods in origin units
    correction = math.sqrt(max((n + 1 - 2 * k + k * (k - 1) / n) / n, 1e-12))
    stat *= correction
    return {
        "stat": stat,
        "p": float(2 * stats.t.sf(abs(stat), df=n - 1)),
        "p_less": float(stats.t.cdf(stat, df=n - 1)),
        "mean_diff": float(d.mean()),
    }


def skill_interval(
    loss_model: np.ndarray,
    loss_base: np.ndarray,
    *,
    h: int = 1,
    step: int = 1,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, float]:
    """Skill ``1 - mean(loss_model) / mean(loss_base)`` with a moving-block bootstrap interval."""
    a = np.asarray(loss_model, float)
    b = np.asarray(loss_base, float)
    n = len(a)
    skill = 1 - a.mean() / b.mean()
    block = max(1, overlap_lags(h, step) + 1)
    rng = np.random.default_rng(seed)
    n_blocks = math.ceil(n / block)
    starts = rng.integers(0, max(1, n - block + 1), size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(n_boot, -1)[:, :n]
    boot = 1 - a[idx].mean(1) / b[idx].mean(1)
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return {"skill": float(skill), "lo": float(lo), "hi": float(hi)}
