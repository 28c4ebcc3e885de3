import math

import pytest

from alignlab.core import wilson as core_wilson
from alignlab.core.stats import wilson


def test_core_still_exports_wilson():
    assert core_wilson is wilson


def test_wilson_interval_contains_the_rate():
    rate, lo, hi = wilson(3, 10)
    assert rate == 0.3
    assert lo == pytest.approx(0.1078, abs=1e-4) and hi == pytest.approx(0.6032, abs=1e-4)


@pytest.mark.parametrize("successes", [0, 10])
def test_wilson_clips_to_the_rate_at_the_edges(successes):
    rate, lo, hi = wilson(successes, 10)
    assert 0.0 <= lo <= rate <= hi <= 1.0
    assert (lo == 0.0) if successes == 0 else (hi == 1.0)


def test_wilson_of_an_empty_sample_is_uninformative():
    rate, lo, hi = wilson(0, 0)
    assert math.isnan(rate) and (lo, hi) == (0.0, 1.0)


def test_wilson_narrows_with_lower_level():
    _, lo95, hi95 = wilson(5, 20)
    _, lo80, hi80 = wilson(5, 20, level=0.8)
    assert lo95 < lo80 and hi80 < hi95
