"""Synthetic runs from a known law: isoFLOP grids with multiplicative noise, for tests, bias checks and demos."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alignlab.scaling._data import FLOPS_PER_PARAM_TOKEN

__all__ = ["CHINCHILLA_EPOCH", "synthetic_runs"]

# Epoch AI's approach-3 estimates on Chinchilla's data (Besiroglu et al. 2024): a realistic default truth.
CHINCHILLA_EPOCH = {"E": 1.817, "A": 482.0, "B": 2085.0, "alpha": 0.3478, "beta": 0.3658}


def synthetic_runs(
    law=None,
    *,
    budgets: Sequence[float] = (1e18, 3e18, 1e19, 3e19, 1e20, 3e20),
    sizes_per_budget: int = 7,
    size_span: float = 16.0,
    noise: float = 0.01,
    seed: int = 0,
    variant: str = "default",
) -> pd.DataFrame:
    """An isoFLOP grid of runs whose losses follow ``law`` times exp(noise · ε), ε ~ N(0, 1).

    Args:
        law: a fitted :class:`ScalingLaw` or a dict with E, A, B, alpha, beta (default: Epoch's Chinchilla fit).
        budgets: training FLOPs of each isoFLOP profile (C = 6 N D).
        sizes_per_budget: model sizes per profile, log-spaced over ``size_span`` (max/min) around the
            true compute-optimal size.
        noise: standard deviation of the log-loss noise.
    """
    from alignlab.scaling._law import ScalingLaw, law_from_params

    if not isinstance(law, ScalingLaw):
        law = law_from_params(**(law or CHINCHILLA_EPOCH))
    rng = np.random.default_rng(seed)
    rows = []
    for c in budgets:
        centre = float(law.compute_optimal(c)["N_opt"].iloc[0])
        for n in centre * np.geomspace(size_span**-0.5, size_span**0.5, sizes_per_budget):
            d = c / (FLOPS_PER_PARAM_TOKEN * n)
            loss = float(law.predict(n, d)) * float(np.exp(noise * rng.standard_normal()))
            rows.append({"N": n, "D": d, "C": c, "loss": loss})
    frame = pd.DataFrame(rows)
    frame["variant"], frame["seed"], frame["run"] = variant, 0, [f"{variant}-{i}" for i in range(len(frame))]
    return frame
