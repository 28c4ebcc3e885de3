"""Chained targets for an ``h``-step forecast: Monte Carlo, TD(0) and TD(lambda), point and distributional.

Notation: ``V[t, r]`` is the forecast made at step ``t`` of the value at ``t + r`` (``V[t, 0] = y[t]``:
a forecast of the present is the observation). The chain for a target date ``T`` is
``V[T-h, h], V[T-h+1, h-1], ..., V[T-1, 1]`` and then the outcome ``y[T]``.

- Monte Carlo: the target of ``(t, r)`` is the outcome ``y[t + r]``.
- TD(0): the target is the forecaster's own next-step forecast ``V[t + 1, r - 1]``; for ``r = 1`` that
  is the outcome, so the last step is always scored against reality.
- TD(lambda): the lambda-return ``G[t, r] = (1 - lam) V[t+1, r-1] + lam G[t+1, r-1]``, ``G[t, 1] = y[t+1]``.

For distributions the same recursion holds between *distributions*: step ``t``'s distribution should be
the mixture, over what happens next, of step ``t + 1``'s distributions. So the distributional target of
``(t, r)`` is a set of samples from that mixture (the atoms of ``Q[t+1, r-1]``), scored by the expected
pinball loss (CRPS) — not the average of next step's quantiles (:func:`average_quantiles`), which narrows
the distribution at every link (see ``tests/forecast/test_targets.py``).

Example::

    G = lambda_returns(y, V, lam=0.0)   # TD(0) targets in levels
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "average_quantiles",
    "distributional_targets",
    "horizon_features",
    "lambda_returns",
    "state_features",
    "target_change",
    "training_pairs",
]


def state_features(
    y: np.ndarray, *, transform: str = "ratio", lags: Sequence[int] = (1, 4, 13, 26), vol_window: int = 13
) -> np.ndarray:
    """Scale-free features of the state at each step: past changes over ``lags`` and recent volatility.

    Rows before enough history exist are NaN. With ``transform='ratio'`` changes are log returns; with
    ``'diff'`` plain differences.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    base = np.log(y) if transform == "ratio" else y
    cols = []
    for lag in lags:
        col = np.full(n, np.nan)
        col[lag:] = base[lag:] - base[:-lag]
        cols.append(col)
    step = np.full(n, np.nan)
    step[1:] = np.diff(base)
    # Rolling standard deviation of one-step changes; pandas would do, numpy keeps this dependency-free.
    vol = np.full(n, np.nan)
    if n > vol_window:
        windows = np.lib.stride_tricks.sliding_window_view(step[1:], vol_window)
        vol[vol_window:] = windows.std(axis=1)
    cols.append(vol)
    return np.column_stack(cols)



def horizon_features(states: np.ndarray, r: np.ndarray, h: int, *, intercepts: bool) -> np.ndarray:
    """Features of (state, remaining horizon ``r``) pairs for one model of every horizon up to ``h``.

    The state's features, its volatility scaled by ``sqrt(r)``, ``r / h`` and ``sqrt(r / h)``; with
    ``intercepts`` also a one-hot of ``r``: one intercept per horizon lets a linear model fit any drift
    curve (trees and nets do not need it).
    """
    r = np.asarray(r)
    vol = states[:, -1:]
    cols = [states, vol * np.sqrt(r)[:, None], (r / h)[:, None], np.sqrt(r / h)[:, None]]
    if intercepts:
        onehot = np.zeros((len(r), h))
        onehot[np.arange(len(r)), r - 1] = 1.0
        cols.append(onehot)
    return np.column_stack(cols)


