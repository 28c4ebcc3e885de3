"""One switch for serial and parallel bootstraps, and the same numbers either way."""

import numpy as np


def test_n_jobs_changes_speed_not_numbers():
    from alignlab.scaling import ScalingLaw, synthetic_runs

    runs = synthetic_runs(noise=0.01, seed=5, budgets=(1e18, 1e19, 1e20), sizes_per_budget=5)
    serial = ScalingLaw(n_bootstrap=50, seed=1, n_jobs=1).fit(runs)
    parallel = ScalingLaw(n_bootstrap=50, seed=1, n_jobs=2).fit(runs)
    assert np.allclose(serial.bootstrap_theta_, parallel.bootstrap_theta_, rtol=1e-10)
    assert serial.intervals_ == parallel.intervals_


def test_bootstrap_resamples_whole_runs():
    from alignlab.scaling import ScalingLaw, synthetic_runs
    from alignlab.scaling._bootstrap import draw_weights

    codes = np.repeat(np.arange(10), 3)  # 10 runs, 3 checkpoint rows each
    weights = draw_weights(codes, 20, seed=0)
    assert np.all(weights.reshape(20, 10, 3).std(axis=2) == 0) and np.all(weights.sum(axis=1) == 30)
    runs = synthetic_runs(noise=0.01, seed=5, budgets=(1e18, 1e19, 1e20), sizes_per_budget=8)
    runs["run"] = [f"r{i // 2}" for i in range(len(runs))]  # pretend rows come in pairs from one run
    law = ScalingLaw(n_bootstrap=20).fit(runs)
    assert (law.n_rows_, law.n_runs_) == (24, 12) and len(law.bootstrap_theta_) == 20
