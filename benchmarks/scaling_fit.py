"""Benchmark: alignlab's approach-3 fit vs the 4,500-start L-BFGS grid (Chinchilla / Epoch AI procedure).

On Epoch AI's extraction of Chinchilla's runs (240 rows after dropping the 5 highest losses), prints in one
run: our fit's time and summed Huber objective; the 4,500-start grid's (α, β ∈ {0, .5, 1, 1.5, 2},
e ∈ {-1, -.5, 0, .5, 1}, a, b ∈ {0, 5, …, 25}; L-BFGS-B with scipy's default tolerances on the summed
objective); the same grid's best start on the *averaged* objective, which stops early; and 1,000 bootstrap
refits with their standard errors, set beside Epoch's (as their notebook prints them) and beside Epoch's bootstrap
procedure rebuilt here (4,000 refits, each one BFGS start from Chinchilla's estimates). ``--coverage N`` adds the synthetic check that 95 % bootstrap intervals
cover the true parameters (N data sets; 200 take ~1–2 minutes).

Run:  . .venv/bin/activate && python benchmarks/scaling_fit.py [--grid-starts 4500] [--coverage 200]
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "chinchilla_svg_extracted.csv"


def grid_fit(data, mean: bool, limit: int):
    from scipy.optimize import minimize

    from alignlab.scaling._solver import huber_objective, single_threaded_blas

    n = len(data[0]) if mean else 1
    fun = lambda t: tuple(v / n for v in huber_objective(t, *data, 1e-3))  # noqa: E731
    grid = list(itertools.product(range(0, 30, 5), range(0, 30, 5), [-1, -0.5, 0, 0.5, 1], [0, 0.5, 1, 1.5, 2],
                                  [0, 0.5, 1, 1.5, 2]))[:limit]
    best = None
    with single_threaded_blas():
        for a, b, e, alpha, beta in grid:
            result = minimize(fun, [a, b, e, alpha, beta], jac=True, method="L-BFGS-B")
            if best is None or result.fun < best.fun:
                best = result
    return best.x, huber_objective(best.x, *data, 1e-3)[0], len(grid)


# Chinchilla's estimates as in the TeX source of Hoffmann et al. (2022), unrounded: the start of every refit in
# Epoch's bootstrap (their notebook starts BFGS from these, in log space for A, B, E).
CHINCHILLA_TEX = {"E": 1.6934, "A": 406.4, "B": 410.7, "alpha": 0.33917084, "beta": 0.2849083}


# Epoch's bootstrap standard errors as their analysis notebook prints them (epoch-research/analyzing-chinchilla,
# data_analysis.ipynb, "Parameter estimates and their standard errors"; 4,000 refits). The paper rounds them
# to E 0.03, A 124.58, B 1293.23, alpha 0.02, beta 0.02.
EPOCH_SE = {"E": 0.02566, "A": 124.52, "B": 1293.28, "alpha": 0.01540, "beta": 0.02060}


def epoch_bootstrap(data, n_refits: int, seed: int = 0):
    """Epoch AI's bootstrap as their paper describes it, rebuilt here so its interval widths can be set beside
    ours in one run: resample the (already trimmed) rows with replacement, refit with one BFGS start from
    Chinchilla's published estimates on the summed Huber objective, take each parameter's standard deviation.
    Written by hand because it *is* the reference procedure; alignlab's own bootstrap is ScalingLaw's."""
    from scipy.optimize import minimize

    from alignlab.scaling._solver import huber_objective, single_threaded_blas

    p = CHINCHILLA_TEX
    start = np.array([np.log(p["A"]), np.log(p["B"]), np.log(p["E"]), p["alpha"], p["beta"]])
    rng, rows, fits = np.random.default_rng(seed), len(data[0]), []
    with single_threaded_blas():
        for _ in range(n_refits):
            weights = np.bincount(rng.integers(0, rows, rows), minlength=rows).astype(float)
            result = minimize(huber_objective, start, args=(*data, 1e-3, weights), jac=True, method="BFGS")
            a, b, e, alpha, beta = result.x
            fits.append((np.exp(e), np.exp(a), np.exp(b), alpha, beta))
    return dict(zip(("E", "A", "B", "alpha", "beta"), np.std(fits, axis=0, ddof=1)))


def coverage(n_sets: int) -> None:
    from alignlab.scaling import CHINCHILLA_EPOCH, ScalingLaw, synthetic_runs

    start, hits = time.perf_counter(), []
    for s in range(n_sets):
        runs = synthetic_runs(noise=0.002, seed=1000 + s, budgets=(1e18, 3e18, 1e19, 3e19, 1e20), sizes_per_budget=6)
        law = ScalingLaw(n_bootstrap=100, seed=s).fit(runs)
        hits.append([law.intervals_[k][0] <= v <= law.intervals_[k][1] for k, v in CHINCHILLA_EPOCH.items()])
    rate = np.mean(hits, axis=0)
    print(f"coverage of 95% intervals over {n_sets} synthetic data sets (30 runs, noise 0.002, 100 refits):"
          f" pooled {rate.mean():.3f}; " + ", ".join(f"{k} {r:.3f}" for k, r in zip(CHINCHILLA_EPOCH, rate))
          + f" ({time.perf_counter() - start:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid-starts", type=int, default=4500, help="Starts of the reference grid (4500 = all).")
    parser.add_argument("--epoch-refits", type=int, default=4000, help="Refits of Epoch's rebuilt bootstrap.")
    parser.add_argument("--coverage", type=int, default=0, help="Synthetic data sets for the coverage check.")
    args = parser.parse_args()
    from alignlab.scaling import ScalingLaw, read_runs

    runs = read_runs(DATA, n_col="Model Size", flops_col="Training FLOP", drop_highest_loss=5)
    data = tuple(np.log(runs[c].to_numpy()) for c in ("N", "D", "loss"))

    start = time.perf_counter()
    law = ScalingLaw(n_bootstrap=0).fit(runs)
    ours = time.perf_counter() - start
    p = law.params_
    print(f"alignlab: {ours:.2f} s, objective {law.objective_:.9f}; E {p['E']:.4f} A {p['A']:.1f} B {p['B']:.1f}"
          f" alpha {p['alpha']:.4f} beta {p['beta']:.4f}")

    start = time.perf_counter()
    theta, objective, n = grid_fit(data, mean=False, limit=args.grid_starts)
    print(f"{n}-start grid (summed objective): {time.perf_counter() - start:.1f} s, objective {objective:.9f};"
          f" E {np.exp(theta[2]):.4f} alpha {theta[3]:.4f} beta {theta[4]:.4f}")
    start = time.perf_counter()
    theta, objective, n = grid_fit(data, mean=True, limit=args.grid_starts)
    print(f"{n}-start grid (averaged objective, default tolerances): {time.perf_counter() - start:.1f} s, summed"
          f" objective {objective:.9f}; E {np.exp(theta[2]):.4f} alpha {theta[3]:.4f} beta {theta[4]:.4f}")

    start = time.perf_counter()
    law = ScalingLaw(n_bootstrap=1000, seed=0).fit(runs)
    se = law.bootstrap_params().std()
    print(f"1000 bootstrap refits (runs resampled): {time.perf_counter() - start:.1f} s; standard errors "
          + ", ".join(f"{k} {se[k]:.4g}" for k in se.index) + f"; failures {law.bootstrap_failures_}")
    start = time.perf_counter()
    epoch = epoch_bootstrap(data, args.epoch_refits)
    print(f"Epoch's bootstrap procedure, rebuilt ({args.epoch_refits} refits, one BFGS start from Chinchilla's TeX"
          f" estimates): {time.perf_counter() - start:.1f} s; standard errors "
          + ", ".join(f"{k} {v:.4g}" for k, v in epoch.items()))
    print("ratio of alignlab's standard errors to Epoch's (their notebook: "
          + ", ".join(f"{k} {v:g}" for k, v in EPOCH_SE.items()) + "): "
          + ", ".join(f"{k} {se[k] / v:.2f}" for k, v in EPOCH_SE.items())
          + f"; all within ±25 %: {all(0.75 <= se[k] / v <= 1.25 for k, v in EPOCH_SE.items())}")
    print("ratio of alignlab's standard errors to the rebuilt procedure's: "
          + ", ".join(f"{k} {se[k] / v:.2f}" for k, v in epoch.items()))
    if args.coverage:
        coverage(args.coverage)


if __name__ == "__main__":
    main()
