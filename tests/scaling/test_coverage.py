"""95 % bootstrap intervals cover the true parameters 93–97 % of the time over 200 synthetic data sets."""

import numpy as np
import pytest


@pytest.mark.slow
def test_bootstrap_intervals_cover_the_truth():
    from alignlab.scaling import CHINCHILLA_EPOCH, ScalingLaw, synthetic_runs

    hits = []
    for s in range(200):  # fixed seeds: the same 200 data sets and bootstrap draws every run (~1-2 min)
        runs = synthetic_runs(noise=0.002, seed=1000 + s, budgets=(1e18, 3e18, 1e19, 3e19, 1e20), sizes_per_budget=6)
        law = ScalingLaw(n_bootstrap=100, seed=s).fit(runs)
        hits.append([law.intervals_[k][0] <= v <= law.intervals_[k][1] for k, v in CHINCHILLA_EPOCH.items()])
    rate = np.mean(hits, axis=0)
    assert 0.93 <= rate.mean() <= 0.97, rate  # pooled over the five parameters: 1,000 interval checks
    assert np.all((0.90 <= rate) & (rate <= 0.99)), rate  # each parameter: 200 checks, binomial sd ≈ 1.5 %
