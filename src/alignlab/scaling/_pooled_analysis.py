"""The analysis when a variant's own approach-3 fit refuses: a pooled fit, a scale check, an E-sensitivity check.

Order of fits, each used only when the one before it cannot stand:

1. approach 3 per variant (:func:`~alignlab.scaling.analyse_runs`), five parameters each;
2. the pooled law with one gain factor per variant (``PooledLaw("scale")``): E, A, B, α, β shared, so the
   CEG is constant in C. Checked two ways, both reported:
   - *scale dependence*: the looser pooled law with per-variant exponents (``PooledLaw("e")``, only E
     shared); if its CEG(C_max)/CEG(C_min) interval excludes 1, the constant gain would hide a different
     exponent, and the laws, gains and decision come from the looser law instead;
   - *E sensitivity*: with E on its lower bound (no floor in sight), the gain is refitted with E held at
     25 %, 50 % and 75 % of the smallest loss; the table shows how much the fit worsens and the gain moves.
3. the envelope power laws of :mod:`alignlab.scaling._frontier_gain` (the study report's last resort).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from alignlab.scaling._analysis import Analysis, finish_analysis
from alignlab.scaling._errors import FitRefused
from alignlab.scaling._gain import compute_equivalent_gain, scale_dependence
from alignlab.scaling._pooled import PooledLaw

__all__ = ["analyse_pooled"]

E_FRACTIONS = (0.25, 0.5, 0.75)


def analyse_pooled(runs: pd.DataFrame, *, baseline: str, target_flops: float | None = None, refusal: str = "",
                   **law_params: Any) -> Analysis:
    """Pooled approach 3 over all variants of ``runs`` (baseline first), its checks, and the usual analysis.

    Raises:
        FitRefused: the pooled law refuses too (the message gives both reasons).
    """
    variants = [baseline] + [v for v in dict.fromkeys(runs["variant"]) if v != baseline]
    seed = law_params.pop("seed", 0)
    try:
        tight = PooledLaw("scale", seed=seed, **law_params).fit(runs, variants)
    except FitRefused as exc:
        raise FitRefused(exc.reason, f"{refusal.rstrip('.')}; and {exc.detail}") from exc
    lo, hi = float(runs["C"].min()), float(runs["C"].max())
    checks: dict[str, Any] = {}
    try:
        loose = PooledLaw("e", start=tight, seed=seed + 1, **law_params).fit(runs, variants)
        for name in variants[1:]:
            checks[name] = scale_dependence(loose.laws_[baseline], loose.laws_[name], lo, hi, tight.config_.level)
    except FitRefused as exc:
        loose = None
        checks = {name: f"not checked: the per-variant-exponent fit refused ({exc})" for name in variants[1:]}
    flagged = [n for n, c in checks.items() if isinstance(c, dict) and c["flagged"]]
    chosen = loose if flagged else tight
    info = {"refusal": refusal, "e_at_bound": tight.e_at_bound_, "scale_check": checks,
            "sensitivity": _sensitivity(runs, variants, tight, law_params) if tight.e_at_bound_ else pd.DataFrame(),
            "draws": len(chosen.bootstrap_theta_), "failures": chosen.bootstrap_failures_}
    info["text"] = _text(info, variants, flagged, tight, lo, hi)
    return finish_analysis(runs, baseline, chosen.laws_, target_flops, basis="pooled-e" if flagged else "pooled-scale",
                           pooled=info)


def _sensitivity(runs, variants, tight: PooledLaw, law_params) -> pd.DataFrame:
    """The gain at the largest budget with E held at fractions of the smallest loss (point estimates)."""
    c_max, floor = float(runs["C"].max()), float(runs["loss"].min())
    params = {k: v for k, v in law_params.items() if k != "n_bootstrap"}
    rows = [{"E": tight.laws_[variants[0]].params_["E"], "held": False, "objective": tight.objective_}
            | _gains(tight, variants, c_max)]
    for fraction in E_FRACTIONS:
        try:
            fit = PooledLaw("scale", fixed_e=fraction * floor, n_bootstrap=0, **params).fit(runs, variants)
        except FitRefused:
            continue
        rows.append({"E": fraction * floor, "held": True, "objective": fit.objective_} | _gains(fit, variants, c_max))
    return pd.DataFrame(rows)


def _gains(fit: PooledLaw, variants, c: float) -> dict[str, float]:
    base = fit.laws_[variants[0]]
    return {f"CEG {name}": float(compute_equivalent_gain(base, fit.laws_[name], [c])["ceg"].iloc[0])
            for name in variants[1:]}


def _text(info, variants, flagged, tight: PooledLaw, lo: float, hi: float) -> list[str]:
    lines = [f"Approach 3 per variant refused ({info['refusal'].rstrip('.')}), so every variant's runs were fitted"
             " together: L_v = E + s_v·(A/N^α + B/D^β), with E, A, B, α, β shared and one factor s_v per variant —"
             " the variant acts as a multiplier on effective compute, so its CEG is the same at every budget."]
    for name in variants[1:]:
        check = info["scale_check"][name]
        if isinstance(check, str):
            lines.append(f"{name}: scale dependence {check}.")
            continue
        verdict = "changes with scale" if check["flagged"] else "shows no change with scale it can detect"
        lines.append(f"Check: with per-variant exponents (only E shared) the gain of {name} {verdict}: CEG({hi:.3g}) /"
                     f" CEG({lo:.3g}) = {check['ratio']:.3g} [{check['low']:.3g}, {check['high']:.3g}]"
                     + (" — so wide that these runs cannot test it." if check["high"] / check["low"] > 10 else "."))
    if flagged:
        lines.append(f"So the gains below rest on the per-variant-exponent fit (a constant gain would hide that): "
                     f"{', '.join(flagged)}.")
    else:
        lines.append("So the gains below rest on the pooled fit with one factor per variant.")
    if info["e_at_bound"]:
        sens = info["sensitivity"]
        held = sens[sens["held"]]
        spread = ", ".join(f"E = {r['E']:.3g}: " + ", ".join(f"{r[f'CEG {n}']:.3g}×" for n in variants[1:])
                           + f" (objective {r['objective']:.3g})" for _, r in held.iterrows())
        lines.append(f"E sits on its lower bound: these runs show no floor, so E is not estimated and the"
                     f" law must not be extrapolated far. Inside the runs' range the gain rests on the loss gap and the"
                     f" frontier's slope; held at larger E the fit gives {spread or 'no fit'}, against"
                     f" {tight.objective_:.3g} with E free.")
    lines.append(f"Intervals: {info['draws']} bootstrap refits, runs resampled within each variant"
                 f" ({info['failures']} failed).")
    return lines
