import pandas as pd
import pytest

from alignlab.core import AlignlabError
from alignlab.forecast import (
    StatsForecastModel,
    cross_validation,
    cv_to_chains,
    read_cross_validation,
    synthetic_random_walk,
    write_cross_validation,
)


@pytest.fixture(scope="module")
def df():
    return synthetic_random_walk(n_series=2, n_steps=120, seed=5)


def test_our_cross_validation_matches_statsforecast(df):
    from statsforecast import StatsForecast
    from statsforecast.models import Naive, RandomWalkWithDrift

    theirs = StatsForecast(models=[Naive(), RandomWalkWithDrift()], freq="W-FRI").cross_validation(
        h=6, df=df, n_windows=5, step_size=3, level=[80])
    ours_naive = cross_validation(StatsForecastModel("Naive"), df, h=6, n_windows=5, step_size=3, level=[80])
    ours_rwd = cross_validation(StatsForecastModel("RandomWalkWithDrift"), df, h=6, n_windows=5, step_size=3, level=[80])
    ours = ours_naive.merge(ours_rwd.drop(columns="y"), on=["unique_id", "ds", "cutoff"])
    theirs, models = read_cross_validation(theirs)
    assert models == ["Naive", "RWD"]
    merged = theirs.merge(ours, on=["unique_id", "ds", "cutoff"], suffixes=("", "_ours"))
    assert len(merged) == len(theirs) == 2 * 5 * 6
    for col in ["y", "Naive", "RWD", "RWD-lo-80", "Naive-hi-80"]:
        assert (merged[col] - merged[f"{col}_ours"]).abs().max() < 1e-6


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_cross_validation_frame_round_trip(tmp_path, df, suffix):
    cv = cross_validation(StatsForecastModel("Naive"), df, h=4, n_windows=3, level=[80])
    path = write_cross_validation(cv, tmp_path / f"cv{suffix}")
    back, models = read_cross_validation(path)
    assert models == ["Naive"]
    pd.testing.assert_frame_equal(back.reset_index(drop=True), cv.reset_index(drop=True), check_dtype=False)


def test_cross_validation_frame_errors(df):
    with pytest.raises(AlignlabError, match="missing cutoff"):
        read_cross_validation(df.assign(Naive=1.0))


def test_chains_from_step_one_cross_validation(df):
    cv = cross_validation(StatsForecastModel("Naive"), df, h=4, n_windows=10, step_size=1)
    chains = cv_to_chains(cv, h=4)
    assert set(chains["step"]) == {0, 1, 2, 3}
    assert chains.groupby(["unique_id", "origin"]).size().eq(4).all()
