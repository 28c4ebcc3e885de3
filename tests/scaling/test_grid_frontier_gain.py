"""The fallback gain of the study report (approach 3 refused): envelope power laws recover a known CEG."""

import numpy as np
import pandas as pd

from alignlab.scaling import read_runs
from alignlab.scaling._frontier_gain import frontier_gain, frontier_text


def _runs(variant: str, gain: float, gamma: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n, d = np.meshgrid(np.geomspace(2e4, 2e5, 3), np.geomspace(1e5, 1e6, 4))
    c = 6 * n.ravel() * d.ravel()
    loss = 20 * (gain * c) ** -gamma * np.exp(rng.normal(0, 0.003, c.size))  # L = K (g C)^-γ: CEG = g everywhere
    return pd.DataFrame({"N": n.ravel(), "D": d.ravel(), "loss": loss, "variant": variant,
                         "run": [f"{variant}{i}" for i in range(c.size)]})


def test_a_flat_gain_is_recovered_and_not_flagged_a_steeper_one_is_flagged():
    runs = read_runs(pd.concat([_runs("base", 1, 0.1, 0), _runs("flat", 3, 0.1, 1), _runs("steep", 1, 0.13, 2)]))
    flat = frontier_gain(runs, "base", "flat", n_bootstrap=100)
    assert np.allclose(flat["table"]["ceg"], 3, rtol=0.1) and not flat["flagged"]
    band = flat["table"]
    assert (band["low"] <= band["ceg"]).all() and (band["ceg"] <= band["high"]).all()
    assert (band["low"] < 3 * 1.02).all() and (band["high"] > 3 / 1.02).all() and (band["high"] / band["low"] < 1.5).all()
    steep = frontier_gain(runs, "base", "steep", n_bootstrap=100)
    assert steep["flagged"] and steep["ratio"][0] > 1.15
    text = frontier_text(flat, "base", "flat", "Refused (at_bound): log E on its bound.")
    assert "E = 0 over their range" in text and "beats scaling base" in text and "cannot decide without a measured E" in text
