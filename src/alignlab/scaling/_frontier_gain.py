"""A fallback gain when approach 3 refuses: pure power laws through each variant's loss-vs-compute envelope.

Small grids often cannot pin the irreducible loss E (the loss still falls as a power law with no floor in
sight, and the fit puts E on its bound). Then the report still compares the variants on what the runs do
show, under a stated assumption: E = 0 over the range of the runs, so each variant's lower envelope
(approach 1) follows L = K·C^−γ. CEG(C) = C_base(L_var(C)) / C = (K_b / K_v)^(1/γ_b) · C^(γ_v/γ_b − 1).
Intervals: percentile bootstrap over runs (each variant resampled separately); the gain changes with scale
when the interval of γ_v/γ_b excludes 1. Budgets are kept inside the range of the runs: with E unknown, an
extrapolation would be a guess.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alignlab.scaling._envelope import envelope
from alignlab.scaling._errors import FitRefused

__all__ = ["frontier_gain"]


def _power_law(runs: pd.DataFrame, floor: float = 0.0) -> tuple[float, float]:
    """(log K, γ) of log(L − floor) = log K − γ log C through the envelope of ``runs``."""
    front = envelope(runs).frontier
    excess = front["loss"].to_numpy() - floor
    if (excess <= 0).any():
        raise FitRefused("at_bound", f"a loss on the envelope is at or below the assumed floor E = {floor:.4g}.")
    slope, intercept = np.polyfit(np.log(front["C"]), np.log(excess), 1)
    return float(intercept), float(-slope)


def _ceg(base: tuple[float, float], variant: tuple[float, float], C: np.ndarray) -> np.ndarray:
    (kb, gb), (kv, gv) = base, variant
    return np.exp((kb - kv) / gb + (gv / gb - 1) * np.log(C))


def _resample(runs: pd.DataFrame, groups: list[np.ndarray], rng: np.random.Generator) -> pd.DataFrame:
    """Whole runs drawn with replacement (``groups``: each run's row positions)."""
    pick = rng.integers(len(groups), size=len(groups))
    return runs.iloc[np.concatenate([groups[i] for i in pick])]


def _groups(runs: pd.DataFrame) -> list[np.ndarray]:
    return [np.asarray(v) for v in runs.reset_index(drop=True).groupby("run", sort=False).indices.values()]


def frontier_gain(runs: pd.DataFrame, baseline: str, variant: str, *, n_bootstrap: int = 1000, seed: int = 0,
                  level: float = 0.95, points: int = 5, floor: float = 0.0) -> dict[str, Any]:
    """CEG(C) of ``variant`` over ``baseline`` from envelope power laws, with bootstrap bands.

    ``floor`` is the irreducible loss E assumed for both (0, or a task's known entropy rate): the power laws
    are fitted to L − floor.

    Returns ``{"table": DataFrame(C, ceg, low, high), "gamma": {...}, "ratio": (est, low, high), "flagged",
    "failures"}``; raises :class:`FitRefused` when an envelope is too short to fit.
    """
    base_runs = runs[runs["variant"] == baseline].reset_index(drop=True)
    var_runs = runs[runs["variant"] == variant].reset_index(drop=True)
    base_groups, var_groups = _groups(base_runs), _groups(var_runs)
    fb, fv = _power_law(base_runs, floor), _power_law(var_runs, floor)
    lo_c, hi_c = float(runs["C"].min()), float(runs["C"].max())
    C = np.geomspace(lo_c, hi_c, points)
    rng = np.random.default_rng(seed)
    boot, ratios, failures = [], [], 0
    for _ in range(n_bootstrap):
        try:
            b = _power_law(_resample(base_runs, base_groups, rng), floor)
            v = _power_law(_resample(var_runs, var_groups, rng), floor)
        except (FitRefused, np.linalg.LinAlgError, ValueError):
            failures += 1  # a resample whose envelope is too short: no draw, counted
            continue
        if b[1] <= 0 or v[1] <= 0:
            failures += 1
            continue
        boot.append(_ceg(b, v, C))
        ratios.append(v[1] / b[1])
    tail = 100 * (1 - level) / 2
    if boot:
        low, high = np.percentile(np.array(boot), [tail, 100 - tail], axis=0)
        r_low, r_high = np.percentile(ratios, [tail, 100 - tail])
    else:
        low = high = np.full(points, np.nan)
        r_low = r_high = np.nan
    table = pd.DataFrame({"C": C, "ceg": _ceg(fb, fv, C), "low": low, "high": high})
    flagged = bool(np.isfinite(r_low) and (r_low > 1 or r_high < 1))
    return {"table": table, "gamma": {baseline: fb[1], variant: fv[1]}, "ratio": (fv[1] / fb[1], float(r_low), float(r_high)),
            "flagged": flagged, "failures": failures, "draws": len(boot), "level": level, "floor": floor}


def frontier_text(result: dict[str, Any], baseline: str, variant: str, reason: str) -> str:
    """The fallback's finding in words, with its assumption and what it cannot say."""
    row = result["table"].iloc[-1]
    ratio, r_low, r_high = result["ratio"]
    level = f"{100 * result['level']:.0f}%"
    floor = result["floor"]
    assumed = f"E = {floor:.4g}, the task's known entropy rate" if floor else "E = 0 over their range"
    text = (f"Approach 3 could not be fitted ({reason.rstrip('.')}), so the irreducible loss E is not estimated from these "
            f"runs. Assuming {assumed}, a power law L − E = K·C^−γ through each variant's loss-vs-compute "
            f"envelope gives γ = {result['gamma'][baseline]:.3f} for {baseline} and {result['gamma'][variant]:.3f} for "
            f"{variant}. At the largest budget run ({row['C']:.3g} FLOPs) {variant} is worth {row['ceg']:.3g}× compute "
            f"({level} interval [{row['low']:.3g}, {row['high']:.3g}], {result['draws']} bootstrap draws).")
    if result["flagged"]:
        text += (f" The gain changes with scale (γ ratio {ratio:.3g} [{r_low:.3g}, {r_high:.3g}]): quote it as a function"
                 " of compute.")
    if np.isfinite(row["low"]) and row["low"] > 1:
        text += (f" Within the range of the runs, {variant} beats scaling {baseline}; whether that holds at larger budgets"
                 " the data cannot decide" + ("." if floor else " without a measured E (run longer or larger so the loss curves flatten)."))
    elif np.isfinite(row["high"]) and row["high"] < 1:
        text += f" Within the range of the runs, {baseline} is better; beyond it the data cannot decide."
    else:
        text += " The data cannot decide: the interval contains 1."
    return text
