"""The decision: compute-equivalent gain CEG(C) of a variant over a baseline, with bootstrap bands.

CEG(C) = C_base(L*_variant(C)) / C: how many times the compute C the baseline would need to reach the loss the
variant reaches at its compute-optimal allocation of C. It is a function of C; it is constant only when the two
laws share E and the exponent γ = αβ/(α+β) of L*(C) − E. Bands pair the i-th bootstrap refit of each law (the
two are resampled independently, so pairing by index is a valid joint draw).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alignlab.core._errors import AlignlabError
from alignlab.scaling._law import ScalingLaw, compute_for_loss, optimal_loss

__all__ = ["Decision", "compute_equivalent_gain", "decide", "scale_dependence"]


def _ceg(theta_base, theta_variant, C) -> np.ndarray:
    return compute_for_loss(theta_base, optimal_loss(theta_variant, C)) / C


def _pairs(base: ScalingLaw, variant: ScalingLaw) -> tuple[np.ndarray, np.ndarray]:
    n = min(len(base.bootstrap_theta_), len(variant.bootstrap_theta_))
    return base.bootstrap_theta_[:n], variant.bootstrap_theta_[:n]


def _band(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    if len(values) == 0:
        nan = np.full(values.shape[1:], np.nan)
        return nan, nan
    tail = 100 * (1 - level) / 2
    return np.percentile(values, tail, axis=0), np.percentile(values, 100 - tail, axis=0)


def compute_equivalent_gain(base: ScalingLaw, variant: ScalingLaw, C: Any, level: float = 0.95) -> pd.DataFrame:
    """CEG(C) with a bootstrap band, and both laws' optimal losses, one row per budget in ``C``.

    ``ceg`` is inf where the variant's loss is below the baseline's irreducible loss E (no baseline budget
    reaches it).
    """
    for law in (base, variant):
        law._check_fitted()
    C = np.atleast_1d(np.asarray(C, float))
    tb, tv = _pairs(base, variant)
    boot = np.array([_ceg(b, v, C) for b, v in zip(tb, tv)]).reshape(len(tb), len(C))
    low, high = _band(boot, level)
    return pd.DataFrame({"C": C, "ceg": _ceg(base.theta_, variant.theta_, C), "low": low, "high": high,
                         "loss_base": optimal_loss(base.theta_, C), "loss_variant": optimal_loss(variant.theta_, C)})


def scale_dependence(base: ScalingLaw, variant: ScalingLaw, c_low: float, c_high: float,
                     level: float = 0.95) -> dict[str, Any]:
    """Does the gain change with scale? CEG(c_high)/CEG(c_low) with its bootstrap interval; flagged when the
    interval excludes 1 (a different exponent or E, not a constant compute multiplier)."""
    C = np.array([c_low, c_high])
    ratio = float(np.divide(*_ceg(base.theta_, variant.theta_, C)[::-1]))
    tb, tv = _pairs(base, variant)
    boot = np.array([np.divide(*_ceg(b, v, C)[::-1]) for b, v in zip(tb, tv)])
    boot = boot[np.isfinite(boot)]
    low, high = _band(boot, level) if len(boot) else (np.nan, np.nan)
    flagged = bool(np.isfinite(low) and (low > 1 or high < 1))
    return {"c_low": c_low, "c_high": c_high, "ratio": ratio, "low": float(low), "high": float(high), "flagged": flagged}


@dataclass
class Decision:
    """'Scale the baseline' vs 'switch to the variant' at a target budget, in numbers and in words."""

    budget: float
    loss_base: tuple[float, float, float]  # estimate, low, high
    loss_variant: tuple[float, float, float]
    difference: tuple[float, float, float]  # variant − base: negative favours the variant
    ceg: tuple[float, float, float]
    scale: dict[str, Any]
    extrapolation: float  # budget / largest budget fitted
    verdict: str  # "switch", "keep" or "cannot decide"
    text: str


def decide(base: ScalingLaw, variant: ScalingLaw, budget: float, *, level: float = 0.95,
           names: tuple[str, str] = ("baseline", "variant")) -> Decision:
    """Compare the two laws' compute-optimal losses at ``budget`` and say whether the data can decide."""
    if not budget > 0:
        raise AlignlabError(f"The target budget must be a positive number of FLOPs, got {budget}.")
    tb, tv = _pairs(base, variant)
    lb, lv = optimal_loss(base.theta_, budget), optimal_loss(variant.theta_, budget)
    boot_b = np.array([optimal_loss(t, budget) for t in tb])
    boot_v = np.array([optimal_loss(t, budget) for t in tv])
    row = compute_equivalent_gain(base, variant, [budget], level).iloc[0]
    ranges = np.array([base.compute_range_, variant.compute_range_], float)
    fitted_hi = float(np.nanmax(ranges[:, 1])) if np.isfinite(ranges[:, 1]).any() else float(budget)
    lo_c = float(np.nanmin(ranges[:, 0])) if np.isfinite(ranges[:, 0]).any() else float(budget) / 100
    hi_c = max(fitted_hi, float(budget))
    scale = scale_dependence(base, variant, lo_c, hi_c, level)
    trio = lambda est, boot: (float(np.ravel(est)[0]),  # noqa: E731
                              *(float(np.ravel(x)[0]) for x in _band(boot.reshape(-1, 1), level)))
    diff = trio(lv - lb, boot_v - boot_b)
    extrapolation = budget / fitted_hi
    base_name, var_name = names
    if np.isnan(diff[1]):
        verdict, why = "cannot decide", "no bootstrap intervals were computed (n_bootstrap=0)"
    elif diff[2] < 0:
        verdict, why = "switch", f"{var_name} reaches a lower loss"
    elif diff[1] > 0:
        verdict, why = "keep", f"{var_name} reaches a higher loss"
    else:
        verdict, why = "cannot decide", "the interval of the loss difference contains 0"
    has_band = not np.isnan(diff[1])
    band = f", {100 * level:.0f}% interval [{diff[1]:+.4f}, {diff[2]:+.4f}]" if has_band else ""
    lines = [f"At {budget:.3g} FLOPs, {base_name} is expected to reach loss {float(lb):.4f} and {var_name}"
             f" {float(lv):.4f} (difference {diff[0]:+.4f}{band})."]
    if np.isfinite(row["ceg"]):
        ceg_band = f" [{row['low']:.3g}, {row['high']:.3g}]" if has_band else ""
        lines.append(f"{var_name} is worth {row['ceg']:.3g}× compute{ceg_band}:"
                     f" {base_name} would need {row['ceg'] * budget:.3g} FLOPs to match it.")
    else:
        lines.append(f"{var_name} goes below {base_name}'s irreducible loss E: no baseline budget matches it.")
    if scale["flagged"]:
        trend = "grows" if scale["ratio"] > 1 else "shrinks"
        lines.append(f"The gain {trend} with scale (×{scale['ratio']:.3g} [{scale['low']:.3g}, {scale['high']:.3g}]"
                     f" from {scale['c_low']:.3g} to {scale['c_high']:.3g} FLOPs): quote it as a function of compute,"
                     " not as one number.")
    if extrapolation > 1:
        lines.append(f"This extrapolates {extrapolation:.3g}× beyond the largest budget fitted; check the"
                     " extrapolation audit before trusting it.")
    advice = {"switch": f"Recommendation: switch to {var_name} ({why}).",
              "keep": f"Recommendation: keep {base_name} and scale it ({why}).",
              "cannot decide": f"The data cannot decide: {why}." + (" Run more or larger runs of both." if has_band
                                                                   else " Fit with n_bootstrap > 0.")}
    lines.append(advice[verdict])
    return Decision(budget=float(budget), loss_base=trio(lb, boot_b), loss_variant=trio(lv, boot_v), difference=diff,
                    ceg=(float(row["ceg"]), float(row["low"]), float(row["high"])), scale=scale,
                    extrapolation=float(extrapolation), verdict=verdict, text=" ".join(lines))
