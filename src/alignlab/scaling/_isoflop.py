"""Approach 2: isoFLOP profiles — a parabola in log N per budget, and a power law through their minima.

Approach 2 is biased: a parabola does not have the shape of the law's isoFLOP profile, so its vertex misses
the true optimum even without noise (Open-Athena 2026 put the waste on Llama 3 at about 6.5 % of compute).
Given a law, :func:`isoflop_fit` measures that bias on synthetic, noiseless data with the same design and
reports it next to the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alignlab.scaling._data import FLOPS_PER_PARAM_TOKEN, read_runs
from alignlab.scaling._errors import FitRefused

__all__ = ["IsoflopFit", "group_budgets", "isoflop_fit"]


@dataclass
class IsoflopFit:
    """Profiles (one row per budget, with ``status``), N*(C) ∝ C^a, D*(C) ∝ C^b, and the measured bias."""

    profiles: pd.DataFrame
    a: float
    a_interval: tuple[float, float]
    log_k: float  # N* = exp(log_k) · C^a
    bias: dict[str, float] = field(default_factory=dict)

    @property
    def b(self) -> float:
        return 1.0 - self.a  # D* = C / (6 N*)

    def n_opt(self, C: Any) -> np.ndarray:
        return np.exp(self.log_k + self.a * np.log(np.asarray(C, float)))

    def summary(self) -> dict[str, Any]:
        refused = self.profiles[self.profiles["status"] != "ok"]
        return {"a": self.a, "a_interval": list(self.a_interval), "b": self.b,
                "budgets_used": int((self.profiles["status"] == "ok").sum()),
                "budgets_refused": {f"{c:.3g}": s for c, s in zip(refused["C"], refused["status"])},
                "bias": self.bias}


def group_budgets(C: np.ndarray, tolerance: float = 0.02) -> np.ndarray:
    """Budget labels: sorted log10 C split wherever neighbours differ by more than ``tolerance`` decades."""
    log_c = np.log10(np.asarray(C, float))
    order = np.argsort(log_c)
    labels = np.empty(len(log_c), int)
    labels[order] = np.concatenate([[0], np.cumsum(np.diff(log_c[order]) > tolerance)])
    return labels


def _profiles(runs: pd.DataFrame, tolerance: float, min_sizes: int) -> pd.DataFrame:
    rows = []
    for _, group in runs.groupby(group_budgets(runs["C"].to_numpy(), tolerance)):
        log_n, loss = np.log(group["N"].to_numpy()), group["loss"].to_numpy()
        row = {"C": float(np.exp(np.log(group["C"]).mean())), "n_sizes": int(group["N"].nunique()),
               "N_opt": np.nan, "loss_opt": np.nan, "curvature": np.nan}
        if row["n_sizes"] < min_sizes:
            row["status"] = f"degenerate_grid: {row['n_sizes']} model size(s), need {min_sizes}"
        else:
            c2, c1, c0 = np.polyfit(log_n, loss, 2)
            vertex = -c1 / (2 * c2) if c2 != 0 else np.nan
            row["curvature"] = c2
            if c2 <= 0 or not (log_n.min() < vertex < log_n.max()):
                where = "curves downward" if c2 <= 0 else "has its minimum outside the sizes tried"
                row["status"] = f"no_interior_minimum: the parabola {where}"
            else:
                row.update(N_opt=float(np.exp(vertex)), loss_opt=float(c0 + c1 * vertex + c2 * vertex**2), status="ok")
        rows.append(row)
    return pd.DataFrame(rows)


def _power_law(profiles: pd.DataFrame, level: float, min_budgets: int) -> tuple[float, tuple[float, float], float]:
    ok = profiles[profiles["status"] == "ok"]
    if len(ok) < min_budgets:
        reasons = "; ".join(f"C={c:.3g}: {s}" for c, s in zip(profiles["C"], profiles["status"]) if s != "ok")
        reason = "no_interior_minimum" if "no_interior_minimum" in reasons else "degenerate_grid"
        raise FitRefused(reason, f"only {len(ok)} isoFLOP profile(s) have an interior minimum (need {min_budgets})."
                         f" {reasons or ''} Add model sizes on both sides of each budget's optimum.")
    fit = stats.linregress(np.log(ok["C"]), np.log(ok["N_opt"]))
    half = stats.t.ppf(0.5 + level / 2, len(ok) - 2) * fit.stderr if len(ok) > 2 else np.inf
    return float(fit.slope), (float(fit.slope - half), float(fit.slope + half)), float(fit.intercept)


def isoflop_fit(df: Any, *, law=None, tolerance: float = 0.02, min_sizes: int = 3, min_budgets: int = 3,
                level: float = 0.95) -> IsoflopFit:
    """Approach 2 on a runs table; with ``law`` (e.g. the approach-3 fit) also its bias on that design.

    Args:
        df: runs (``read_runs`` frame or anything it reads), one variant.
        law: a fitted :class:`ScalingLaw`: noiseless losses from it at the same (N, D) are fitted the same
            way, and ``bias`` reports the exponent error, N* ratio and the compute wasted at the largest budget.
        tolerance: budgets are rows whose log10 C lie within this many decades of a neighbour.

    Raises:
        FitRefused: fewer than ``min_budgets`` profiles with an interior minimum (the message lists why each
            failed: too few sizes, or no interior minimum).
    """
    runs = df if {"N", "C", "loss"} <= set(getattr(df, "columns", [])) else read_runs(df)
    profiles = _profiles(runs, tolerance, min_sizes)
    a, a_interval, log_k = _power_law(profiles, level, min_budgets)
    result = IsoflopFit(profiles=profiles, a=a, a_interval=a_interval, log_k=log_k)
    if law is not None:
        result.bias = measure_bias(runs, law, tolerance=tolerance, min_sizes=min_sizes, min_budgets=min_budgets)
    return result


def measure_bias(runs: pd.DataFrame, law, **kw) -> dict[str, float]:
    """Approach 2 on noiseless losses from ``law`` at the same design, against the law's own optimum."""
    from alignlab.scaling._law import compute_for_loss

    clean = runs.assign(loss=law.predict(runs["N"].to_numpy(), runs["D"].to_numpy()))
    profiles = _profiles(clean, kw["tolerance"], kw["min_sizes"])
    a, _, log_k = _power_law(profiles, 0.95, kw["min_budgets"])
    true_a = law.params_["beta"] / (law.params_["alpha"] + law.params_["beta"])
    c_top = float(runs["C"].max())
    n_est = float(np.exp(log_k + a * np.log(c_top)))
    n_true = float(law.compute_optimal(c_top)["N_opt"].iloc[0])
    loss = law.predict(n_est, c_top / (FLOPS_PER_PARAM_TOKEN * n_est))
    needed = float(np.ravel(compute_for_loss(law.theta_, loss))[0])
    return {"a_error": a - true_a, "N_opt_ratio_at_max_budget": n_est / n_true,
            "compute_wasted_at_max_budget": 1.0 - needed / c_top}
