"""Known laws with noise: parameters recovered, CEG recovered within ±10 %, scale dependence flagged."""

import math

import numpy as np
import pandas as pd
import pytest

TRUE = {"E": 1.817, "A": 482.0, "B": 2085.0, "alpha": 0.3478, "beta": 0.3658}
K = math.sqrt(2)  # N and D each worth √2 more: compute worth exactly 2× at every scale
FLAT_2X = {**TRUE, "A": TRUE["A"] * K ** -TRUE["alpha"], "B": TRUE["B"] * K ** -TRUE["beta"]}
STEEPER = {**TRUE, "beta": 0.40, "B": TRUE["B"] * 1e9 ** (0.40 - TRUE["beta"])}  # different exponent


@pytest.fixture(scope="module")
def laws():
    from alignlab.scaling import ScalingLaw, synthetic_runs

    fit = lambda p, seed: ScalingLaw(n_bootstrap=120, seed=seed).fit(  # noqa: E731
        synthetic_runs(p, noise=0.005, seed=seed, variant=str(seed)))
    return {"base": fit(TRUE, 1), "flat": fit(FLAT_2X, 2), "steeper": fit(STEEPER, 3)}


def test_parameters_recovered(laws):
    law = laws["base"]
    assert abs(law.params_["E"] / TRUE["E"] - 1) < 0.03
    for name in ("alpha", "beta"):
        assert abs(law.params_[name] / TRUE[name] - 1) < 0.05, name
    for name, (low, high) in law.intervals_.items():
        assert low <= TRUE[name] <= high, name


def test_flat_gain_recovered_and_not_flagged(laws):
    from alignlab.scaling import compute_equivalent_gain, scale_dependence

    gain = compute_equivalent_gain(laws["base"], laws["flat"], [1e18, 1e19, 1e20])
    assert np.all(np.abs(gain["ceg"] / 2 - 1) <= 0.10), gain
    assert np.all((gain["low"] <= 2) & (2 <= gain["high"]))
    assert not scale_dependence(laws["base"], laws["flat"], 1e18, 3e20)["flagged"]


def test_different_exponent_recovered_and_flagged(laws):
    from alignlab.scaling import compute_equivalent_gain, law_from_params, scale_dependence

    budgets = [1e18, 1e19, 1e20, 3e20]
    truth = compute_equivalent_gain(law_from_params(**TRUE), law_from_params(**STEEPER), budgets)["ceg"]
    gain = compute_equivalent_gain(laws["base"], laws["steeper"], budgets)
    assert np.all(np.abs(gain["ceg"] / truth - 1) <= 0.10), (gain["ceg"].tolist(), truth.tolist())
    scale = scale_dependence(laws["base"], laws["steeper"], 1e18, 3e20)
    assert scale["flagged"] and scale["low"] > 1


def test_decision_words(laws):
    from alignlab.scaling import decide

    steeper = decide(laws["base"], laws["steeper"], 1e21, names=("base", "new"))
    assert steeper.verdict == "switch" and "grows with scale" in steeper.text and "extrapolates" in steeper.text
    same = decide(laws["base"], laws["base"], 1e20)
    assert same.verdict == "cannot decide" and "cannot decide" in same.text


def test_isoflop_bias_is_measured_on_an_off_centre_grid():
    from alignlab.scaling import isoflop_fit, law_from_params, synthetic_runs

    truth = law_from_params(**TRUE)
    centred = synthetic_runs(noise=0.0)
    shifted = centred.assign(N=centred["N"] * 3, D=centred["D"] / 3)  # every grid centred 3× above N*
    shifted["loss"] = truth.predict(shifted["N"], shifted["D"])
    fit_c, fit_s = isoflop_fit(centred, law=truth), isoflop_fit(shifted, law=truth)
    true_a = TRUE["beta"] / (TRUE["alpha"] + TRUE["beta"])
    assert fit_c.a == pytest.approx(true_a, abs=0.005)
    assert fit_s.bias["N_opt_ratio_at_max_budget"] > fit_c.bias["N_opt_ratio_at_max_budget"]
    assert fit_s.bias["compute_wasted_at_max_budget"] > 10 * fit_c.bias["compute_wasted_at_max_budget"] > 0


def test_envelope_exponents():
    from alignlab.scaling import envelope, synthetic_runs

    env = envelope(synthetic_runs(noise=0.002, seed=4))
    assert env.a + env.b == pytest.approx(1.0)  # N·D = C/6 along the frontier
    assert 0.35 < env.a < 0.65


def test_extrapolation_audit():
    from alignlab.scaling import extrapolation_audit, synthetic_runs

    runs = synthetic_runs(noise=0.005, seed=6, budgets=(1e17, 3e17, 1e18, 3e18, 1e19, 3e19, 1e20))
    audit = extrapolation_audit(runs, n_bootstrap=100)
    summary = audit.summary()
    assert summary["cutoff_flops"] == pytest.approx(1e19) and summary["held_out_rows"] == 14
    assert summary["mean_abs_rel_error"] < 0.01
    assert audit.law.compute_range_[1] <= 1e19


def test_compute_optimal_closed_form(laws):
    from alignlab.scaling import law_from_params

    law = law_from_params(**TRUE)
    opt = law.compute_optimal([1e21]).iloc[0]
    n = np.geomspace(opt["N_opt"] / 3, opt["N_opt"] * 3, 2001)
    losses = law.predict(n, 1e21 / (6 * n))
    assert n[np.argmin(losses)] == pytest.approx(opt["N_opt"], rel=2e-3)
    assert opt["loss"] == pytest.approx(losses.min(), rel=1e-9)
    assert isinstance(law.compute_optimal(1e21), pd.DataFrame)
