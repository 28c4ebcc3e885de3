"""The pooled approach-3 fit: a CPU-study-shaped grid where each variant's own fit refuses (E below its bound).

Runs are drawn from known laws on the CPU study's design (3 sizes × 4 token budgets per variant, N 25k–200k,
D 131k–1M) with no visible floor (E = 1e-6), so approach 3 per variant puts E on its bound and refuses, as it
does on the trained grid. The pooled fit must recover a known flat 2× gain, and the looser check must flag a
variant whose exponent differs (on a denser grid: the check needs the runs to see the curvature).
"""

import numpy as np
import pandas as pd
import pytest

from alignlab.scaling import FitRefused, ScalingLaw, compute_equivalent_gain, law_from_params, read_runs
from alignlab.scaling._analysis import analyse_runs
from alignlab.scaling._pooled import PooledLaw

BASE = {"E": 1e-6, "A": 4.5, "B": 50.0, "alpha": 0.20, "beta": 0.26}
GAMMA = BASE["alpha"] * BASE["beta"] / (BASE["alpha"] + BASE["beta"])
FLAT_2X = {**BASE, "A": BASE["A"] * 2 ** -GAMMA, "B": BASE["B"] * 2 ** -GAMMA}  # reducible loss × 2^-γ: CEG = 2
STEEPER = {**BASE, "beta": 0.34, "B": BASE["B"] * 3e5 ** (0.34 - 0.26) * 0.9}  # same loss near D = 3e5, steeper


def _grid(law, variant, seed, sizes=(24_736, 83_280, 197_184), tokens=(131_072, 262_144, 524_288, 1_048_576),
          noise=0.01):
    rng = np.random.default_rng(seed)
    n, d = (a.ravel() for a in np.meshgrid(np.asarray(sizes, float), np.asarray(tokens, float)))
    loss = law_from_params(**law).predict(n, d) * np.exp(noise * rng.standard_normal(n.size))
    return pd.DataFrame({"N": n, "D": d, "loss": loss, "variant": variant, "run": [f"{variant}{i}" for i in range(n.size)]})


@pytest.fixture(scope="module")
def flat_runs():
    return read_runs(pd.concat([_grid(BASE, "gpt", 1, noise=0.003), _grid(FLAT_2X, "wide", 2, noise=0.003)]))


def test_each_variant_alone_refuses_like_the_cpu_grid(flat_runs):
    with pytest.raises(FitRefused) as info:
        ScalingLaw(n_bootstrap=0).fit(flat_runs, variant="gpt")
    assert info.value.reason == "at_bound" and "log E" in str(info.value)


def test_pooled_fit_recovers_a_flat_2x_gain_with_an_honest_interval(flat_runs):
    truth = compute_equivalent_gain(law_from_params(**BASE), law_from_params(**FLAT_2X), [1e10, 1e12])["ceg"]
    assert np.allclose(truth, 2.0, rtol=1e-9)
    pooled = PooledLaw(n_bootstrap=80, seed=0).fit(flat_runs, ["gpt", "wide"])
    assert pooled.e_at_bound_  # no floor in sight, as on the trained grid: noted, not refused
    gain = compute_equivalent_gain(pooled.laws_["gpt"], pooled.laws_["wide"], [2e10, 1.2e12])
    assert np.allclose(gain["ceg"], gain["ceg"].iloc[0])  # one factor per variant: constant in C
    assert abs(gain["ceg"].iloc[0] / 2 - 1) < 0.10
    assert (gain["low"] < 2).all() and (gain["high"] > 2).all() and (gain["low"] > 1).all()
    again = PooledLaw(n_bootstrap=80, seed=0).fit(flat_runs, ["gpt", "wide"])  # deterministic
    assert np.array_equal(again.bootstrap_theta_, pooled.bootstrap_theta_)


