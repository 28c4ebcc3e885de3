"""Approach 3's optimiser: the Huber objective on log loss and a solve that reaches its global optimum.

The law is L = E + A/N^α + B/D^β, fitted as Chinchilla did in log space with a = log A, b = log B,
e = log E: log L̂ = logsumexp(a − α log N, b − β log D, e), objective Σ huber_δ(log L̂ − log L) summed over
rows (``scipy.special.huber``: r²/2 inside δ, δ(|r| − δ/2) outside). Variables are ordered
θ = (a, b, e, α, β).

Why hand-written and not a 4,500-start L-BFGS grid: the grid costs ~150 s on 2 cores and still depends on
L-BFGS stopping well. Here, for fixed exponents the law is linear in (E, A, B); a non-negative least-squares
solve of the relative residual (L̂ − L)/L ≈ log L̂ − log L on a coarse (α, β) grid (a variable-projection
profile) gives starts in every basin the data allow, the best few are polished jointly with L-BFGS-B, and the
polish runs on a rescaled objective with tight tolerances. Scaling matters: L-BFGS-B's ``ftol`` test is
relative to max(|f|, 1), so a small objective (Huber sums of ~1e-3, or worse, means of ~1e-6) makes the
default tolerance stop early — the failure Besiroglu et al. (2024) found in Chinchilla's own fit.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, nnls
from scipy.special import huber

__all__ = ["PARAM_ORDER", "Solution", "single_threaded_blas", "huber_objective", "log_predict", "newton_minimize", "newton_polish", "polish", "solve", "solve_bounds"]

PARAM_ORDER = ("a", "b", "e", "alpha", "beta")


def single_threaded_blas():
    """A context keeping BLAS on one thread: the matrices here are 5×5 and (rows×3), and on a busy machine
    OpenBLAS's threads spin-wait on each other — a 0.3 s fit took 6.4 s under load 5 on 2 cores."""
    try:
        from threadpoolctl import threadpool_limits  # a scikit-learn dependency, so normally present
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def log_predict(theta: np.ndarray, log_n: np.ndarray, log_d: np.ndarray) -> np.ndarray:
    a, b, e, alpha, beta = theta
    return np.logaddexp(np.logaddexp(a - alpha * log_n, b - beta * log_d), e)


def huber_objective(theta, log_n, log_d, log_loss, delta, weights=None, hessian: bool = False):
    """The summed Huber objective, its analytic gradient in θ = (a, b, e, α, β) and, if asked, its Hessian.

    ``weights`` multiply rows (the bootstrap passes how often each row was drawn). The Hessian uses
    huber'' = 1 inside δ, 0 outside (it jumps at ±δ; trust-region Newton copes, see :func:`newton_polish`).
    """
    a, b, e, alpha, beta = theta
    t1, t2 = a - alpha * log_n, b - beta * log_d
    top = np.maximum(np.maximum(t1, t2), e)
    w1, w2, w3 = np.exp(t1 - top), np.exp(t2 - top), np.exp(e - top)
    total = w1 + w2 + w3
    p1, p2, p3 = w1 / total, w2 / total, w3 / total  # softmax weights: d log L̂ / d (t1, t2, e)
    r = top + np.log(total) - log_loss
    losses = huber(delta, r)
    psi = np.clip(r, -delta, delta)
    if weights is not None:
        losses, psi = losses * weights, psi * weights
    g1, g2 = psi * p1, psi * p2
    grad = np.array([g1.sum(), g2.sum(), (psi * p3).sum(), -(g1 @ log_n), -(g2 @ log_d)])
    if not hessian:
        return float(losses.sum()), grad
    curvature = (np.abs(r) < delta).astype(float)
    if weights is not None:
        curvature *= weights
    jac = np.column_stack([p1, p2, p3, -p1 * log_n, -p2 * log_d])  # d r / d θ, shape (rows, 5)
    hess = (jac * (curvature - psi)[:, None]).T @ jac
    # Σ ψ Σ_k p_k m_k m_kᵀ with m_1 = (1,0,0,-log N,0), m_2 = (0,1,0,0,-log D), m_3 = (0,0,1,0,0)
    for i, j, g, x in ((0, 3, g1, log_n), (1, 4, g2, log_d)):
        gx = g @ x
        hess[i, i] += g.sum()
        hess[i, j] -= gx
        hess[j, i] -= gx
        hess[j, j] += g @ (x * x)
    hess[2, 2] += (psi * p3).sum()
    return float(losses.sum()), grad, hess


