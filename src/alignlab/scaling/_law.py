"""Approach 3: the parametric law L(N, D) = E + A/N^α + B/D^β, fitted globally, with bootstrap intervals.

Example::

    from alignlab.scaling import ScalingLaw, read_runs
    runs = read_runs("chinchilla.csv", n_col="Model Size", flops_col="Training FLOP", drop_highest_loss=5)
    law = ScalingLaw(n_bootstrap=1000).fit(runs)
    law.params_["alpha"], law.intervals_["alpha"], law.compute_optimal([1e21, 1e23])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alignlab.core._errors import AlignlabError
from alignlab.scaling._bootstrap import bootstrap_refits
from alignlab.scaling._data import FLOPS_PER_PARAM_TOKEN, read_runs
from alignlab.scaling._errors import FitRefused
from alignlab.scaling._solver import PARAM_ORDER, log_predict, single_threaded_blas, solve, solve_bounds

__all__ = ["NAMES", "ScalingLaw", "ScalingLawConfig", "law_from_params"]

NAMES = ("E", "A", "B", "alpha", "beta")  # public order; θ is (log A, log B, log E, α, β)


class ScalingLawConfig(BaseModel):
    """Hyperparameters of :class:`ScalingLaw` (validated when ``fit`` starts)."""

    model_config = ConfigDict(extra="forbid")

    # objective
    huber_delta: float = Field(1e-3, gt=0, description="Huber δ on log loss (Chinchilla, Epoch: 1e-3).")
    exponent_bounds: tuple[float, float] = Field((0.0, 3.0), description="Allowed α, β; an optimum on a bound is refused.")
    # intervals
    n_bootstrap: int = Field(1000, ge=0, description="Bootstrap refits (runs resampled); 0 = no intervals.")
    level: float = Field(0.95, gt=0, lt=1, description="Coverage of the percentile intervals.")
    seed: int = Field(0, description="Seed of the bootstrap draws.")
    n_jobs: int = Field(1, description="Processes for the bootstrap (joblib; -1 = all cores). Same numbers for any value.")
    # refusals
    min_runs: int = Field(8, ge=6, description="Fewest distinct runs to fit five parameters.")
    min_span: float = Field(4.0, gt=1, description="Smallest max/min ratio of N and of D.")


def _theta_to_params(theta: np.ndarray) -> dict[str, float]:
    a, b, e, alpha, beta = theta
    return {"E": float(np.exp(e)), "A": float(np.exp(a)), "B": float(np.exp(b)), "alpha": float(alpha), "beta": float(beta)}


def law_from_params(E: float, A: float, B: float, alpha: float, beta: float) -> ScalingLaw:
    """A fitted-looking :class:`ScalingLaw` with given parameters (for synthetic data and what-ifs)."""
    law = ScalingLaw(n_bootstrap=0)
    law.theta_ = np.array([np.log(A), np.log(B), np.log(E), alpha, beta])
    law.params_ = _theta_to_params(law.theta_)
    law.bootstrap_theta_, law.intervals_, law.bootstrap_failures_ = np.empty((0, 5)), {}, 0
    law.config_, law.variant_, law.objective_ = ScalingLawConfig(n_bootstrap=0), "given", float("nan")
    law.n_rows_ = law.n_runs_ = 0
    law.compute_range_ = (float("nan"), float("nan"))  # fitted on nothing: no range to extrapolate from
    return law


class ScalingLaw:
    """Chinchilla's approach 3 solved to its global optimum, with run-bootstrap intervals.

    Example::

        law = ScalingLaw(n_bootstrap=200).fit(runs)      # runs: read_runs(...) or N, D, loss columns
        law.predict(1e9, 2e10), law.compute_optimal(1e21)

    Args: see :class:`ScalingLawConfig` (same keywords).
    """

    def __init__(self, **params: Any):
        self.params = params

    def get_params(self) -> dict[str, Any]:
        return dict(self.params)

    # ------------------------------------------------------------------ fitting
    def fit(self, df: Any, variant: str | None = None) -> ScalingLaw:
        """Fit on a runs table (one variant: ``variant`` picks it when the table has several).

        Raises:
            FitRefused: too few runs, too narrow a range, N and D moving together, an optimum on a bound, or
                no convergence; the message says which and why.
        """
        try:
            config = ScalingLawConfig(**self.params)
        except ValidationError as exc:
            raise AlignlabError(f"Invalid ScalingLaw settings: {exc}") from exc
        runs = df if {"N", "D", "loss", "run", "variant"} <= set(getattr(df, "columns", [])) else read_runs(df)
        runs = _select_variant(runs, variant)
        self.config_, self.variant_ = config, str(runs["variant"].iloc[0])
        log_n, log_d, log_loss = (np.log(runs[c].to_numpy(float)) for c in ("N", "D", "loss"))
        run_codes = pd.factorize(runs["run"].astype(str) + "\x00" + runs["seed"].astype(str))[0]
        self.n_rows_, self.n_runs_ = len(runs), int(run_codes.max()) + 1
        self.compute_range_ = (float(runs["C"].min()), float(runs["C"].max()))
        _check_design(runs, self.n_runs_, config)

        bounds = solve_bounds(log_loss, config.exponent_bounds)
        with single_threaded_blas():
            sol = solve(log_n, log_d, log_loss, config.huber_delta, bounds)
        if not sol.converged:
            raise FitRefused("not_converged", f"the optimiser did not converge (largest gradient {sol.grad_norm:.2e};"
                             f" {sol.message}). The law does not describe these runs well enough to fit.")
        _check_bounds(sol.theta, bounds)
        self.theta_, self.objective_, self.solution_ = sol.theta, sol.objective, sol
        self.params_ = _theta_to_params(sol.theta)
        self.residuals_ = log_predict(sol.theta, log_n, log_d) - log_loss

        self.bootstrap_theta_, self.intervals_, self.bootstrap_failures_ = np.empty((0, 5)), {}, 0
        if config.n_bootstrap:
            starts = [sol.theta] if sol.guard is None else [sol.theta, sol.guard]
            refits = bootstrap_refits(starts, log_n, log_d, log_loss, run_codes,
                                      delta=config.huber_delta, bounds=bounds, n_boot=config.n_bootstrap, seed=config.seed,
                                      n_jobs=config.n_jobs)
            ok = np.isfinite(refits[:, 5])
            self.bootstrap_failures_ = int((~ok).sum())
            self.bootstrap_theta_ = refits[ok, :5]
            self.intervals_ = self._intervals(config.level)
        return self

    def _intervals(self, level: float) -> dict[str, tuple[float, float]]:
        boot = self.bootstrap_params()
        tail = 100 * (1 - level) / 2
        return {name: (float(np.percentile(boot[name], tail)), float(np.percentile(boot[name], 100 - tail)))
                for name in NAMES}

    def bootstrap_params(self) -> pd.DataFrame:
        """One row per bootstrap refit, columns E, A, B, alpha, beta."""
        self._check_fitted()
        t = self.bootstrap_theta_
        return pd.DataFrame({"E": np.exp(t[:, 2]), "A": np.exp(t[:, 0]), "B": np.exp(t[:, 1]),
                             "alpha": t[:, 3], "beta": t[:, 4]})

    def _check_fitted(self) -> None:
        if not hasattr(self, "theta_"):
            raise AlignlabError("This ScalingLaw is not fitted yet; call fit(runs) first.")

    # ------------------------------------------------------------------ predictions
    def predict(self, N: Any, D: Any) -> np.ndarray:
        """Predicted loss at parameters N and tokens D (broadcast)."""
        self._check_fitted()
        return np.exp(log_predict(self.theta_, np.log(np.asarray(N, float)), np.log(np.asarray(D, float))))

    def compute_optimal(self, C: Any) -> pd.DataFrame:
        """N*(C), D*(C), tokens per parameter and the loss at the optimum for budgets C = 6 N D."""
        self._check_fitted()
        C = np.atleast_1d(np.asarray(C, float))
        n_opt, d_opt = optimal_allocation(self.theta_, C)
        return pd.DataFrame({"C": C, "N_opt": n_opt, "D_opt": d_opt, "tokens_per_param": d_opt / n_opt,
                             "loss": optimal_loss(self.theta_, C)})

    def optimal_loss(self, C: Any) -> np.ndarray:
        self._check_fitted()
        return optimal_loss(self.theta_, np.asarray(C, float))


def optimal_allocation(theta: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closed form: N* = G (C/6)^(β/(α+β)), D* = (C/6)/N*, G = (αA / βB)^(1/(α+β)) (Hoffmann et al. eq. 4)."""
    a, b, _, alpha, beta = theta
    with np.errstate(divide="ignore", invalid="ignore"):  # a bootstrap draw with an exponent at 0 gives inf/NaN
        log_g = (np.log(alpha) + a - np.log(beta) - b) / (alpha + beta)
    log_c6 = np.log(C / FLOPS_PER_PARAM_TOKEN)
    log_n = log_g + beta / (alpha + beta) * log_c6
    return np.exp(log_n), np.exp(log_c6 - log_n)


