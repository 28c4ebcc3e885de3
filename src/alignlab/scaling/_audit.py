"""Extrapolation audit: fit on the runs up to C_max / factor, predict the held-out largest budgets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alignlab.core._errors import AlignlabError
from alignlab.scaling._data import read_runs
from alignlab.scaling._law import ScalingLaw
from alignlab.scaling._solver import log_predict

__all__ = ["ExtrapolationAudit", "extrapolation_audit"]


@dataclass
class ExtrapolationAudit:
    """Per held-out row: observed and predicted loss, relative error, and whether the band covered it."""

    law: ScalingLaw
    cutoff: float
    held_out: pd.DataFrame

    def summary(self) -> dict[str, Any]:
        err = self.held_out["rel_error"]
        return {"cutoff_flops": self.cutoff, "fitted_rows": self.law.n_rows_, "held_out_rows": len(self.held_out),
                "mean_abs_rel_error": float(err.abs().mean()), "max_abs_rel_error": float(err.abs().max()),
                "mean_rel_error": float(err.mean()),
                "band_coverage": float(self.held_out["covered"].mean()) if "covered" in self.held_out else None}


def extrapolation_audit(df: Any, *, factor: float = 10.0, variant: str | None = None, level: float = 0.95,
                        **law_params: Any) -> ExtrapolationAudit:
    """Fit :class:`ScalingLaw` (``law_params``) on rows with C ≤ C_max/``factor``; predict the rows above.

    ``covered`` says whether the bootstrap band of the prediction (parameter uncertainty only, not run-to-run
    noise) contains the observed loss.
    """
    runs = df if {"N", "D", "C", "loss", "run", "variant"} <= set(getattr(df, "columns", [])) else read_runs(df)
    if variant is not None or runs["variant"].nunique() == 1:
        variant = variant or str(runs["variant"].iloc[0])
        if variant not in set(runs["variant"]):
            raise AlignlabError(f"Unknown variant '{variant}'; the runs table has {sorted(set(runs['variant']))}.")
        runs = runs[runs["variant"] == variant]
    else:
        raise AlignlabError("The runs table has several variants; audit one at a time (variant=...).")
    cutoff = float(runs["C"].max()) / factor
    train, test = runs[runs["C"] <= cutoff], runs[runs["C"] > cutoff].copy()
    if test.empty or train.empty:
        raise AlignlabError(f"No rows on one side of C_max/{factor:g} = {cutoff:.3g} FLOPs; nothing to audit.")
    law = ScalingLaw(**{"level": level, **law_params}).fit(train)
    test["predicted"] = law.predict(test["N"].to_numpy(), test["D"].to_numpy())
    test["rel_error"] = test["predicted"] / test["loss"] - 1
    if len(law.bootstrap_theta_):
        log_n, log_d = np.log(test["N"].to_numpy()), np.log(test["D"].to_numpy())
        boot = np.exp(np.array([log_predict(t, log_n, log_d) for t in law.bootstrap_theta_]))
        tail = 100 * (1 - level) / 2
        test["low"], test["high"] = np.percentile(boot, tail, axis=0), np.percentile(boot, 100 - tail, axis=0)
        test["covered"] = (test["low"] <= test["loss"]) & (test["loss"] <= test["high"])
    return ExtrapolationAudit(law=law, cutoff=cutoff, held_out=test.reset_index(drop=True))