def newton_polish(theta0, log_n, log_d, log_loss, delta, weights=None, maxiter: int = 100):
    """Damped Newton (Levenberg–Marquardt on the analytic Hessian) from ``theta0``; returns θ, f, ∇f, converged.

    Hand-written because the bootstrap's 1,000 warm-started refits must take ~15 s on 2 cores: from a nearby
    start this needs ~10 steps of ~0.2 ms, where scipy's 'trust-exact' spends ~0.7 ms a step on its
    sub-problem and L-BFGS-B needs ~55 steps. Damping grows until a step lowers f, so an indefinite Hessian
    or a jump of huber'' at ±δ only shortens steps. No bounds: callers check them afterwards.
    """
    gtol = 1e-9 * delta * (len(log_loss) if weights is None else float(np.sum(weights)))
    return newton_minimize(lambda t: huber_objective(t, log_n, log_d, log_loss, delta, weights, True),
                           theta0, gtol, maxiter)


def newton_minimize(fun, theta0, gtol: float, maxiter: int = 100):
    """The damped Newton loop of :func:`newton_polish` for any ``fun(θ) -> (f, ∇f, ∇²f)`` (the pooled fit's too)."""
    theta = np.asarray(theta0, dtype=float)
    f, g, h = fun(theta)
    damping = 1e-6
    for _ in range(maxiter):
        if np.abs(g).max() <= gtol:
            return theta, f, g, True
        scale = np.maximum(np.abs(np.diag(h)), 1e-12)
        try:
            step = np.linalg.solve(h + damping * np.diag(scale), -g)
        except np.linalg.LinAlgError:
            damping *= 10.0
            continue
        candidate = theta + step
        f_new, g_new, h_new = fun(candidate)
        # at the optimum f changes only by rounding: a step within it that lands on a tiny gradient is taken
        if f_new <= f or (f_new <= f * (1 + 1e-13) and np.abs(g_new).max() <= gtol):
            stalled = f - f_new <= 1e-15 * f and np.abs(step).max() < 1e-12
            theta, f, g, h = candidate, f_new, g_new, h_new
            damping = max(damping / 5.0, 1e-12)
            if stalled:
                break
        else:
            damping *= 8.0
            if damping > 1e12:
                break
    return theta, f, g, bool(np.abs(g).max() <= 100 * gtol)


@dataclass
class Solution:
    """Result of :func:`solve` (θ in :data:`PARAM_ORDER`)."""

    theta: np.ndarray
    objective: float
    converged: bool
    grad_norm: float
    message: str
    n_starts: int = 1
    other_optima: int = 0
    guard: np.ndarray | None = None  # the best other local optimum, if any: the bootstrap's second start


def solve_bounds(log_loss: np.ndarray, exponent_bounds: tuple[float, float]) -> list[tuple[float, float]]:
    """Box for θ: exponents as configured; E between 1e-4·min L and max L; A, B wide (e^-50 … e^250)."""
    lo, hi = exponent_bounds
    e_bounds = (float(log_loss.min()) + np.log(1e-4), float(log_loss.max()))
    return [(-50.0, 250.0), (-50.0, 250.0), e_bounds, (lo, hi), (lo, hi)]


def polish(theta0, log_n, log_d, log_loss, delta, bounds, weights=None, maxiter: int = 3000):
    """L-BFGS-B from ``theta0`` on the objective rescaled to ~1 at the start, tight tolerances."""
    return bounded_minimize(lambda theta: huber_objective(theta, log_n, log_d, log_loss, delta, weights),
                            theta0, bounds, maxiter)


