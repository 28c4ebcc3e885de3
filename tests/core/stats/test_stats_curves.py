import math

import numpy as np
import pandas as pd
import pytest

from alignlab.core import AlignlabError
from alignlab.core.stats import curve_bands, curve_summary, curve_table


def curve(steps, values):
    return pd.DataFrame({"step": steps, "value": values})


def test_summary_of_a_curve_that_never_drops():
    s = curve_summary(curve([0, 10, 20], [1.0, 0.9, 0.8]))
    assert s["final"] == 0.8 and s["initial"] == 1.0 and s["change"] == pytest.approx(-0.2)
    assert s["auc"] == pytest.approx((0.95 * 10 + 0.85 * 10) / 20)
    assert math.isnan(s["steps_to_below"]) and s["returned"] is False


def test_summary_of_a_curve_that_drops_and_returns():
    s = curve_summary(curve([0, 5, 10, 15], [1.0, 0.3, 0.1, 0.6]))
    assert s["steps_to_below"] == 5.0 and s["returned"] is True and s["final"] == 0.6


def test_a_return_must_reach_the_recovery_level():
    values = [1.0, 0.3, 0.45]
    assert curve_summary(curve([0, 5, 10], values))["returned"] is False
    assert curve_summary(curve([0, 5, 10], values), recovery=0.4)["returned"] is True


def test_a_curve_that_starts_below_and_rises_has_returned():
    s = curve_summary(curve([0, 1], [0.2, 0.9]))
    assert s["steps_to_below"] == 0.0 and s["returned"] is True


def test_summary_of_a_single_point_is_that_point():
    s = curve_summary(curve([7], [0.4]))
    assert s["final"] == s["auc"] == 0.4 and s["steps_to_below"] == 7.0 and s["returned"] is False


def test_summary_leaves_out_nans_and_sorts_steps():
    s = curve_summary(curve([20, 0, 10, 30], [0.0, 1.0, np.nan, np.nan]))
    assert s["n_points"] == 2 and s["final"] == 0.0 and s["auc"] == pytest.approx(0.5)


@pytest.mark.parametrize("values", [[], [np.nan, np.nan]])
def test_summary_of_an_empty_curve_is_nan(values):
    s = curve_summary(curve(list(range(len(values))), values))
    assert math.isnan(s["final"]) and math.isnan(s["auc"]) and s["returned"] is False and s["n_points"] == 0


def test_auc_is_normalised_by_the_step_range():
    s = curve_summary(curve([100, 300], [1.0, 1.0]))
    assert s["auc"] == pytest.approx(1.0)


def test_table_matches_the_summary_of_each_curve():
    rng = np.random.default_rng(0)
    rows = []
    for c in range(40):
        steps = np.sort(rng.choice(np.arange(0, 200, 10), size=rng.integers(1, 8), replace=False))
        values = rng.uniform(0, 1, len(steps))
        values[rng.uniform(size=len(steps)) < 0.15] = np.nan
        rows += [{"cell_id": f"c{c}", "step": s, "value": v} for s, v in zip(steps, values)]
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=1)  # order must not matter
    table = curve_table(frame).set_index("cell_id")
    for cell_id, group in frame.groupby("cell_id"):
        expected = curve_summary(group)
        got = table.loc[cell_id]
        for key, value in expected.items():
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(got[key]), (cell_id, key)
            else:
                assert got[key] == pytest.approx(value), (cell_id, key)


def test_table_rejects_two_rows_at_one_step():
    frame = pd.DataFrame({"cell_id": ["a", "a"], "step": [0, 0], "value": [1.0, 0.5]})
    with pytest.raises(AlignlabError, match="same 'step'"):
        curve_table(frame)


def bands_frame(n_seeds, rng, conditions=("a", "b")):
    rows = []
    for k, condition in enumerate(conditions):
        for seed in range(n_seeds):
            for step in (0, 10, 20):
                rows.append({"mode": condition, "seed": seed, "step": step,
                             "value": 1.0 - 0.02 * step * (k + 1) + rng.normal(0, 0.05)})
    return pd.DataFrame(rows)


def test_bands_give_the_mean_across_seeds_and_a_band_around_it():
    frame = bands_frame(6, np.random.default_rng(0))
    bands = curve_bands(frame, by="mode", n_boot=500)
    assert len(bands) == 6 and list(bands["mode"].unique()) == ["a", "b"]
    expected = frame.groupby(["mode", "step"])["value"].mean().to_numpy()
    assert bands["mean"].to_numpy() == pytest.approx(expected)
    assert (bands["lo"] < bands["mean"]).all() and (bands["mean"] < bands["hi"]).all()
    assert (bands["n_seeds"] == 6).all()


def test_band_covers_the_true_mean_curve_at_about_the_nominal_rate():
    rng = np.random.default_rng(3)
    covered = []
    for rep in range(60):
        frame = bands_frame(5, rng, conditions=("a",))
        bands = curve_bands(frame, by="mode", n_boot=400, random_state=rep)
        truth = 1.0 - 0.02 * bands["step"]
        covered += list((bands["lo"] <= truth) & (truth <= bands["hi"]))
    assert np.mean(covered) >= 0.85


def test_one_seed_gives_no_band():
    frame = bands_frame(1, np.random.default_rng(0))
    bands = curve_bands(frame, by="mode")
    assert bands["lo"].isna().all() and bands["hi"].isna().all() and (bands["n_seeds"] == 1).all()


def test_a_missing_point_counts_fewer_seeds():
    frame = bands_frame(3, np.random.default_rng(0), conditions=("a",))
    frame = frame[~((frame["seed"] > 0) & (frame["step"] == 20))]
    bands = curve_bands(frame, by="mode").set_index("step")
    assert bands.loc[20, "n_seeds"] == 1 and math.isnan(bands.loc[20, "lo"])
    assert bands.loc[10, "n_seeds"] == 3 and not math.isnan(bands.loc[10, "lo"])


def test_dict_levels_are_grouped_by_label():
    frame = bands_frame(2, np.random.default_rng(0), conditions=("x",))
    frame["optimizer"] = [{"name": "sgd", "lr": 0.05}] * len(frame)
    bands = curve_bands(frame, by=["optimizer"], n_boot=100)
    assert set(bands["optimizer"]) == {"sgd lr=0.05"}


def test_bands_without_conditions_pool_everything():
    frame = bands_frame(2, np.random.default_rng(0))
    with pytest.raises(AlignlabError, match="more than one row"):
        curve_bands(frame, by=None)
    assert len(curve_bands(frame[frame["mode"] == "a"], by=None, n_boot=100)) == 3


def test_bands_name_missing_columns():
    with pytest.raises(AlignlabError, match="'seed'"):
        curve_bands(pd.DataFrame({"mode": ["a"], "step": [0], "value": [1.0]}), by="mode")
