import itertools

import numpy as np
import pandas as pd
import pytest

from alignlab.core import AlignlabError
from alignlab.core.stats import messiness, variance_decomposition


def planted(rng, n_seeds=40, a=1.0, b=0.5, noise=0.5):
    """y = a·A + b·B + noise: population shares (a/2)², (b/2)², noise² over their sum."""
    rows = [{"A": x, "B": z, "seed": s, "y": a * x + b * z + rng.normal(0, noise)}
            for s in range(n_seeds) for x, z in itertools.product([0, 1], [0, 1])]
    frame = pd.DataFrame(rows)
    frame["A"] = frame["A"].map({0: "off", 1: "on"})
    return frame


def test_shares_sum_to_one_and_recover_a_planted_decomposition():
    table = variance_decomposition(planted(np.random.default_rng(0), n_seeds=250), factors=["A", "B"],
                                   outcome="y").set_index("source")
    assert list(table.index) == ["A", "B", "A:B", "residual"]
    assert table["share"].sum() == pytest.approx(1.0)
    total = 0.25 + 0.0625 + 0.25
    assert table.loc["A", "share"] == pytest.approx(0.25 / total, abs=0.04)
    assert table.loc["B", "share"] == pytest.approx(0.0625 / total, abs=0.03)
    assert table.loc["residual", "share"] == pytest.approx(0.25 / total, abs=0.04)
    assert table.loc["A:B", "share"] < 0.02 and table.loc["A", "p"] < 1e-6
    assert table.loc["A", "df"] == 1 and table.loc["residual", "df"] == 1000 - 4


def test_seed_noise_dominates_when_there_is_no_effect():
    table = variance_decomposition(planted(np.random.default_rng(1), a=0, b=0), factors=["A", "B"], outcome="y")
    assert table.set_index("source").loc["residual", "share"] > 0.9
    assert messiness(table).startswith(f"{table.set_index('source').loc['residual', 'share']:.0%} of the variance in y is between seeds")


def test_main_effects_only():
    table = variance_decomposition(planted(np.random.default_rng(2)), factors=["A", "B"], outcome="y", interactions=1)
    assert list(table["source"]) == ["A", "B", "residual"]


def test_unbalanced_design_with_an_empty_combination_skips_that_interaction():
    frame = planted(np.random.default_rng(3), n_seeds=5)
    frame = frame[~((frame["A"] == "on") & (frame["B"] == 1))]
    table = variance_decomposition(frame, factors=["A", "B"], outcome="y").set_index("source")
    assert np.isnan(table.loc["A:B", "share"]) and "not estimable" in table.loc["A:B", "note"]
    assert table["share"].sum() == pytest.approx(1.0)


def test_a_constant_outcome_gives_nans_and_a_note():
    frame = planted(np.random.default_rng(4), n_seeds=3)
    frame["y"] = 0.25
    table = variance_decomposition(frame, factors=["A", "B"], outcome="y")
    assert table["share"].isna().all() and "constant" in table["note"].iloc[0]
    assert "cannot be split" in messiness(table)


def test_one_cell_per_condition_without_interactions_keeps_a_residual_and_says_what_it_is():
    frame = planted(np.random.default_rng(5), n_seeds=1)
    table = variance_decomposition(frame, factors=["A", "B"], outcome="y").set_index("source")
    # the interaction would use the last degree of freedom: it is left out and the residual explained
    assert "A:B" not in table.index and table.loc["residual", "df"] == 1
    assert "one cell per condition" in table.loc["residual", "note"]
    assert "not only seed noise" in messiness(table.reset_index())


def test_no_residual_degrees_of_freedom_gives_nans_not_an_error():
    frame = pd.DataFrame({"A": ["x", "y", "z"], "seed": [0, 0, 0], "y": [0.1, 0.5, 0.9]})
    table = variance_decomposition(frame, factors=["A"], outcome="y")
    assert table["share"].isna().all() and "no residual degrees of freedom" in table["note"].iloc[-1]


def test_constant_factors_and_missing_outcomes_are_left_out():
    frame = planted(np.random.default_rng(6), n_seeds=4)
    frame["C"] = "same"
    frame.loc[:3, "y"] = np.nan
    table = variance_decomposition(frame, factors=["A", "B", "C"], outcome="y").set_index("source")
    assert "C" not in table.index and "constant factors left out: C" in table.loc["residual", "note"]
    assert table["df"].sum() == pytest.approx(len(frame) - 4 - 1)


def test_a_seed_effect_can_be_separated():
    rng = np.random.default_rng(7)
    frame = planted(rng, n_seeds=10, a=0.2, b=0.0, noise=0.05)
    frame["y"] += frame["seed"].map(dict(enumerate(rng.normal(0, 1, 10))))
    table = variance_decomposition(frame, factors=["A", "B"], outcome="y", seed_effect=True).set_index("source")
    assert table.loc["seed", "share"] > 0.8 and table.loc["residual", "share"] < 0.05


def test_dict_levels_and_dotted_names_work_in_the_formula():
    frame = planted(np.random.default_rng(8), n_seeds=4)
    frame["safety.optimizer"] = [{"name": "sgd", "lr": 0.1} if b else {"name": "adamw"} for b in frame["B"]]
    table = variance_decomposition(frame, factors=["A", "safety.optimizer"], outcome="y")
    assert list(table["source"]) == ["A", "safety.optimizer", "A:safety.optimizer", "residual"]


def test_interactions_must_be_one_or_two():
    with pytest.raises(AlignlabError, match="interactions"):
        variance_decomposition(planted(np.random.default_rng(0), n_seeds=2), factors=["A"], outcome="y", interactions=3)


def test_messiness_names_the_largest_source():
    table = pd.DataFrame({"source": ["mode", "size", "mode:size", "residual"], "share": [0.1, 0.2, 0.08, 0.62],
                          "note": ""})
    assert messiness(table, "final") == ("62% of the variance in final is between seeds; the largest factor, size, "
                                         "explains 20%.")
