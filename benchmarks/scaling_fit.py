"""Benchmark: alignlab's approach-3 fit vs the 4,500-start L-BFGS grid (Chinchilla / Epoch AI procedure).

On Epoch AI's extraction of Chinchilla's runs (240 rows after dropping the 5 highest losses), prints in one
run: our fit's time and summed Huber objective; the 4,500-start grid's (α, β ∈ {0, .5, 1, 1.5, 2},
e ∈ {-1, -.5, 0, .5, 1}, a, b ∈ {0, 5, …, 25}; L-BFGS-B with scipy's default tolerances on the summed
objective); the same grid's best start on the *averaged* objective, which stops early; and 1,000 bootstrap
refits with their standard errors. ``--coverage N`` adds the synthetic check that 95 % bootstrap intervals
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
    if args.coverage:
        coverage(args.coverage)


if __name__ == "__main__":
    main()
