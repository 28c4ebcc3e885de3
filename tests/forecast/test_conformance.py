"""Every registered forecaster passes the shared interface check (like scikit-learn's check_estimator)."""

import pytest

from alignlab.core import create, names
from alignlab.forecast import check_forecaster

SMALL = {
    "linear": {"h": 4, "max_iter": 10},
    "gbm": {"h": 4, "max_iter": 3, "max_pairs": 2000},
    "mlp": {"h": 4, "max_iter": 3},
    "statsforecast": {"model": "RandomWalkWithDrift"},
    "lm": {"model": "tiny:2x64", "history": 4, "max_new_tokens": 4},
}


@pytest.mark.parametrize("name", names("forecaster"))
def test_registered_forecaster_conforms(name):
    forecaster = create("forecaster", name, **SMALL.get(name, {}))
    check_forecaster(forecaster, h=3)


@pytest.mark.parametrize("distribution", ["point", "quantile"])
def test_chained_forecaster_conforms_in_both_modes(distribution):
    check_forecaster(create("forecaster", "linear", h=4, distribution=distribution, target="td_lambda"), h=4)


def test_user_forecaster_registers_without_editing_core(small_df):
    from alignlab.core import register
    from alignlab.forecast import StatsForecastModel

    @register("forecaster", "test-user-naive")
    def user_naive(**kwargs):
        return StatsForecastModel("Naive", alias="user-naive")

    assert "test-user-naive" in names("forecaster")
    check_forecaster(create("forecaster", "test-user-naive"), small_df)
