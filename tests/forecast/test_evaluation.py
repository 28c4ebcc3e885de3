import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alignlab.forecast import (
    StatsForecastModel,
    backtest,
    crps_quantiles,
    crps_samples,
    diebold_mariano,
    evaluate,
    excess_movement,
    interval_coverage,
    pit_values,
    reward_summary,
    skill_interval,
    synthetic_random_walk,
    variance_bounds,
)


def test_crps_samples_matches_closed_form_normal():
    rng = np.random.default_rng(0)
    samples = rng.standard_normal((1, 20000))
    y = 0.7
    exact = y * (2 * stats.norm.cdf(y) - 1) + 2 * stats.norm.pdf(y) - 1 / np.sqrt(np.pi)
    assert crps_samples(samples, y)[0] == pytest.approx(exact, abs=0.01)
    taus = (np.arange(1, 100) - 0.5) / 99
    assert crps_quantiles(np.array([y]), stats.norm.ppf(taus)[None, :], taus)[0] == pytest.approx(exact, abs=0.01)


def test_coverage_and_pit():
    y = np.linspace(0, 1, 101)
    assert interval_coverage(y, np.full(101, 0.1), np.full(101, 0.9)) == pytest.approx(0.81, abs=0.01)
    taus = np.array([0.1, 0.5, 0.9])
    pit = pit_values(np.array([0.5, 2.0]), np.array([[0.0, 0.5, 1.0], [0.0, 0.5, 1.0]]), taus)
    assert pit[0] == pytest.approx(0.5) and pit[1] > 0.9


def test_dm_detects_a_real_difference_and_not_a_fake_one():
    rng = np.random.default_rng(0)
    base = rng.exponential(1.0, 300)
    assert diebold_mariano(base * 0.7, base + rng.normal(0, 0.05, 300), h=4, step=1)["p"] < 0.01
    noise = rng.exponential(1.0, 300)
    assert diebold_mariano(base, noise, h=4)["p"] > 0.01
    sk = skill_interval(base * 0.7, base, h=4)
    assert sk["lo"] <= sk["skill"] <= sk["hi"] and sk["skill"] == pytest.approx(0.3)


def test_dm_overlap_correction_widens_the_test():
    # MA(25) loss differential (overlapping 26-step windows) with a small mean: ignoring overlap
    # (h=1) gives a much smaller p-value than the corrected test.
    rng = np.random.default_rng(1)
    e = rng.standard_normal(526)
    d = np.convolve(e, np.ones(26), "valid")[:500] / 26 + 0.08
    naive = diebold_mariano(d, np.zeros_like(d), h=1)["p"]
    corrected = diebold_mariano(d, np.zeros_like(d), h=26)["p"]
    assert corrected > 5 * naive


@pytest.fixture(scope="module")
def baseline_result():
    df = synthetic_random_walk(n_series=2, n_steps=260, seed=4)
    return backtest(df, [StatsForecastModel("Naive"), StatsForecastModel("RandomWalkWithDrift")], h=8,
                    n_windows=40, step_size=2)


def test_backtest_chains_and_cv_frame_shapes(baseline_result):
    r = baseline_result
    assert list(r.cv.columns[:4]) == ["unique_id", "ds", "cutoff", "y"]
    assert len(r.cv) == 2 * 40 * 8
    assert len(r.chains) == 2 * 40 * 8
    # Naive's chain: the forecast at each step is the value at that step
    c = r.chains[(r.chains["unique_id"] == "rw0")].iloc[:8]
    assert c["Naive"].iloc[0] == pytest.approx(c["y_origin"].iloc[0])
    scores = evaluate(r)
    assert {"mae", "crps", "coverage", "skill_Naive", "p_Naive"} <= set(scores.columns)


def test_outcome_free_checks_on_baselines(baseline_result):
    vb = variance_bounds(baseline_result.chains, "Naive")
    assert len(vb) == 8 and vb["variance"].iloc[-1] > vb["variance"].iloc[0]
    em = excess_movement(baseline_result.chains, "RWD")
    assert np.isfinite(em["ratio"]) and em["ratio"] > 0
    rewards = reward_summary(baseline_result.chains, ["Naive", "RWD"])
    assert (rewards["total"] <= 0).all()
    assert np.allclose(rewards["total"], rewards["intermediate"] + rewards["final"])


def test_backtest_rejects_too_many_windows():
    from alignlab.core import AlignlabError

    df = synthetic_random_walk(n_series=1, n_steps=50, seed=0)
    with pytest.raises(AlignlabError, match="origins"):
        backtest(df, [StatsForecastModel("Naive")], h=26, n_windows=30)
    assert isinstance(df, pd.DataFrame)


def test_pooled_scores_from_utilsforecast_equal_the_direct_formulas():
    """MAE, CRPS and coverage now come from utilsforecast.losses on a long frame; they must equal the
    formulas evaluate() used before (mean |error|, 2 × mean pinball, share inside the interval), pooled
    over two series of different lengths."""
    import numpy as np
    import pandas as pd

    from alignlab.forecast._scores import crps_quantiles, interval_coverage, pooled_scores, quantile_columns

    rng = np.random.default_rng(0)
    n = 37
    y = rng.normal(1.0, 0.1, n)
    frame = pd.DataFrame({"unique_id": ["a"] * 30 + ["b"] * 7, "ds": np.arange(n), "y": y,
                          "m": y + rng.normal(0, 0.05, n)})
    for lv in (50, 80):
        half = {50: 0.034, 80: 0.064}[lv]
        frame[f"m-lo-{lv}"] = frame["m"] - half
        frame[f"m-hi-{lv}"] = frame["m"] + half
    got = pooled_scores(frame, ["m"], 80)["m"]
    cols, taus = quantile_columns(frame, "m")
    assert got["mae"] == pytest.approx(np.mean(np.abs(frame["m"] - y)), rel=1e-12)
    assert got["crps"] == pytest.approx(crps_quantiles(y, frame[cols].to_numpy(), taus).mean(), rel=1e-12)
    assert got["coverage"] == pytest.approx(interval_coverage(y, frame["m-lo-80"], frame["m-hi-80"]), rel=1e-12)
    assert 0 < got["coverage"] < 1  # some outcomes fall outside: the check can tell the two apart