def training_pairs(
    lengths: Sequence[int], h: int, start: int, max_pairs: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (step ``t``, horizon ``r``, series ``s``) whose outcome ``t + r`` lies inside its series, from
    step ``start`` on; a random subset of ``max_pairs`` of them (drawn from ``rng``) when there are more.

    Returns:
        ``(t, r, s)`` arrays, grouped by series in the order of ``lengths``.
    """
    pair_t, pair_r, pair_s = [], [], []
    for i, n in enumerate(lengths):
        for r in range(1, h + 1):
            t = np.arange(start, n - r)
            pair_t.append(t)
            pair_r.append(np.full(len(t), r))
            pair_s.append(np.full(len(t), i))
    pair_t, pair_r, pair_s = (np.concatenate(a) for a in (pair_t, pair_r, pair_s))
    if max_pairs and len(pair_t) > max_pairs:
        keep = np.sort(rng.choice(len(pair_t), max_pairs, replace=False))
        pair_t, pair_r, pair_s = pair_t[keep], pair_r[keep], pair_s[keep]
    order = np.concatenate([np.flatnonzero(pair_s == i) for i in range(len(lengths))])
    return pair_t[order], pair_r[order], pair_s[order]


def target_change(Y: np.ndarray, previous: np.ndarray, r: np.ndarray) -> float:
    """How far fitted TD's targets moved between two iterations: the largest, over horizons ``r``, of the
    mean absolute change (of the sorted samples, for distributional targets ``(n, m)``).

    The largest horizon's change, not the mean over all pairs: that would call a chain converged while the
    anchor's information is still travelling up the long horizons.
    """
    moved = np.abs(np.sort(Y, axis=-1) - np.sort(previous, axis=-1))
    moved = moved.mean(axis=1) if moved.ndim == 2 else moved
    return float(np.max(np.bincount(r, weights=moved)[1:] / np.maximum(np.bincount(r)[1:], 1)))

def lambda_returns(y: np.ndarray, V: np.ndarray, lam: float) -> np.ndarray:
    """Point lambda-returns in levels.

    Args:
        y: observations, shape ``(n,)``.
        V: forecasts ``V[t, r]`` for ``r = 0..h-1`` (column 0 is ignored and taken as ``y``), shape ``(n, h)``.
        lam: 0 gives TD(0) (next step's forecast), 1 gives Monte Carlo (the outcome).

    Returns:
        ``G`` of shape ``(n, h + 1)``; ``G[t, r]`` is the target of the forecast at ``t`` for ``t + r``
        (column 0 unused), NaN where ``t + r`` is past the data.
    """
    y = np.asarray(y, dtype=float)
    n, h = V.shape
    G = np.full((n, h + 1), np.nan)
    G[: n - 1, 1] = y[1:]
    for r in range(2, h + 1):
        nxt = G[1:, r - 1]
        if lam >= 1.0:
            G[: n - 1, r] = nxt
        else:
            G[: n - 1, r] = (1.0 - lam) * V[1:, r - 1] + lam * nxt
    # A target whose outcome lies past the data cannot be formed (TD(0) would otherwise extrapolate).
    t = np.arange(n)[:, None]
    G[t + np.arange(h + 1)[None, :] > n - 1] = np.nan
    return G


def distributional_targets(
    y: np.ndarray,
    Q: np.ndarray,
    pairs_t: np.ndarray,
    pairs_r: np.ndarray,
    *,
    target: str,
    lam: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Target samples (in levels) for distributional chaining.

    Args:
        y: observations ``(n,)``.
        Q: quantile atoms ``Q[t, r, :]`` of the forecast at ``t`` for ``t + r``, ``r = 0..h-1``,
            shape ``(n, h, K)``; ``Q[t, 0, :]`` is ignored and taken as ``y[t]``.
        pairs_t, pairs_r: the ``(t, r)`` pairs to build targets for (``t + r <= n - 1``).
        target: ``mc`` (the outcome), ``td0`` (the ``K`` atoms of ``Q[t+1, r-1]``) or ``td_lambda``
            (``K`` samples of the lambda-mixture of n-step bootstrapped distributions).
        lam: lambda for ``td_lambda``.
        rng: random generator for ``td_lambda``.

    Returns:
        Samples of shape ``(len(pairs_t), K)``.
    """
    y = np.asarray(y, dtype=float)
    k = Q.shape[2]
    Q = Q.copy()
    Q[:, 0, :] = y[:, None]
    pairs_t = np.asarray(pairs_t)
    pairs_r = np.asarray(pairs_r)
    if target == "mc":
        return np.repeat(y[pairs_t + pairs_r][:, None], k, axis=1)
    if target == "td0" or lam <= 0.0:
        return Q[pairs_t + 1, pairs_r - 1, :]
    rng = rng or np.random.default_rng(0)
    # n-step look-ahead per sample: P(n) = (1-lam) lam^(n-1) for n < r, the rest on n = r (the outcome).
    u = rng.random((len(pairs_t), k))
    if lam >= 1.0:
        steps = np.repeat(pairs_r[:, None], k, axis=1)
    else:
        steps = 1 + np.floor(np.log(u) / np.log(lam)).astype(int)
        steps = np.minimum(steps, pairs_r[:, None])
    atom = rng.integers(0, k, size=(len(pairs_t), k))
    return Q[pairs_t[:, None] + steps, pairs_r[:, None] - steps, atom]


def average_quantiles(next_quantiles: np.ndarray) -> np.ndarray:
    """The tempting but wrong chained target: the average over next states of each next-step quantile.

    Args:
        next_quantiles: ``(m, K)`` quantiles of next step's distribution in ``m`` equally likely next states.

    Returns:
        ``(K,)`` averaged quantiles. Averaging quantile functions (Vincentisation) keeps the *within*-state
        spread but drops the spread *between* next states, so a chain built this way loses the variance
        that accrues at each step; the mixture of the next-step distributions is the correct target.
    """
    return np.asarray(next_quantiles, dtype=float).mean(axis=0)
