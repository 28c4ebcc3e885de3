"""The approach-3 optimiser: analytic derivatives, Newton = L-BFGS-B, the global optimum, the early-stop trap."""

import itertools

import numpy as np
import pytest
from scipy.optimize import approx_fprime, minimize


@pytest.fixture(scope="module")
def data():
    from alignlab.scaling import synthetic_runs

    runs = synthetic_runs(noise=0.01, seed=3, budgets=(1e18, 1e19, 1e20), sizes_per_budget=6)
    return tuple(np.log(runs[c].to_numpy()) for c in ("N", "D", "loss"))


def test_gradient_and_hessian_match_finite_differences(data):
    from alignlab.scaling._solver import huber_objective

    theta = np.array([6.0, 7.5, 0.6, 0.34, 0.37])
    weights = np.arange(len(data[0])) % 3.0
    f, g, h = huber_objective(theta, *data, 1e-3, weights, True)
    numeric_g = approx_fprime(theta, lambda t: huber_objective(t, *data, 1e-3, weights)[0], 1e-7)
    numeric_h = np.array([approx_fprime(theta, lambda t, i=i: huber_objective(t, *data, 1e-3, weights)[1][i], 1e-7)
                          for i in range(5)])
    assert np.allclose(g, numeric_g, rtol=1e-4, atol=1e-8)
    assert np.allclose(h, numeric_h, rtol=1e-3, atol=1e-5)


def test_newton_and_lbfgs_agree(data):
    from alignlab.scaling._solver import newton_polish, polish, solve_bounds

    start = np.array([6.0, 7.5, 0.6, 0.34, 0.37])
    _, f_newton, _, ok = newton_polish(start, *data, 1e-3)
    _, f_lbfgs, _, _ = polish(start, *data, 1e-3, solve_bounds(data[2], (0.0, 3.0)))
    assert ok and f_newton == pytest.approx(f_lbfgs, rel=1e-9)


def test_global_optimum_beats_a_multistart_grid(data):
    from alignlab.scaling._solver import huber_objective, single_threaded_blas, solve, solve_bounds

    bounds = solve_bounds(data[2], (0.0, 3.0))
    sol = solve(*data, 1e-3, bounds)
    fun = lambda t: huber_objective(t, *data, 1e-3)  # noqa: E731
    grid = itertools.product([0, 15], [0, 15], [-0.5, 0.5], [0.2, 0.6, 1.2], [0.2, 0.6, 1.2])
    with single_threaded_blas():
        best = min(minimize(fun, s, jac=True, method="L-BFGS-B", bounds=bounds).fun for s in grid)
    assert sol.converged and sol.objective <= best * (1 + 1e-9)


def test_mean_objective_with_default_tolerances_stops_early(chinchilla):
    """Averaging the Huber losses shrinks f to ~1e-6, under L-BFGS-B's absolute ftol floor: it stops early."""
    from alignlab.scaling import ScalingLaw
    from alignlab.scaling._solver import huber_objective

    data = tuple(np.log(chinchilla[c].to_numpy()) for c in ("N", "D", "loss"))
    n = len(data[0])
    start = np.array([5.0, 5.0, 0.5, 0.5, 0.5])  # one of the Chinchilla/Epoch grid's starts
    mean = minimize(lambda t: tuple(v / n for v in huber_objective(t, *data, 1e-3)), start, jac=True,
                    method="L-BFGS-B")
    ours = ScalingLaw(n_bootstrap=0).fit(chinchilla)
    assert huber_objective(mean.x, *data, 1e-3)[0] > ours.objective_ * 1.01
