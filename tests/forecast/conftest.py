import pytest

from alignlab.forecast import synthetic_random_walk


@pytest.fixture(scope="session")
def small_df():
    return synthetic_random_walk(n_series=2, n_steps=160, seed=1)
