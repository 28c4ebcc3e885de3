"""One call for the CLI and the report: every approach on every variant, gains against the baseline, JSON.

Refusals of approaches 1 and 2 are kept as reasons next to the other results (approach 3 may still stand);
a refusal of approach 3 for the baseline ends the analysis with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alignlab.core._errors import AlignlabError
from alignlab.scaling._envelope import envelope
from alignlab.scaling._errors import FitRefused
from alignlab.scaling._gain import compute_equivalent_gain, decide
from alignlab.scaling._isoflop import isoflop_fit
from alignlab.scaling._law import NAMES, ScalingLaw

__all__ = ["Analysis", "analyse_runs", "finish_analysis", "law_summary"]


def _interval(estimate: float, boot: np.ndarray | None, law: ScalingLaw) -> dict[str, Any]:
    out: dict[str, Any] = {"estimate": float(estimate)}
    if boot is not None and len(boot):
        tail = 100 * (1 - law.config_.level) / 2
        out.update(low=float(np.percentile(boot, tail)), high=float(np.percentile(boot, 100 - tail)),
                   se=float(np.std(boot, ddof=1)), level=law.config_.level)
    return out


def law_summary(law: ScalingLaw, budgets: list[float] | None = None) -> dict[str, Any]:
    """E, A, B, alpha, beta (estimate, interval, se), a, b (N* ∝ C^a, D* ∝ C^b) and the summed objective."""
    boot = law.bootstrap_params() if len(law.bootstrap_theta_) else None
    out = {name: _interval(law.params_[name], None if boot is None else boot[name].to_numpy(), law) for name in NAMES}
    al, be = law.params_["alpha"], law.params_["beta"]
    ba = None if boot is None else (boot["beta"] / (boot["alpha"] + boot["beta"])).to_numpy()
    out["a"] = _interval(be / (al + be), ba, law)
    out["b"] = _interval(al / (al + be), None if ba is None else 1 - ba, law)
    out["objective"] = law.objective_
    out.update(huber_delta=law.config_.huber_delta, rows=law.n_rows_, runs=law.n_runs_,
               compute_range=list(law.compute_range_), bootstrap_refits=len(law.bootstrap_theta_),
               bootstrap_failures=law.bootstrap_failures_, flops_convention="C = 6 N D")
    if budgets:
        out["compute_optimal"] = law.compute_optimal(budgets).to_dict(orient="records")
    return out


@dataclass
class Analysis:
    runs: pd.DataFrame
    baseline: str
    laws: dict[str, ScalingLaw]
    isoflop: dict[str, Any] = field(default_factory=dict)  # IsoflopFit or refusal text
    envelopes: dict[str, Any] = field(default_factory=dict)  # Envelope or refusal text
    gains: dict[str, pd.DataFrame] = field(default_factory=dict)
    decisions: dict[str, Any] = field(default_factory=dict)
    budgets: list[float] = field(default_factory=list)
    basis: str = "per-variant"  # which fit the laws and gains come from: per-variant, pooled-scale or pooled-e
    pooled: dict[str, Any] = field(default_factory=dict)  # the pooled fit's why, checks and sensitivity (if used)

    def to_json(self) -> dict[str, Any]:
        base = law_summary(self.laws[self.baseline], self.budgets)
        out = {**base, "variant": self.baseline}

        def approach(obj):
            return {"refused": obj} if isinstance(obj, str) else obj.summary()

        out["approach1"], out["approach2"] = approach(self.envelopes[self.baseline]), approach(self.isoflop[self.baseline])
        if len(self.laws) > 1:
            out["variants"] = {name: {**law_summary(law, self.budgets), "approach1": approach(self.envelopes[name]),
                                      "approach2": approach(self.isoflop[name])}
                               for name, law in self.laws.items()}
            out["gains"] = {name: {"ceg": frame.to_dict(orient="records"), "decision": _decision_json(self.decisions[name])}
                            for name, frame in self.gains.items()}
        out["basis"] = self.basis
        if self.pooled:
            out["pooled"] = {k: (v.to_dict(orient="records") if isinstance(v, pd.DataFrame) else v)
                             for k, v in self.pooled.items()}
        return _finite(out)


def _decision_json(decision) -> dict[str, Any]:
    return {"budget": decision.budget, "verdict": decision.verdict, "text": decision.text,
            "loss_base": list(decision.loss_base), "loss_variant": list(decision.loss_variant),
            "difference": list(decision.difference), "ceg": list(decision.ceg), "scale_dependence": decision.scale,
            "extrapolation": decision.extrapolation}


def _finite(value):
    """JSON has no inf/NaN: they become null (an infinite gain means 'the baseline never gets there')."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def analyse_runs(runs: pd.DataFrame, *, baseline: str | None = None, target_flops: float | None = None,
                 pooled: bool = False, **law_params: Any) -> Analysis:
    """Fit approaches 1–3 per variant; CEG(C) and a decision for every variant against ``baseline``.

    ``baseline`` None means the variant named "baseline" if there is one, else the first in the table.
    ``target_flops`` None means 10× the largest budget in the table. ``pooled``: when a variant's own
    approach-3 fit refuses and there are several variants, fit them jointly instead
    (:func:`alignlab.scaling._pooled_analysis.analyse_pooled`; ``basis`` says which fit the gains rest on).
    """
    variants = list(dict.fromkeys(runs["variant"]))
    if baseline is None:
        baseline = "baseline" if "baseline" in variants else variants[0]
    if baseline not in variants:
        raise AlignlabError(f"Unknown baseline variant '{baseline}'; the runs table has {variants}.")
    laws: dict[str, ScalingLaw] = {}
    for i, name in enumerate([baseline] + [v for v in variants if v != baseline]):
        params = {"seed": i, **law_params} if "seed" not in law_params else {**law_params, "seed": law_params["seed"] + i}
        try:
            laws[name] = ScalingLaw(**params).fit(runs, variant=name)
        except FitRefused as exc:
            if pooled and len(variants) > 1:
                from alignlab.scaling._pooled_analysis import analyse_pooled

                return analyse_pooled(runs, baseline=baseline, target_flops=target_flops,
                                      refusal=f"variant '{name}': {exc.detail}", **law_params)
            raise FitRefused(exc.reason, f"variant '{name}': {exc.detail}") from exc
    return finish_analysis(runs, baseline, laws, target_flops)


def finish_analysis(runs: pd.DataFrame, baseline: str, laws: dict[str, ScalingLaw], target_flops: float | None,
                    **fields: Any) -> Analysis:
    """Approaches 1 and 2 per variant and the gains and decisions of fitted ``laws`` (baseline first)."""
    c_max = float(runs["C"].max())
    target = float(target_flops or 10 * c_max)
    lo = float(runs["C"].min())
    result = Analysis(runs=runs, baseline=baseline, laws=laws, budgets=sorted({lo, c_max, target}), **fields)
    for name, law in laws.items():
        sub = runs[runs["variant"] == name]
        try:
            result.isoflop[name] = isoflop_fit(sub, law=law)
        except FitRefused as exc:
            result.isoflop[name] = str(exc)
        try:
            result.envelopes[name] = envelope(sub)
        except FitRefused as exc:
            result.envelopes[name] = str(exc)
    grid = np.geomspace(lo, max(target, c_max), 25)
    for name, law in laws.items():
        if name == baseline:
            continue
        result.gains[name] = compute_equivalent_gain(laws[baseline], law, grid)
        result.decisions[name] = decide(laws[baseline], law, target, names=(baseline, name))
    return result