def optimal_loss(theta: np.ndarray, C: np.ndarray) -> np.ndarray:
    n_opt, d_opt = optimal_allocation(theta, C)
    return np.exp(log_predict(theta, np.log(n_opt), np.log(d_opt)))


def compute_for_loss(theta: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """Smallest budget whose optimal loss is ``loss`` (inf at or below E): L*(C) = E + K (C/6)^-γ inverted."""
    a, b, e, alpha, beta = theta
    excess = np.asarray(loss, float) - np.exp(e)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # exponent-0 draws: inf/NaN, filtered later
        gamma = alpha * beta / (alpha + beta)
        log_g = (np.log(alpha) + a - np.log(beta) - b) / (alpha + beta)
        k = np.exp(a - alpha * log_g) + np.exp(b + beta * log_g)
        c = FLOPS_PER_PARAM_TOKEN * (excess / k) ** (-1.0 / gamma)
    return np.where(excess > 0, c, np.inf)


def _select_variant(runs: pd.DataFrame, variant: str | None) -> pd.DataFrame:
    variants = list(dict.fromkeys(runs["variant"]))
    if variant is None:
        if len(variants) > 1:
            raise AlignlabError(f"The runs table has {len(variants)} variants {variants}; fit one at a time"
                                " (variant=...) or use fit_variants().")
        return runs
    if variant not in variants:
        raise AlignlabError(f"Unknown variant '{variant}'; the runs table has {variants}.")
    return runs[runs["variant"] == variant].reset_index(drop=True)


def _check_design(runs: pd.DataFrame, n_runs: int, config: ScalingLawConfig) -> None:
    if n_runs < config.min_runs:
        raise FitRefused("too_few_runs", f"{n_runs} run(s) cannot pin five parameters (E, A, B, α, β); at least"
                         f" {config.min_runs} runs are needed, spread over model sizes and token counts.")
    for col, name in (("N", "parameters N"), ("D", "tokens D")):
        span = runs[col].max() / runs[col].min()
        if span < config.min_span:
            raise FitRefused("narrow_range", f"{name} spans only a factor {span:.3g} (need ≥ {config.min_span:g}):"
                             " the exponent cannot be told apart from the constant.")
    if runs["N"].nunique() < 3 or runs["D"].nunique() < 3:
        raise FitRefused("degenerate_grid", "fewer than 3 distinct values of N or of D; the terms cannot be separated.")
    corr = np.corrcoef(np.log(runs["N"]), np.log(runs["D"]))[0, 1]
    if abs(corr) > 0.995:
        raise FitRefused("degenerate_grid", f"log N and log D move together (correlation {corr:.4f}), e.g. a fixed"
                         " tokens-per-parameter ratio: the N and D terms cannot be told apart. Vary them independently.")


def _check_bounds(theta: np.ndarray, bounds) -> None:
    labels = {"a": "log A", "b": "log B", "e": "log E", "alpha": "alpha", "beta": "beta"}
    for value, (lo, hi), key in zip(theta, bounds, PARAM_ORDER):
        for edge in (lo, hi):
            if abs(value - edge) <= 1e-6 * max(1.0, abs(edge)):
                raise FitRefused("at_bound", f"{labels[key]} = {value:.4g} sits on its bound {edge:.4g}: the data do"
                                 " not determine it (e.g. the loss does not fall with that variable over this range).")
