"""Comparing two loss series whose errors are serially dependent: the Diebold–Mariano test and a relative
skill with a moving-block bootstrap interval.

Losses of ``h``-step-ahead predictions from origins ``step`` apart overlap: neighbouring origins share
shocks for ``ceil(h / step) - 1`` origins. The DM statistic therefore uses a Newey–West (HAC) variance with
that many lags (statsmodels' OLS on a constant with ``cov_type='HAC'``), the Harvey–Leybourne–Newbold
(1997) small-sample correction and Student-t critical values; the skill interval resamples moving blocks
of that length (``arch.bootstrap.MovingBlockBootstrap``).

Example::

    diebold_mariano(loss_model, loss_naive, h=26, step=4)   # {'stat': ..., 'p': ...}
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["diebold_mariano", "overlap_lags", "skill_interval"]


def overlap_lags(h: int, step: int = 1) -> int:
    """Autocorrelation lags induced by ``h``-step-ahead losses from origins ``step`` apart.

    Example:
        >>> overlap_lags(26, 4)
        6
    """
    return max(0, math.ceil(h / step) - 1)


def diebold_mariano(loss_a, loss_b, *, h: int = 1, step: int = 1) -> dict[str, float]:
    """Test equal expected loss of A and B; ``mean_diff < 0`` means A has the smaller loss.

    Args:
        loss_a: losses of A, one per origin, in time order.
        loss_b: losses of B at the same origins.
        h: how many steps ahead each loss looks (sets the HAC lags with ``step``).
        step: distance between origins.

    Returns:
        ``stat`` (HLN-corrected), ``p`` (two-sided), ``p_less`` (one-sided: A better), ``mean_diff``; NaN
        statistics with fewer than 3 origins or a constant difference.

    Example:
        >>> import numpy as np
        >>> base = np.random.default_rng(0).exponential(1.0, 300)
        >>> diebold_mariano(base * 0.7, base, h=4)["p"] < 0.01
        True
    """
    import numpy as np
    import statsmodels.api as sm
    from scipy import stats

    d = np.asarray(loss_a, float) - np.asarray(loss_b, float)
    n = len(d)
    lags = overlap_lags(h, step)
    if n < 3 or np.allclose(d, d[0]):
        return {"stat": float("nan"), "p": float("nan"), "p_less": float("nan"), "mean_diff": float(d.mean())}
    fit = sm.OLS(d, np.ones((n, 1))).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": False})
    stat = float(fit.tvalues[0])
    k = lags + 1  # HLN's "h" is the number of overlapping periods in origin units
    stat *= math.sqrt(max((n + 1 - 2 * k + k * (k - 1) / n) / n, 1e-12))
    return {
        "stat": stat,
        "p": float(2 * stats.t.sf(abs(stat), df=n - 1)),
        "p_less": float(stats.t.cdf(stat, df=n - 1)),
        "mean_diff": float(d.mean()),
    }


def skill_interval(loss_model, loss_base, *, h: int = 1, step: int = 1, n_boot: int = 2000, alpha: float = 0.05,
                   seed: Any = 0) -> dict[str, float]:
    """Skill ``1 - mean(loss_model) / mean(loss_base)`` with a moving-block bootstrap percentile interval.

    Blocks are ``overlap_lags(h, step) + 1`` origins long, so each keeps the overlap between neighbours.

    Args:
        loss_model: losses of the model, one per origin, in time order.
        loss_base: losses of the baseline at the same origins.
        h: how many steps ahead each loss looks.
        step: distance between origins.
        n_boot: bootstrap replicates.
        alpha: 1 − the interval's confidence level.
        seed: seed or ``numpy.random.Generator``.

    Returns:
        ``skill``, ``lo``, ``hi``.

    Example:
        >>> import numpy as np
        >>> base = np.random.default_rng(0).exponential(1.0, 200)
        >>> out = skill_interval(base * 0.7, base, h=4, n_boot=200)
        >>> round(out["skill"], 3), out["lo"] <= out["skill"] <= out["hi"]
        (0.3, True)
    """
    import numpy as np
    from arch.bootstrap import MovingBlockBootstrap

    a, b = np.asarray(loss_model, float), np.asarray(loss_base, float)
    skill = float(1 - a.mean() / b.mean())
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    bootstrap = MovingBlockBootstrap(max(1, overlap_lags(h, step) + 1), a, b, seed=rng)
    boot = bootstrap.apply(lambda x, y: np.array([1 - x.mean() / y.mean()]), reps=n_boot)[:, 0]
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return {"skill": skill, "lo": float(lo), "hi": float(hi)}
