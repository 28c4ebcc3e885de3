"""Reward accounting for forecast chains, and why the final ground-truth step must stay out of the
forecaster's hands.

In the chained protocol the forecast at step ``k`` earns ``-(f[k] - f[k+1])^2`` (it is scored against
the forecaster's own next forecast) and the last step earns ``-(f[h-1] - y)^2`` against the outcome ``y``.
Losses here are scaled by the value at the origin, so chains pool across price levels.

Example::

    chain_rewards(chains, "linear-td0")          # per chain: intermediate, final, total
    simulate_collusion(h=26)                     # honest vs colluding under three scoring rules
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alignlab.core import AlignlabError

__all__ = ["chain_rewards", "reward_summary", "simulate_collusion", "td_anchor_dynamics"]


def _rewards_matrix(F: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    intermediate = -((F[:, :-1] - F[:, 1:]) ** 2)
    final = -((F[:, -1] - outcome) ** 2)
    return intermediate, final


def chain_rewards(chains: pd.DataFrame, model: str) -> pd.DataFrame:
    """One row per chain: summed intermediate reward, final reward, total, and the step-0 error."""
    wide = chains.pivot_table(index=["unique_id", "origin"], columns="step", values=model, aggfunc="first").dropna()
    meta = chains.groupby(["unique_id", "origin"])[["y_origin", "y_target"]].first().loc[wide.index]
    scale = meta["y_origin"].to_numpy()
    F = wide.to_numpy(dtype=float) / scale[:, None]
    outcome = meta["y_target"].to_numpy() / scale
    inter, final = _rewards_matrix(F, outcome)
    out = wide.index.to_frame(index=False)
    out["intermediate"] = inter.sum(axis=1)
    out["final"] = final
    out["total"] = out["intermediate"] + out["final"]
    out["step0_sq_error"] = (F[:, 0] - outcome) ** 2
    return out


def reward_summary(chains: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Mean rewards per model: what a myopic learner optimises (intermediate) versus the anchor (final).

    For squared loss and a martingale chain, the expected total loss equals the expected step-0 squared
    error (the revisions are orthogonal), so maximising the chain's total reward is the same as being
    right at the end; ``share_final`` shows how little of it the last step alone carries.
    """
    rows = []
    for model in models:
        r = chain_rewards(chains, model)
        rows.append({
            "model": model,
            "intermediate": r["intermediate"].mean(),
            "final": r["final"].mean(),
            "total": r["total"].mean(),
            "step0_mse": r["step0_sq_error"].mean(),
            "share_final": r["final"].mean() / r["total"].mean() if r["total"].mean() != 0 else np.nan,
        })
    return pd.DataFrame(rows)


def simulate_collusion(
    *, h: int = 26, n_chains: int = 4000, drift: float = 0.002, sigma: float = 0.02, constant: float = 2.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Rewards of an honest and a colluding forecaster under three ways of closing the chain.

    Prices follow a geometric random walk from 1. The honest forecaster states the true conditional mean
    at every step; the colluder states ``constant`` at every step (e.g. 2.0: "the price doubles").
    Closings: ``anchored`` (last step against the realised outcome), ``unanchored`` (no outcome: the last
    step is scored against the forecaster's own final statement, as in a chain that never resolves), and
    ``captured`` (the outcome is reported by a party the forecaster controls, who reports its forecast).
    Without an outcome the constant earns perfect rewards at every step; only an anchor it cannot touch
    makes honesty pay.
    """
    if h < 1 or n_chains < 1:
        raise AlignlabError(f"h and n_chains must be at least 1 (got {h} and {n_chains}).")
    if not all(np.isfinite([drift, sigma, constant])) or sigma < 0:
        raise AlignlabError(f"drift, sigma and constant must be finite and sigma not negative (got {drift}, {sigma}, {constant}).")
    rng = np.random.default_rng(seed)
    logs = np.cumsum(drift + sigma * rng.standard_normal((n_chains, h)), axis=1)
    path = np.concatenate([np.ones((n_chains, 1)), np.exp(logs)], axis=1)  # y[0..h]
    remaining = h - np.arange(h)
    honest = path[:, :h] * np.exp(remaining * (drift + sigma**2 / 2))
    colluder = np.full((n_chains, h), constant)
    outcome = path[:, h]
    rows = []
    for name, F in (("honest", honest), ("colluding constant", colluder)):
        inter, _ = _rewards_matrix(F, outcome)
        for closing, anchor in (("anchored", outcome), ("unanchored", F[:, -1]), ("captured", F[:, -1])):
            final = -((F[:, -1] - anchor) ** 2)
            rows.append({
                "forecaster": name,
                "closing": closing,
                "intermediate": float(inter.sum(axis=1).mean()),
                "final": float(final.mean()),
                "total": float((inter.sum(axis=1) + final).mean()),
                "step0_sq_error": float(((F[:, 0] - outcome) ** 2).mean()),
            })
    return pd.DataFrame(rows)


def td_anchor_dynamics(
    *, h: int = 26, iterations: int = 40, drift: float = 0.002, sigma: float = 0.02, start: float = 2.0,
    anchored: bool = True,
) -> np.ndarray:
    """Fitted TD(0) of the per-horizon mean ratio ``V[r] = E[y[t+r] / y[t]]`` from a colluding start.

    Every ``V[r]`` starts at ``start``. ``V[r]``'s target is ``E[y[t+1] / y[t]] V[r-1]`` (next step's own
    forecast). Anchored, ``V[0] = 1`` (the outcome is observed); unanchored, the last link is scored
    against the forecaster's own report, so ``V[1]`` is its own target and the wrong start never leaves.
    Returns ``V[1..h]`` after each iteration, shape ``(iterations + 1, h)``.
    """
    growth = np.exp(drift + sigma**2 / 2)
    V = np.full(h, float(start))
    history = [V.copy()]
    for _ in range(iterations):
        new = np.empty(h)
        new[0] = growth if anchored else V[0]
        new[1:] = growth * V[:-1]
        V = new
        history.append(V.copy())
    return np.array(history)
