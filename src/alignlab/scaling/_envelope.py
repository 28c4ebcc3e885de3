"""Approach 1: the lower envelope of loss against compute, and power laws N*(C), D*(C) through it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alignlab.scaling._data import read_runs
from alignlab.scaling._errors import FitRefused

__all__ = ["Envelope", "envelope"]


@dataclass
class Envelope:
    """Frontier rows (each lower in loss than every row of smaller compute) and N* ∝ C^a, D* ∝ C^b."""

    frontier: pd.DataFrame
    a: float
    b: float

    def summary(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "frontier_points": len(self.frontier)}


def envelope(df: Any, *, min_points: int = 3) -> Envelope:
    """Approach 1 on a runs table (checkpoint rows give the training curves' envelope, as in Chinchilla).

    Raises:
        FitRefused: fewer than ``min_points`` frontier rows or a frontier over less than a factor 4 in compute.
    """
    runs = df if {"N", "D", "C", "loss"} <= set(getattr(df, "columns", [])) else read_runs(df)
    ordered = runs.sort_values(["C", "loss"]).reset_index(drop=True)
    best_before = np.minimum.accumulate(np.concatenate([[np.inf], ordered["loss"].to_numpy()[:-1]]))
    frontier = ordered[ordered["loss"].to_numpy() < best_before].reset_index(drop=True)
    if len(frontier) < min_points or frontier["C"].max() / frontier["C"].min() < 4:
        raise FitRefused("narrow_range", f"the loss-vs-compute envelope has {len(frontier)} point(s) over a factor"
                         f" {frontier['C'].max() / frontier['C'].min():.3g} in compute; approach 1 needs at least"
                         f" {min_points} over a factor 4.")
    log_c = np.log(frontier["C"])
    a = float(stats.linregress(log_c, np.log(frontier["N"])).slope)
    b = float(stats.linregress(log_c, np.log(frontier["D"])).slope)
    return Envelope(frontier=frontier[["C", "N", "D", "loss"]], a=a, b=b)
