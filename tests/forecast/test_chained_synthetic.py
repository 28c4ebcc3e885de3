"""Acceptance on a synthetic geometric random walk with drift, where the exact forecast is known.

Setup (why these numbers): 20 series of 700 weekly log-price steps N(0.001, 0.015^2). Forecasters are
fitted once, on the history before the first of 100 origins (two weeks apart) in each series — about
9,500 weeks of history in all, so the drift of a 26-week mean is estimated to ~0.4 % (one standard
error), making "within 1 % of the true mean" a 2.5-standard-error check rather than a coin flip. The
exact model knows log y[t+26] | y[t] ~ N(log y[t] + 26 drift, 26 sigma^2); both it and the chained
forecaster are scored by the same quantile CRPS (levels 10…90 %) on the same 2,000 origins.
"""

import numpy as np
import pytest
from scipy import stats

from alignlab.forecast import (
    ChainedForecaster,
    backtest,
    crps_quantiles,
    quantile_midpoints,
    revision_autocorrelation,
    synthetic_random_walk,
)
from alignlab.forecast._scores import quantile_columns

DRIFT, SIGMA, H = 0.001, 0.015, 26


@pytest.fixture(scope="module")
def result():
    df = synthetic_random_walk(n_series=20, n_steps=700, drift=DRIFT, sigma=SIGMA, seed=0)
    models = [
        ChainedForecaster("linear", h=H, target="td0", alias="td0"),
        ChainedForecaster("linear", h=H, target="td0", distribution="quantile", alias="td0-q"),
    ]
    return backtest(df, models, h=H, n_windows=100, step_size=2, refit=False)


def test_week0_chained_forecast_is_within_one_percent_of_the_true_mean(result):
    first = result.chains[result.chains["step"] == 0]
    true_ratio = np.exp(H * DRIFT + H * SIGMA**2 / 2)
    ratio = (first["td0"] / first["y_origin"]).to_numpy()
    assert abs(ratio.mean() / true_ratio - 1) < 0.01
    assert np.max(np.abs(ratio / true_ratio - 1)) < 0.02  # no origin far off either
    assert result.chains["td0"].notna().all()


def test_chained_distribution_crps_within_two_percent_of_the_exact_model(result):
    first = result.chains[result.chains["step"] == 0]
    cols, taus = quantile_columns(first, "td0-q")
    scale = first["y_origin"].to_numpy()
    y = first["y_target"].to_numpy() / scale
    ours = crps_quantiles(y, first[cols].to_numpy() / scale[:, None], taus).mean()
    exact_q = np.exp(H * DRIFT + SIGMA * np.sqrt(H) * stats.norm.ppf(taus))[None, :].repeat(len(y), 0)
    exact = crps_quantiles(y, exact_q, taus).mean()
    assert ours / exact - 1 < 0.02
    # and the chained spread matters: a distribution with a single step's spread is far worse
    narrow = np.exp(H * DRIFT + SIGMA * stats.norm.ppf(taus))[None, :].repeat(len(y), 0)
    assert crps_quantiles(y, narrow, taus).mean() > 1.2 * exact


def test_revisions_of_the_chain_are_uncorrelated(result):
    ac = revision_autocorrelation(result.chains, "td0")
    assert abs(ac["ac"]) < 0.05
    assert ac["n"] > 10_000


def test_fitted_td_iterates_until_targets_stop_moving():
    df = synthetic_random_walk(n_series=4, n_steps=300, seed=2)
    fc = ChainedForecaster("linear", h=8, target="td0", tol=1e-5).fit(df)
    assert fc.converged_ and fc.n_iter_ > 3  # the anchor needs several iterations to reach horizon 8
    assert fc.history_[-1] < fc.history_[0]
    mc = ChainedForecaster("linear", h=8, target="mc").fit(df)
    assert mc.n_iter_ == 1  # Monte Carlo targets do not depend on the model


def test_quantile_learner_atoms_keep_the_variance():
    taus = quantile_midpoints(20)
    z = stats.norm.ppf(taus)
    assert np.mean(z**2) < 0.96  # midpoint quantiles alone lose the tails' variance ...
    from sklearn.linear_model import LinearRegression

    from alignlab.forecast import LocationScale

    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 2))
    Y = X[:, :1] + 2.0 * rng.standard_normal((2000, 20))
    ls = LocationScale(LinearRegression(), taus).fit(X, Y)
    atoms = ls.atoms(X[:50])
    assert np.allclose(atoms.var(axis=1), 4.0, rtol=0.1)  # ... the chained atoms keep it
