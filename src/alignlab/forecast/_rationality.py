"""Checks of a forecast chain that need no outcome: a rational chain of forecasts of one target is a
martingale.

Input is a *chain frame*: one row per (``unique_id``, ``origin``, ``step``) with the forecast made at
``step`` (0 = the origin) of the value at ``origin + h``, in columns named by model. Revisions are
scaled by the value at the origin so that chains from different price levels pool.

- Revision autocorrelation (Nordhaus 1987): revisions of a martingale are uncorrelated.
- Patton & Timmermann (2012) bounds: the variance of the forecasts of a fixed set of targets must not
  fall as the horizon shrinks (information only accumulates).
- Augenblick & Rabin (2021) excess movement: the expected sum of squared revisions equals the expected
  reduction of the forecaster's own stated variance; the ratio movement / reduction should be 1.

Example::

    revision_autocorrelation(chains, "linear-td0")   # {'ac1': ..., 'p': ..., 'n': ...}
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["excess_movement", "revision_autocorrelation", "revisions", "variance_bounds"]


def _wide(chains: pd.DataFrame, column: str) -> tuple[np.ndarray, pd.DataFrame]:
    wide = chains.pivot_table(index=["unique_id", "origin"], columns="step", values=column, aggfunc="first")
    wide = wide.dropna()
    return wide.to_numpy(dtype=float), wide.reset_index()[["unique_id", "origin"]]


def revisions(chains: pd.DataFrame, model: str) -> np.ndarray:
    """Revisions ``(f[k+1] - f[k]) / y[origin]``, one row per chain (origins × h-1)."""
    F, _ = _wide(chains, model)
    scale, _ = _wide(chains, "y_origin")
    return np.diff(F, axis=1) / scale[:, :1]


def revision_autocorrelation(chains: pd.DataFrame, model: str, lag: int = 1) -> dict[str, float]:
    """Pooled lag-``lag`` autocorrelation of revisions, with a test clustered by calendar step.

    The slope of revision ``k + lag`` on revision ``k`` (no intercept: martingale revisions have mean 0)
    is tested with standard errors clustered by the date of the later revision, because chains of
    overlapping origins revise on the same news.
    """
    import statsmodels.api as sm

    R = revisions(chains, model)
    _, keys = _wide(chains, model)
    if R.shape[1] <= lag:
        return {"ac": float("nan"), "p": float("nan"), "n": 0}
    x = R[:, :-lag].ravel()
    y = R[:, lag:].ravel()
    origins = pd.to_numeric(pd.Series(keys["origin"]).rank(method="dense")).to_numpy()
    steps = np.arange(lag, R.shape[1])
    dates = (origins[:, None] + steps[None, :]).ravel()
    ac = float(np.sum(x * y) / np.sqrt(np.sum(x * x) * np.sum(y * y)))
    fit = sm.OLS(y, x[:, None]).fit(cov_type="cluster", cov_kwds={"groups": dates.astype(int)})
    return {"ac": ac, "p": float(fit.pvalues[0]), "n": len(x)}


def variance_bounds(chains: pd.DataFrame, model: str) -> pd.DataFrame:
    """Variance of the scaled forecasts ``f[step] / y[origin]`` at each remaining horizon.

    A rational forecaster's column is non-decreasing as the remaining horizon shrinks (Patton and
    Timmermann 2012); ``violation`` marks a fall larger than sampling noise would explain (more than two
    standard errors of the variance difference, a rough bound that ignores overlap).
    """
    F, _ = _wide(chains, model)
    scale, _ = _wide(chains, "y_origin")
    G = F / scale[:, :1]
    h = G.shape[1]
    var = G.var(axis=0, ddof=1)
    n = G.shape[0]
    rows = []
    for k in range(h):
        diff = var[k] - var[k - 1] if k > 0 else np.nan
        d = (G[:, k] - G[:, k].mean()) ** 2 - ((G[:, k - 1] - G[:, k - 1].mean()) ** 2 if k > 0 else 0)
        se = d.std(ddof=1) / np.sqrt(n) if k > 0 else np.nan
        rows.append({"step": k, "remaining": h - k, "variance": var[k], "change": diff,
                     "violation": bool(k > 0 and diff < -2 * se)})
    return pd.DataFrame(rows)


def excess_movement(chains: pd.DataFrame, model: str, sd_column: str | None = None) -> dict[str, float]:
    """Augenblick–Rabin movement / uncertainty-reduction ratio, from the forecaster's own statements.

    Movement is the mean over chains of the summed squared revisions (scaled by ``y[origin]``);
    uncertainty reduction is the mean fall of the forecaster's stated variance from the first to the
    last step (``sd_column``, default ``MODEL-sd``). A rational forecaster has ratio 1; above 1 it moves
    too much (over-reacts), below 1 too little.
    """
    R = revisions(chains, model)
    sd_column = sd_column or f"{model}-sd"
    if sd_column not in chains.columns:
        return {"movement": float(np.mean(np.sum(R**2, axis=1))), "reduction": float("nan"), "ratio": float("nan")}
    S, _ = _wide(chains, sd_column)
    scale, _ = _wide(chains, "y_origin")
    S = S / scale[:, :1]
    movement = np.sum(R**2, axis=1)
    reduction = S[:, 0] ** 2 - S[:, -1] ** 2
    ratio = float(movement.mean() / reduction.mean()) if reduction.mean() > 0 else float("nan")
    # Standard error of the ratio by the delta method over chains (overlap makes it optimistic).
    n = len(movement)
    se = float(np.std(movement - ratio * reduction, ddof=1) / (np.sqrt(n) * reduction.mean())) if n > 1 else float("nan")
    return {"movement": float(movement.mean()), "reduction": float(reduction.mean()), "ratio": ratio, "se": se}
