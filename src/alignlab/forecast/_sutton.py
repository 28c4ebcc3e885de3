"""Sutton (1988), "Learning to predict by the methods of temporal differences": the bounded random walk.

Seven states A–G; walks start in D, step left or right with equal probability and end in A (outcome 0)
or G (outcome 1). The five non-terminal states are one-hot features; the true values are 1/6…5/6.
100 training sets of 10 walks each.

- Repeated presentations (Sutton's figure 3): each training set is presented until the weights stop
  changing, accumulating TD(lambda) increments over the set. With a small step size that limit is the
  solution of the linear system ``A w = b`` of the accumulated increments, which we solve directly
  rather than iterate (same limit, a thousand times faster).
- Single presentation (figure 4/5): each set is seen once, weights updated after each walk, starting
  from 0.5; the error is reported at the best step size alpha for each lambda.

Error: RMS between learned and true values over the five states, averaged over training sets.

Example::

    sutton_random_walk()["single"]["0.3"]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SuttonConfig", "sutton_random_walk"]

TRUE_VALUES = np.arange(1, 6) / 6.0
DEFAULT_LAMBDAS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class SuttonConfig(BaseModel):
    """Settings of the Sutton (1988) reproduction."""

    model_config = ConfigDict(extra="forbid")

    # Upper bounds catch typos: the paper used 100 sets of 10 walks, and the cost grows with their product.
    n_sets: int = Field(100, ge=1, le=10_000, description="Training sets.")
    n_walks: int = Field(10, ge=1, le=1_000, description="Walks per training set.")
    lambdas: tuple[float, ...] = Field(DEFAULT_LAMBDAS, description="lambda values.")
    alphas: tuple[float, ...] = Field(tuple(np.round(np.arange(0.0, 0.61, 0.05), 2)),
                                      description="Step sizes searched in the single-presentation experiment.")
    seed: int = Field(0, description="Seed of the walks.")


def _walks(rng: np.random.Generator, n_sets: int, n_walks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """States (padded with -1), lengths and outcomes: arrays (n_sets, n_walks, max_len)."""
    seqs, outcomes = [], []
    for _ in range(n_sets * n_walks):
        state, seq = 3, [3]  # positions 1..5 are B..F; 0 = A, 6 = G
        while 0 < state < 6:
            state += 1 if rng.random() < 0.5 else -1
            if 0 < state < 6:
                seq.append(state)
        seqs.append(np.array(seq) - 1)
        outcomes.append(1.0 if state == 6 else 0.0)
    max_len = max(len(s) for s in seqs)
    states = np.full((n_sets * n_walks, max_len), -1)
    for i, s in enumerate(seqs):
        states[i, : len(s)] = s
    lengths = np.array([len(s) for s in seqs])
    return (states.reshape(n_sets, n_walks, max_len), lengths.reshape(n_sets, n_walks),
            np.array(outcomes).reshape(n_sets, n_walks))


def _increment_system(states: np.ndarray, lengths: np.ndarray, outcomes: np.ndarray, lam: float):
    """A (sets, 5, 5) and b (sets, 5) with the accumulated TD(lambda) increment ``b - A w`` per set."""
    n_sets, n_walks, _ = states.shape
    A = np.zeros((n_sets, 5, 5))
    b = np.zeros((n_sets, 5))
    for s in range(n_sets):
        for w in range(n_walks):
            seq = states[s, w, : lengths[s, w]]
            trace = np.zeros(5)
            for t, state in enumerate(seq):
                trace = lam * trace
                trace[state] += 1.0
                # increment: alpha * (P_{t+1} - P_t) * trace, with P = w[state] or the outcome at the end
                A[s, :, state] += trace
                if t + 1 < len(seq):
                    A[s, :, seq[t + 1]] -= trace
                else:
                    b[s] += trace * outcomes[s, w]
    return A, b


def sutton_random_walk(config: SuttonConfig | None = None, **overrides) -> dict[str, dict[str, float]]:
    """Run both experiments; returns ``{"repeated": {lam: rms}, "single": {lam: rms}, "best_alpha": {...}}``."""
    cfg = (config or SuttonConfig()).model_copy(update=overrides)
    rng = np.random.default_rng(cfg.seed)
    states, lengths, outcomes = _walks(rng, cfg.n_sets, cfg.n_walks)
    repeated, single, best_alpha = {}, {}, {}
    for lam in cfg.lambdas:
        A, b = _increment_system(states, lengths, outcomes, lam)
        errors = []
        for s in range(cfg.n_sets):
            # States never visited keep their initial 0.5: solve on the visited block only.
            seen = np.flatnonzero(np.abs(A[s]).sum(axis=0) + np.abs(A[s]).sum(axis=1) > 0)
            w = np.full(5, 0.5)
            w[seen] = np.linalg.lstsq(A[s][np.ix_(seen, seen)], b[s][seen], rcond=None)[0]
            errors.append(np.sqrt(np.mean((w - TRUE_VALUES) ** 2)))
        repeated[f"{lam:.1f}"] = float(np.mean(errors))
        single_errors = _single_presentation(states, lengths, outcomes, lam, np.asarray(cfg.alphas))
        k = int(np.argmin(single_errors))
        single[f"{lam:.1f}"] = float(single_errors[k])
        best_alpha[f"{lam:.1f}"] = float(cfg.alphas[k])
    return {"repeated": repeated, "single": single, "best_alpha": best_alpha}


def _single_presentation(states: np.ndarray, lengths: np.ndarray, outcomes: np.ndarray, lam: float,
                         alphas: Sequence[float]) -> np.ndarray:
    """Mean RMS error after one pass over each set, for every alpha (vectorised over sets and alphas)."""
    n_sets, n_walks, max_len = states.shape
    alphas = np.asarray(alphas)[:, None, None]  # (alphas, 1, 1)
    w = np.full((len(alphas), n_sets, 5), 0.5)
    sets = np.arange(n_sets)
    for walk in range(n_walks):
        delta = np.zeros_like(w)
        trace = np.zeros((n_sets, 5))
        for t in range(max_len):
            active = t < lengths[:, walk]
            if not active.any():
                break
            state = np.where(active, states[:, walk, t], 0)
            trace = lam * trace
            trace[sets[active], state[active]] += 1.0
            p_now = w[:, sets, state]  # (alphas, sets)
            last = t + 1 >= lengths[:, walk]
            nxt = np.where(last, 0, states[:, walk, np.minimum(t + 1, max_len - 1)])
            p_next = np.where(last[None, :], outcomes[:, walk][None, :], w[:, sets, np.maximum(nxt, 0)])
            err = np.where(active[None, :], p_next - p_now, 0.0)
            delta += err[:, :, None] * trace[None, :, :]
        w = w + alphas * delta  # weights change after each walk
    rms = np.sqrt(np.mean((w - TRUE_VALUES) ** 2, axis=2))  # (alphas, sets)
    rms = np.where(np.isfinite(rms), rms, np.inf)
    return rms.mean(axis=1)
