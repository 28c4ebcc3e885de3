"""Approach 3 pooled over variants: one fit of all variants' runs, sharing what one variant's runs cannot pin.

Small grids rarely pin five parameters per variant: the irreducible loss E sits far below the losses reached,
so each variant's own fit puts E on its bound and refuses. What such a grid does show is how fast the loss
falls with N and D and how far apart the variants are. Three pooled laws, tightest first (``shared``):

- ``"scale"``: L_v(N, D) = E + s_v (A/N^α + B/D^β), one factor s_v per variant (s = 1 for the first). This is
  the effective-compute model of the algorithmic-progress literature with the variant's gain split between
  N and D as the compute-optimal allocation splits compute: the variant behaves like the baseline with
  g^a N parameters and g^b D tokens, g = s_v^(−1/γ), γ = αβ/(α+β), so CEG = g at every budget.
- ``"exponents"``: E, α, β shared, A_v and B_v per variant (separate parameter and data multipliers);
  the CEG is still constant in C.
- ``"e"``: only E shared, exponents per variant; CEG(C) may change with scale. The study report fits it too
  and takes the gain from it, saying so, when its CEG(C) changes with scale beyond its bootstrap band — the
  tighter laws assume a constant gain and could otherwise hide a different exponent.

Same objective as :class:`~alignlab.scaling.ScalingLaw` (Huber δ = 1e-3 on log loss, summed over rows), each
variant's rows at θ_v = M_v θ, so the gradient and Hessian are the one-variant ones mapped back (M_vᵀ g,
M_vᵀ H M_v). Solve: variable-projection starts on an (α, β) grid, the best six polished by L-BFGS-B, finished
by damped Newton. Bootstrap: runs resampled with replacement *within each variant* (every draw keeps each
variant's number of runs), refitted from the full-data optimum; the i-th draw of every variant's law comes
from one joint refit, so :func:`~alignlab.scaling.compute_equivalent_gain` pairs them as a joint draw.
E on its lower bound is not a refusal here (``e_at_bound_`` says so; the bootstrap lets E move off it): inside
the runs' range the gain rests on the loss gap between variants and the slope of the frontier, which the runs
do pin. An exponent, A, B or a factor on its bound is still refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from alignlab.scaling._errors import FitRefused
from alignlab.scaling._law import ScalingLaw, ScalingLawConfig, _check_bounds, _check_design, _theta_to_params
from alignlab.scaling._solver import (
    _projected_grad_norm,
    bounded_minimize,
    huber_objective,
    log_predict,
    newton_minimize,
    single_threaded_blas,
    solve_bounds,
)

__all__ = ["PooledLaw"]

FACTOR_BOUNDS = (-20.0, 20.0)  # log s_v


class PooledLaw:
    """Approach 3 over several variants at once (see the module docstring for the three ``shared`` laws).

    Example::

        pooled = PooledLaw(n_bootstrap=1000).fit(runs, ["gpt", "rotary"])
        compute_equivalent_gain(pooled.laws_["gpt"], pooled.laws_["rotary"], [1e12])

    Args:
        shared: ``"scale"`` (default), ``"exponents"`` or ``"e"``.
        start: for ``"e"``: a fitted ``PooledLaw`` on the same runs whose per-variant laws seed the fit.
        fixed_e: hold E at this value instead of fitting it (the report's sensitivity check: how much does the
            gain move if E is really larger than the runs can show?).
        **params: :class:`~alignlab.scaling.ScalingLawConfig` keywords (``n_bootstrap``, ``seed``, ``level`` …).
    """

    def __init__(self, shared: str = "scale", start: PooledLaw | None = None, fixed_e: float | None = None,
                 **params: Any):
        if shared not in ("scale", "exponents", "e"):
            raise ValueError(f"shared must be 'scale', 'exponents' or 'e', got {shared!r}")
        if shared == "e" and start is None:
            raise ValueError("shared='e' needs start=<a fitted PooledLaw on the same runs>")
        self.shared, self.start, self.fixed_e, self.params = shared, start, fixed_e, params

    # ------------------------------------------------------------------ layout
    def _layout(self, n_var: int) -> tuple[list[np.ndarray], list[tuple[float, float]]]:
        """Per variant the 5 × P matrix M_v with θ_v = (a, b, e, α, β) = M_v θ, and the box of θ (e first)."""
        box = self._box
        if self.shared == "scale":  # θ = (e, α, β, a, b, s_1, …): a_v = a + s_v, b_v = b + s_v
            size, maps = 4 + n_var, []
            for v in range(n_var):
                m = np.zeros((5, size))
                m[0, 3] = m[1, 4] = m[2, 0] = m[3, 1] = m[4, 2] = 1.0
                if v:
                    m[0, 4 + v] = m[1, 4 + v] = 1.0
                maps.append(m)
            return maps, [box[2], box[3], box[4], box[0], box[1]] + [FACTOR_BOUNDS] * (n_var - 1)
        if self.shared == "exponents":  # θ = (e, α, β, a_0, b_0, a_1, b_1, …)
            idx = [[3 + 2 * v, 4 + 2 * v, 0, 1, 2] for v in range(n_var)]
        else:  # θ = (e, a_0, b_0, α_0, β_0, a_1, …)
            idx = [[1 + 4 * v, 2 + 4 * v, 0, 3 + 4 * v, 4 + 4 * v] for v in range(n_var)]
        size = max(max(i) for i in idx) + 1
        bounds: list[Any] = [None] * size
        for i in idx:
            for k, j in enumerate(i):
                bounds[j] = box[k]
        return [np.eye(size)[i] for i in idx], bounds

    def _objective(self, theta, weights=None, hessian: bool = True):
        f, grad = 0.0, np.zeros(len(theta))
        hess = np.zeros((len(theta), len(theta))) if hessian else None
        for m, rows in zip(self.maps_, self._rows):
            w = None if weights is None else weights[rows]
            out = huber_objective(m @ theta, *self._data(rows), self.config_.huber_delta, w, hessian)
            f += out[0]
            grad += m.T @ out[1]
            if hessian:
                hess += m.T @ out[2] @ m
        return (f, grad, hess) if hessian else (f, grad)

    def _data(self, rows):
        return self._log_n[rows], self._log_d[rows], self._log_loss[rows]

    # ------------------------------------------------------------------ fitting
    def fit(self, runs: pd.DataFrame, variants: list[str]) -> PooledLaw:
        """Fit the variants' rows of ``runs`` (a :func:`read_runs` table) jointly.

        Raises:
            FitRefused: a variant with too few runs, a pooled design that cannot separate N from D, an exponent,
                A, B or a factor on its bound, or no convergence.
        """
        config = ScalingLawConfig(**self.params)
        self.config_, self.variants_ = config, list(variants)
        sub = runs[runs["variant"].isin(self.variants_)].reset_index(drop=True)
        key = sub["variant"].astype(str) + "\x00" + sub["run"].astype(str) + "\x00" + sub["seed"].astype(str)
        codes = pd.factorize(key)[0]
        _check_design(sub, int(codes.max()) + 1 if len(sub) else 0, config)
        self._rows = [np.flatnonzero(sub["variant"].to_numpy() == v) for v in self.variants_]
        for name, rows in zip(self.variants_, self._rows):
            frame, n_runs = sub.iloc[rows], np.unique(codes[rows]).size
            if n_runs < 4 or frame["N"].nunique() < 2 or frame["D"].nunique() < 2:
                raise FitRefused("too_few_runs", f"variant '{name}' has {n_runs} run(s) over {frame['N'].nunique()}"
                                 f" size(s) and {frame['D'].nunique()} token count(s); the pooled fit needs at least 4"
                                 " runs per variant with 2 or more of each.")
        self._log_n, self._log_d, self._log_loss = (np.log(sub[c].to_numpy(float)) for c in ("N", "D", "loss"))
        self._codes = codes
        self._box = solve_bounds(self._log_loss, config.exponent_bounds)  # (a, b, e, α, β), as for one variant
        self.maps_, self.bounds_ = self._layout(len(self.variants_))
        if self.fixed_e is not None:
            self.bounds_[0] = (float(np.log(self.fixed_e)),) * 2
        self._lo, self._hi = (np.array(b, float) for b in zip(*self.bounds_))
        with single_threaded_blas():
            theta, f, converged, grad = self._solve()
        if not converged:
            raise FitRefused("not_converged", f"the pooled fit did not converge (largest gradient {grad:.2e}).")
        self._check(theta)
        self.theta_, self.objective_ = theta, f
        self.e_at_bound_ = self.fixed_e is None and bool(theta[0] <= self._lo[0] + 1e-6 * max(1.0, abs(self._lo[0])))
        self._hold_e = self.fixed_e is not None or self.e_at_bound_
        self.bootstrap_theta_, self.bootstrap_failures_ = np.empty((0, len(theta))), 0
        if config.n_bootstrap:
            with single_threaded_blas():
                self._bootstrap()
        self.laws_ = {name: self._view(i, sub) for i, name in enumerate(self.variants_)}
        return self

    def _check(self, theta) -> None:
        """Every bound but E's lower one is a refusal (a factor too: the variants' scales are not separable)."""
        e_lo, e_hi = self.bounds_[0]
        if self.fixed_e is None and abs(theta[0] - e_hi) <= 1e-6 * max(1.0, abs(e_hi)):
            raise FitRefused("at_bound", f"pooled fit: log E = {theta[0]:.4g} sits on its upper bound (the largest loss).")
        for name, m in zip(self.variants_, self.maps_):
            theta_v = m @ theta
            theta_v[2] = np.mean(self._box[2])  # E's lower bound is allowed (module docstring)
            try:
                _check_bounds(theta_v, self._box)
            except FitRefused as exc:
                raise FitRefused(exc.reason, f"pooled fit, variant '{name}': {exc.detail}") from exc
        for value in theta[5:] if self.shared == "scale" else ():
            if min(abs(value - FACTOR_BOUNDS[0]), abs(value - FACTOR_BOUNDS[1])) < 1e-6:
                raise FitRefused("at_bound", f"pooled fit: a variant's log factor {value:.4g} sits on its bound.")

    def _starts(self) -> list[np.ndarray]:
        """Variable projection on an (α, β) grid: NNLS of (E + Σ_v (A_v x + B_v y) 1_v)/L ≈ 1 (per-variant A, B;
        for ``"scale"`` the first variant's A, B and the mean log ratio as its factor)."""
        n_var = len(self.variants_)
        if self.shared == "e":
            theta = np.empty(len(self.bounds_))
            for m, name in zip(self.maps_, self.variants_):
                start = self.start.laws_[name].theta_
                theta[np.argmax(m, axis=1)] = start  # each row of M_v is one coordinate of θ
            theta[0] = self.start.theta_[0]
            return [np.clip(theta, self._lo, self._hi)]
        grid = np.linspace(max(self._box[3][0], 0.0) + 0.05, min(self._box[3][1], 2.0), 12)
        inv = np.exp(-self._log_loss)
        masks = [np.isin(np.arange(len(inv)), rows).astype(float) for rows in self._rows]
        starts = []
        for alpha in grid:
            x = np.exp(-alpha * self._log_n)
            for beta in grid:
                y = np.exp(-beta * self._log_d)
                cols = [np.ones_like(inv)] + [x * m for m in masks] + [y * m for m in masks]
                coef, _ = nnls(np.column_stack(cols) * inv[:, None], np.ones_like(inv))
                la, lb = (np.log(np.maximum(c, 1e-300)) for c in (coef[1:1 + n_var], coef[1 + n_var:]))
                head = [np.log(max(coef[0], 1e-300)), alpha, beta]
                if self.shared == "scale":
                    factors = [np.clip(np.mean([la[v] - la[0], lb[v] - lb[0]]), -5, 5) for v in range(1, n_var)]
                    theta = np.array(head + [la[0], lb[0]] + factors)
                else:
                    theta = np.array(head + list(np.column_stack([la, lb]).ravel()))
                starts.append(np.clip(theta, self._lo, self._hi))
        return starts

    def _polish(self, theta0, weights=None):
        """Bounded L-BFGS-B (:func:`~alignlab.scaling._solver.bounded_minimize`); (θ, f, projected |∇f|, ok)."""
        x, f, g, result = bounded_minimize(lambda theta: self._objective(theta, weights, False), theta0, self.bounds_)
        return x, f, _projected_grad_norm(x, g, self.bounds_), bool(result.success)

    def _newton(self, theta0, weights=None, fix_e: bool = False, maxiter: int = 100):
        """Damped Newton from ``theta0`` (E held where it is when ``fix_e``); (θ, f, |∇f|, ok inside the box)."""
        total = len(self._log_loss) if weights is None else float(weights.sum())
        gtol = 1e-9 * self.config_.huber_delta * total
        theta0 = np.asarray(theta0, float)
        keep = np.arange(len(theta0)) >= (1 if fix_e else 0)

        def fun(free):
            full = theta0.copy()
            full[keep] = free
            f, g, h = self._objective(full, weights)
            return f, g[keep], h[np.ix_(keep, keep)]

        free, f, g, ok = newton_minimize(fun, theta0[keep], gtol, maxiter)
        theta = theta0.copy()
        theta[keep] = free
        inside = bool(np.all((theta >= self._lo) & (theta <= self._hi)))
        return theta, f, float(np.abs(g).max()), bool(ok and inside)

    def _solve(self):
        starts = self._starts()
        values = [self._objective(s, None, False)[0] for s in starts]
        tol = 1e-6 * self.config_.huber_delta * len(self._log_loss)
        found = []
        for i in np.argsort(values)[:6]:
            theta, f, grad, ok = self._polish(starts[i])
            t_new, f_new, g_new, inside = self._newton(theta, fix_e=self.fixed_e is not None)
            if inside and f_new <= f:
                theta, f, grad, ok = t_new, f_new, g_new, True
            found.append((f, theta, ok or grad < tol, grad))
        f, theta, ok, grad = min(found, key=lambda item: item[0])
        return theta, f, ok, grad

    def _bootstrap(self) -> None:
        """Runs resampled within each variant; each draw refitted from the full-data optimum.

        With E on its lower bound, Newton first runs with E held there (the bound is active); only if the draw
        then pulls E up is it freed. A draw Newton cannot finish inside the box gets bounded L-BFGS-B.
        """
        rng = np.random.default_rng(self.config_.seed)
        draws, failures = [], 0
        groups = [np.unique(self._codes[rows]) for rows in self._rows]
        tol = 1e-6 * self.config_.huber_delta
        for _ in range(self.config_.n_bootstrap):
            counts = np.zeros(int(self._codes.max()) + 1)
            for runs_v in groups:
                np.add.at(counts, rng.choice(runs_v, size=len(runs_v)), 1.0)
            weights = counts[self._codes]
            theta, _, _, ok = self._newton(self.theta_, weights, fix_e=self._hold_e)
            if ok and self.e_at_bound_ and self._objective(theta, weights, False)[1][0] < -tol * weights.sum():
                theta, _, _, ok = self._newton(theta, weights)  # this draw wants a larger E: free it
            if not ok:
                theta, _, grad, ok = self._polish(theta if np.all(np.isfinite(theta)) else self.theta_, weights)
                ok = ok or grad < tol * weights.sum()
            if ok:
                draws.append(theta)
            else:
                failures += 1
        self.bootstrap_theta_ = np.array(draws).reshape(-1, len(self.theta_))
        self.bootstrap_failures_ = failures

    def _view(self, i: int, sub: pd.DataFrame) -> ScalingLaw:
        """Variant i's law as a fitted :class:`ScalingLaw` (its bootstrap rows: the joint draws)."""
        m, rows = self.maps_[i], self._rows[i]
        law = ScalingLaw(**self.params)
        law.config_, law.variant_ = self.config_, self.variants_[i]
        law.theta_ = m @ self.theta_
        law.params_ = _theta_to_params(law.theta_)
        law.objective_ = float(huber_objective(law.theta_, *self._data(rows), self.config_.huber_delta)[0])
        law.residuals_ = log_predict(law.theta_, *self._data(rows)[:2]) - self._log_loss[rows]
        law.n_rows_, law.n_runs_ = len(rows), int(np.unique(self._codes[rows]).size)
        frame = sub.iloc[rows]
        law.compute_range_ = (float(frame["C"].min()), float(frame["C"].max()))
        law.bootstrap_theta_, law.bootstrap_failures_ = self.bootstrap_theta_ @ m.T, self.bootstrap_failures_
        law.intervals_ = law._intervals(self.config_.level) if len(law.bootstrap_theta_) else {}
        law.pooled_ = self.shared  # which pooled law it comes from, for the report
        return law
