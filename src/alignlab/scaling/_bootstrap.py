"""Bootstrap refits for approach 3: resample runs with replacement, refit, keep the parameter vectors.

As Epoch AI did (Besiroglu et al. 2024), whole runs are resampled (every checkpoint row of a drawn run comes
along); a run drawn k times gets weight k, so arrays keep their size. Each refit starts from the full-data
optimum (damped Newton, ~10 steps) and, where the full-data solve found a second local optimum, also from that
guard start, keeping the better. (A guard from a raw grid start cost ~80 steps and never won in 1,000 Chinchilla
refits; basins the full data do not show are what the global solve's grid would be needed for.)
Draws are made up front from ``seed``, so ``n_jobs`` changes the speed, never the numbers.
"""

from __future__ import annotations

import numpy as np

from alignlab.scaling._solver import newton_polish, polish, single_threaded_blas

__all__ = ["bootstrap_refits", "draw_weights"]


def draw_weights(run_codes: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Row weights of ``n_boot`` cluster-bootstrap draws, shape (n_boot, rows)."""
    n_runs = int(run_codes.max()) + 1
    rng = np.random.default_rng(seed)
    counts = np.stack([np.bincount(rng.integers(0, n_runs, n_runs), minlength=n_runs) for _ in range(n_boot)])
    return counts[:, run_codes].astype(float)


def _refit_chunk(weights, starts, log_n, log_d, log_loss, delta, bounds):
    out = np.empty((len(weights), 6))
    with single_threaded_blas():
        _refit_rows(out, weights, starts, log_n, log_d, log_loss, delta, bounds)
    return out


def _refit_rows(out, weights, starts, log_n, log_d, log_loss, delta, bounds):
    lo, hi = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])
    for i, w in enumerate(weights):
        best = None
        for start in starts:
            theta, f, _, ok = newton_polish(start, log_n, log_d, log_loss, delta, w)
            if ok and np.all((theta >= lo) & (theta <= hi)) and (best is None or f < best[1]):
                best = (theta, f)
        if best is None:
            # Newton wandered out of the box or stalled (a draw with few distinct runs can leave a term
            # unidentified): bounded L-BFGS-B from the warm start; a draw that ends on a bound is a real draw.
            theta, f, g, result = polish(starts[0], log_n, log_d, log_loss, delta, bounds, w)
            if result.success or np.abs(g).max() < 1e-6 * delta * w.sum():
                best = (theta, f)
        out[i, :5], out[i, 5] = (best[0], best[1]) if best else (np.nan, np.nan)


def bootstrap_refits(starts, log_n, log_d, log_loss, run_codes, *, delta: float, bounds, n_boot: int, seed: int,
                     n_jobs: int = 1) -> np.ndarray:
    """θ and objective of each bootstrap refit, shape (n_boot, 6); rows of NaN where no start converged."""
    weights = draw_weights(run_codes, n_boot, seed)
    starts = [np.asarray(s, dtype=float) for s in starts]
    if n_jobs == 1 or n_boot < 50:
        return _refit_chunk(weights, starts, log_n, log_d, log_loss, delta, bounds)
    from joblib import Parallel, delayed, effective_n_jobs

    jobs = effective_n_jobs(n_jobs)
    chunks = np.array_split(weights, jobs)
    parts = Parallel(n_jobs=jobs)(delayed(_refit_chunk)(c, starts, log_n, log_d, log_loss, delta, bounds)
                                         for c in chunks)
    return np.vstack(parts)