def bounded_minimize(fun, theta0, bounds, maxiter: int = 3000):
    """L-BFGS-B on ``fun(theta) -> (f, grad)`` rescaled to ~1 at ``theta0`` (clipped into ``bounds``), with
    tight tolerances; returns (θ, f, grad, scipy's result). Shared by the one-law and the pooled fits."""
    f0, _ = fun(theta0)
    scale = 1.0 / max(f0, 1e-300)

    def scaled(theta):
        f, g = fun(theta)
        return f * scale, g * scale

    x = np.clip(np.asarray(theta0, dtype=float), [b[0] for b in bounds], [b[1] for b in bounds])
    result = minimize(scaled, x, jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": maxiter, "maxcor": 20, "ftol": 1e-15, "gtol": 1e-11})
    f, g = fun(result.x)
    return result.x, f, g, result


def _projected_grad_norm(theta, grad, bounds) -> float:
    g = grad.copy()
    for i, (lo, hi) in enumerate(bounds):
        if (theta[i] <= lo + 1e-12 and g[i] > 0) or (theta[i] >= hi - 1e-12 and g[i] < 0):
            g[i] = 0.0
    return float(np.abs(g).max())


def _grid_starts(log_n, log_d, log_loss, bounds, n_grid: int) -> np.ndarray:
    """Variable projection: for each (α, β) on a grid, NNLS of (E + A x + B y)/L ≈ 1, x = N^-α, y = D^-β."""
    lo, hi = bounds[3]
    grid = np.linspace(max(lo, 0.0) + 0.05, min(hi, 2.0), n_grid)
    inv_loss = np.exp(-log_loss)
    ones = np.ones_like(log_loss)
    starts = []
    for alpha in grid:
        x = np.exp(-alpha * log_n)
        for beta in grid:
            y = np.exp(-beta * log_d)
            design = np.column_stack([ones, x, y]) * inv_loss[:, None]
            (e_lin, a_lin, b_lin), _ = nnls(design, ones)
            theta = [np.log(max(a_lin, 1e-300)), np.log(max(b_lin, 1e-300)), np.log(max(e_lin, 1e-300)), alpha, beta]
            starts.append(np.clip(theta, [b[0] for b in bounds], [b[1] for b in bounds]))
    return np.array(starts)


def solve(log_n, log_d, log_loss, delta: float, bounds, *, n_grid: int = 12, n_polish: int = 6,
          extra_starts=()) -> Solution:
    """Global minimum of the Huber objective: grid of variable-projection starts, best few polished."""
    starts = _grid_starts(log_n, log_d, log_loss, bounds, n_grid)
    if len(extra_starts):
        starts = np.vstack([starts, np.atleast_2d(extra_starts)])
    values = np.array([huber_objective(s, log_n, log_d, log_loss, delta)[0] for s in starts])
    order = np.argsort(values)[:n_polish]
    found = []
    for i in order:
        theta, f, g, result = polish(starts[i], log_n, log_d, log_loss, delta, bounds)
        # Newton finishes where L-BFGS-B's line search gives up at the Huber kinks; kept if it stays in bounds.
        t_new, f_new, g_new, ok = newton_polish(theta, log_n, log_d, log_loss, delta)
        inside = all(lo <= x <= hi for x, (lo, hi) in zip(t_new, bounds))
        if inside and f_new <= f:
            theta, f, g = t_new, f_new, g_new
        found.append((f, theta, g, bool(result.success) or (inside and ok), str(result.message)))
    found.sort(key=lambda item: item[0])
    best_f, best_theta, best_g, best_ok, best_message = found[0]
    others = [t for f, t, *_ in found[1:] if np.abs(t[3:] - best_theta[3:]).max() > 1e-3 and f > best_f * (1 + 1e-6)]
    grad_norm = _projected_grad_norm(best_theta, best_g, bounds)
    # Converged: L-BFGS-B's or Newton's own test, or a gradient negligible next to δ·rows.
    converged = best_ok or grad_norm < 1e-6 * delta * len(log_loss)
    return Solution(theta=best_theta, objective=best_f, converged=converged, grad_norm=grad_norm,
                    message=best_message, n_starts=len(starts), other_optima=len(others),
                    guard=others[0] if others else None)
