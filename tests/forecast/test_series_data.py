import pandas as pd
import pytest

from alignlab.core import AlignlabError
from alignlab.forecast import ChainedForecaster, load_series, read_series, to_weekly, validate_series


def test_missing_columns_named(small_df):
    with pytest.raises(AlignlabError, match="missing the column\\(s\\) y"):
        validate_series(small_df.drop(columns="y"))


def test_unsorted_dates_rejected(small_df):
    shuffled = small_df.iloc[[1, 0] + list(range(2, len(small_df)))]
    with pytest.raises(AlignlabError, match="not sorted by ds"):
        validate_series(shuffled)


def test_duplicate_dates_rejected(small_df):
    dup = pd.concat([small_df.iloc[:1], small_df], ignore_index=True)
    with pytest.raises(AlignlabError, match="duplicate dates"):
        validate_series(dup)


def test_horizon_longer_than_series_rejected(small_df):
    with pytest.raises(AlignlabError, match="not more than the horizon"):
        ChainedForecaster("linear", h=500).fit(small_df)


def test_csv_roundtrip_and_file_errors(tmp_path, small_df):
    path = tmp_path / "series.csv"
    small_df.to_csv(path, index=False)
    back = read_series(path)
    assert len(back) == len(small_df) and back["ds"].dtype.kind == "M"
    with pytest.raises(AlignlabError, match="does not exist"):
        read_series(tmp_path / "nope.csv")


@pytest.mark.parametrize("name,first_year", [("sp500", 1999), ("nasdaq", 1999), ("msft", 1986)])
def test_bundled_series_load_offline_and_resample_weekly(name, first_year):
    daily = load_series(name)
    assert daily["ds"].dt.year.min() == first_year
    weekly = to_weekly(daily)
    assert (weekly["ds"].dt.dayofweek == 4).all()  # W-FRI
    assert 0.18 < len(weekly) / len(daily) < 0.22