def test_analysis_says_what_the_gain_rests_on(flat_runs):
    with pytest.raises(FitRefused):  # without pooled=True the per-variant refusal stands (the CLI's behaviour)
        analyse_runs(flat_runs, baseline="gpt", n_bootstrap=0)
    result = analyse_runs(flat_runs, baseline="gpt", n_bootstrap=60, pooled=True)
    assert result.basis == "pooled-scale"
    text = " ".join(result.pooled["text"])
    assert "per variant refused" in text and "one factor s_v per variant" in text and "lower bound" in text
    assert not result.pooled["scale_check"]["wide"]["flagged"]
    sens = result.pooled["sensitivity"]
    assert sens["held"].sum() == 3 and (sens["objective"].iloc[1:] > sens["objective"].iloc[0]).all()
    assert result.decisions["wide"].verdict == "switch"
    assert abs(result.decisions["wide"].ceg[0] / 2 - 1) < 0.10
    data = result.to_json()
    assert data["basis"] == "pooled-scale" and len(data["pooled"]["sensitivity"]) == 4


def test_a_different_exponent_is_flagged_and_the_gain_taken_from_the_looser_fit():
    sizes, tokens = np.geomspace(2e4, 2e5, 5), np.geomspace(1e5, 1.6e6, 6)
    runs = read_runs(pd.concat([_grid(BASE, "gpt", 3, sizes, tokens, 0.003),
                                _grid(STEEPER, "steep", 4, sizes, tokens, 0.003)]))
    result = analyse_runs(runs, baseline="gpt", n_bootstrap=60, pooled=True)
    check = result.pooled["scale_check"]["steep"]
    assert check["flagged"] and check["low"] > 1  # a steeper exponent: the gain grows with C
    assert result.basis == "pooled-e" and "rest on the per-variant-exponent fit" in " ".join(result.pooled["text"])
    budgets = np.geomspace(runs["C"].min(), runs["C"].max(), 4)
    truth = compute_equivalent_gain(law_from_params(**BASE), law_from_params(**STEEPER), budgets)["ceg"].to_numpy()
    fitted = compute_equivalent_gain(result.laws["gpt"], result.laws["steep"], budgets)
    assert truth[-1] / truth[0] > 1.5 and (np.diff(fitted["ceg"]) > 0).all()
    assert (fitted["low"] < truth).all() and (truth < fitted["high"]).all()  # the band holds the true CEG(C)
    assert abs(fitted["ceg"].iloc[0] / truth[0] - 1) < 0.10  # and the gain at the smallest budget within 10 %
    assert result.decisions["steep"].scale["flagged"]  # the decision's own words say so too


def test_pooled_refusals():
    few = read_runs(pd.concat([_grid(BASE, "gpt", 5), _grid(FLAT_2X, "wide", 6).iloc[:2]]))
    with pytest.raises(FitRefused) as info:
        PooledLaw(n_bootstrap=0).fit(few, ["gpt", "wide"])
    assert info.value.reason == "too_few_runs" and "'wide' has 2 run(s)" in str(info.value)
    fixed_ratio = pd.concat([_grid(BASE, v, s) for v, s in (("gpt", 7), ("wide", 8))])
    fixed_ratio["D"] = 20 * fixed_ratio["N"]  # tokens per parameter fixed: N and D cannot be told apart
    with pytest.raises(FitRefused) as info:
        PooledLaw(n_bootstrap=0).fit(read_runs(fixed_ratio), ["gpt", "wide"])
    assert info.value.reason == "degenerate_grid"
    with pytest.raises(FitRefused) as info:  # both refuse: the message keeps the per-variant reason too
        analyse_runs(read_runs(pd.concat([_grid(BASE, "gpt", 5), _grid(FLAT_2X, "wide", 6).iloc[:2]])),
                     baseline="gpt", n_bootstrap=0, pooled=True)
    assert "variant 'gpt'" in str(info.value) and "'wide' has 2 run(s)" in str(info.value)
