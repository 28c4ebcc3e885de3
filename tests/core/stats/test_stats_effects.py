import gc
import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from alignlab.core import AlignlabError
from alignlab.core.stats import direction_consistency, factor_effects


@pytest.fixture
def frozen_gc():
    """statsmodels' Holm correction calls gc.collect(); freezing the objects that exist already keeps the
    repeated simulations fast without changing any result."""
    gc.freeze()
    yield
    gc.unfreeze()


def grid(rng, *, n_seeds=8, effect_a=0.0, effect_b=0.0, noise=0.2, seed_sd=0.3, seed_by_a_sd=0.0, b_levels=2):
    """2 × b_levels × seeds: y = base + effect·factor + a seed's shift (shared by its cells) + cell noise."""
    rows = []
    for seed in range(n_seeds):
        shift, by_a = rng.normal(0, seed_sd), rng.normal(0, seed_by_a_sd)
        for a, b in itertools.product(["a0", "a1"], [f"b{k}" for k in range(b_levels)]):
            y = 0.5 + (effect_a + by_a) * (a == "a1") + effect_b * (b == "b1") + shift + rng.normal(0, noise)
            rows.append({"A": a, "B": b, "seed": seed, "y": y})
    return pd.DataFrame(rows)


def test_a_planted_effect_is_found_and_the_null_factor_is_not():
    cells = grid(np.random.default_rng(0), n_seeds=10, effect_a=0.4)
    table = factor_effects(cells, factors=["A", "B"], outcomes="y", n_boot=1000).set_index("factor")
    a, b = table.loc["A"], table.loc["B"]
    assert (a["level"], a["reference"], a["matching"], a["n_pairs"], a["n_units"]) == ("a1", "a0", "matched", 20, 10)
    assert a["lo"] <= 0.4 <= a["hi"] and a["significant"] and a["p_adj"] >= a["p"]
    assert not b["significant"] and b["p"] > 0.05


@pytest.mark.parametrize("cluster", ["seed", "stratum"])
def test_interval_coverage_is_near_nominal(frozen_gc, cluster):
    rng = np.random.default_rng(1)
    covered = found = 0
    for rep in range(100):
        cells = grid(rng, effect_a=0.3)
        row = factor_effects(cells, factors=["A", "B"], outcomes="y", n_boot=300, n_perm=300, random_state=rep,
                             cluster=cluster).iloc[0]
        covered += row["lo"] <= 0.3 <= row["hi"]
        found += row["significant"]
    assert covered / 100 >= 0.85
    assert found / 100 >= 0.5  # the effect is 1.5 noise SDs: usually detected with 8 seeds


def test_false_positive_rate_on_null_data_is_nominal(frozen_gc):
    rng = np.random.default_rng(2)
    per_test, family = [], []
    for rep in range(200):
        table = factor_effects(grid(rng), factors=["A", "B"], outcomes="y", n_boot=50, n_perm=300, random_state=rep)
        per_test += list(table["p"] < 0.05)
        family.append(table["significant"].any())
    assert binomtest(sum(per_test), len(per_test), 0.05).pvalue > 0.001  # two-sided: neither liberal nor dead
    assert binomtest(sum(family), len(family), 0.05, alternative="greater").pvalue > 0.01


def test_seed_units_stay_valid_when_a_seed_shifts_the_effect_in_all_its_cells(frozen_gc):
    # a seed × A interaction shared by the seed's cells: pairs of one seed are not independent
    rng = np.random.default_rng(3)
    false = {"seed": 0, "stratum": 0}
    for rep in range(60):
        cells = grid(rng, noise=0.05, seed_by_a_sd=0.3, b_levels=4)
        for cluster in false:
            row = factor_effects(cells, factors=["A", "B"], outcomes="y", n_boot=50, n_perm=300, random_state=rep,
                                 cluster=cluster).iloc[0]
            false[cluster] += row["p"] < 0.05
    assert false["seed"] / 60 <= 0.12
    assert false["stratum"] / 60 >= 0.15  # why "seed" is the default (4 correlated pairs per seed: ~0.3)


def brute_force_p(y, labels, strata):
    """Two-sided permutation p by listing every within-stratum arrangement of the labels."""
    def statistic(lab):
        return np.mean([y[(strata == s) & lab].mean() - y[(strata == s) & ~lab].mean() for s in np.unique(strata)])

    observed = abs(statistic(labels))
    per_stratum = []
    for s in np.unique(strata):
        idx = np.flatnonzero(strata == s)
        k = int(labels[idx].sum())
        per_stratum.append([set(c) for c in itertools.combinations(idx, k)])
    stats = []
    for choice in itertools.product(*per_stratum):
        lab = np.zeros(len(y), dtype=bool)
        lab[list(set().union(*choice))] = True
        stats.append(abs(statistic(lab)))
    return np.mean(np.array(stats) >= observed - 1e-12)


@pytest.mark.parametrize("cluster", ["seed", "stratum"])
def test_permutation_p_is_exact_for_tiny_matched_designs(cluster):
    cells = pd.DataFrame({"A": ["x", "y"] * 3, "seed": [0, 0, 1, 1, 2, 2], "v": [0.1, 0.4, 0.5, 0.4, 0.2, 0.4]})
    row = factor_effects(cells, factors=["A"], outcomes="v", cluster=cluster).iloc[0]
    y, labels, strata = cells["v"].to_numpy(), (cells["A"] == "y").to_numpy(), cells["seed"].to_numpy()
    assert row["p"] == pytest.approx(brute_force_p(y, labels, strata))
    assert row["p"] == pytest.approx(0.5)  # sign patterns of (+0.3, −0.1, +0.2): 4 of 8 are as extreme


def test_permutation_p_is_exact_for_tiny_unmatched_designs():
    cells = pd.DataFrame({"A": ["x", "x", "x", "y", "y"], "seed": [0, 1, 2, 3, 4], "v": [0.1, 0.3, 0.2, 0.6, 0.5]})
    row = factor_effects(cells, factors=["A"], outcomes="v").iloc[0]
    assert row["matching"] == "unmatched" and not row["matched"] and row["n_pairs"] == 0
    assert row["effect"] == pytest.approx(0.55 - 0.2)
    exact = brute_force_p(cells["v"].to_numpy(), (cells["A"] == "y").to_numpy(), np.zeros(5))
    assert row["p"] == pytest.approx(exact) == pytest.approx(0.1)  # 1 of C(5,2) = 10 arrangements each way


def test_monte_carlo_p_approximates_the_exact_one():
    rng = np.random.default_rng(4)
    cells = grid(rng, n_seeds=6, effect_a=0.1)  # 12 pairs: 4096 arrangements > n_perm
    y, labels = cells["y"].to_numpy(), (cells["A"] == "a1").to_numpy()
    strata = cells.groupby(["B", "seed"]).ngroup().to_numpy()
    row = factor_effects(cells, factors=["A", "B"], outcomes="y", n_perm=2000, cluster="stratum").iloc[0]
    assert row["p"] == pytest.approx(brute_force_p(y, labels, strata), abs=0.03)


def test_each_level_of_a_multi_level_factor_is_compared_with_the_first():
    rows = [{"opt": opt, "seed": s, "y": {"sgd": 0.0, "adamw": 0.2, "lion": -0.3}[opt] + 0.01 * s}
            for s in range(4) for opt in ("sgd", "adamw", "lion")]
    table = factor_effects(pd.DataFrame(rows), factors=["opt"], outcomes="y")
    assert list(table["level"]) == ["adamw", "lion"] and set(table["reference"]) == {"sgd"}
    assert table["effect"].to_numpy() == pytest.approx([0.2, -0.3])


def test_dict_levels_are_labelled():
    opts = [{"name": "sgd", "lr": 0.05}, {"name": "adamw", "lr": 0.001}]
    cells = pd.DataFrame({"optimizer": opts * 3, "seed": [0, 0, 1, 1, 2, 2], "y": [1, 2, 1, 3, 2, 2.5]})
    row = factor_effects(cells, factors=["optimizer"], outcomes="y").iloc[0]
    assert (row["reference"], row["level"]) == ("sgd lr=0.05", "adamw lr=0.001")


def test_seeds_that_do_not_line_up_fall_back_to_strata_of_the_other_factors():
    rng = np.random.default_rng(5)
    cells = grid(rng, n_seeds=6, effect_a=0.5)
    cells.loc[cells["A"] == "a1", "seed"] += 100  # no pair shares a seed
    row = factor_effects(cells, factors=["A", "B"], outcomes="y").iloc[0]
    assert row["matching"] == "stratified" and not row["matched"] and row["n_pairs"] == 0
    by_b = cells.groupby(["B", "A"])["y"].mean().unstack()
    assert row["effect"] == pytest.approx((by_b["a1"] - by_b["a0"]).mean())
    assert row["lo"] < row["effect"] < row["hi"]


def test_a_single_pair_gives_an_effect_without_an_interval():
    cells = pd.DataFrame({"A": ["x", "y"], "seed": [0, 0], "y": [0.2, 0.5]})
    row = factor_effects(cells, factors=["A"], outcomes="y").iloc[0]
    assert row["effect"] == pytest.approx(0.3) and np.isnan(row["lo"]) and "no interval" in row["note"]
    assert row["p"] == 1.0 and not row["significant"]


def test_missing_outcomes_drop_their_pairs():
    cells = grid(np.random.default_rng(6), n_seeds=4)
    cells.loc[0, "y"] = np.nan
    row = factor_effects(cells, factors=["A", "B"], outcomes="y").iloc[0]
    assert row["n_pairs"] == 7


def test_fdr_correction_is_no_stricter_than_holm():
    cells = grid(np.random.default_rng(7), effect_a=0.15, effect_b=0.15)
    holm = factor_effects(cells, factors=["A", "B"], outcomes="y", n_boot=200)
    bh = factor_effects(cells, factors=["A", "B"], outcomes="y", n_boot=200, correction="fdr_bh")
    assert (bh["p_adj"] <= holm["p_adj"] + 1e-12).all() and (holm["p_adj"] >= holm["p"]).all()
    assert holm["p"].tolist() == bh["p"].tolist()


def test_the_family_spans_factors_levels_and_outcomes():
    cells = grid(np.random.default_rng(8))
    cells["z"] = cells["y"] * 2
    table = factor_effects(cells, factors=["A", "B"], outcomes=["y", "z"], n_boot=100)
    assert len(table) == 4 and list(table["outcome"]) == ["y", "z", "y", "z"]
    smallest = table["p"].min()
    assert table.loc[table["p"].idxmin(), "p_adj"] == pytest.approx(min(1.0, 4 * smallest))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"correction": "magic"}, "correction"),
    ({"level": 1.5}, "level"),
    ({"factors": ["A", "nope"]}, "'nope'"),
    ({"factors": ["A", "seed"]}, "seed column"),
    ({"seed": "run"}, "no seed column 'run'"),
])
def test_bad_arguments_are_explained(kwargs, message):
    cells = grid(np.random.default_rng(0), n_seeds=2)
    with pytest.raises(AlignlabError, match=message):
        factor_effects(cells, **{"factors": ["A", "B"], "outcomes": "y", **kwargs})


def test_direction_is_fully_consistent_when_every_pair_agrees():
    cells = grid(np.random.default_rng(9), effect_a=1.0, noise=0.05)
    out = direction_consistency(cells, factor="A", outcome="y", factors=["A", "B"])
    assert out["share"] == 1.0 and out["n_pairs"] == 16 and out["agree"] == 16 and out["ties"] == 0
    assert (out["reference"], out["level"]) == ("a0", "a1") and out["mean_effect"] > 0


def test_direction_is_a_coin_flip_for_pure_noise():
    rng = np.random.default_rng(10)
    shares = [direction_consistency(grid(rng, n_seeds=50), factor="A", outcome="y", factors=["A", "B"])["share"]
              for _ in range(20)]
    # slightly above 0.5 on average: the sign compared with is the data's own mean
    assert 0.45 < np.mean(shares) < 0.6


def test_direction_counts_ties_and_infers_factors_from_non_float_columns():
    cells = pd.DataFrame({"A": ["x", "y"] * 4, "B": ["p", "p", "q", "q"] * 2, "seed": [0, 0, 0, 0, 1, 1, 1, 1],
                          "y": [0.1, 0.3, 0.2, 0.2, 0.1, 0.5, 0.3, 0.1]})
    out = direction_consistency(cells, factor="A", outcome="y")
    assert (out["n_pairs"], out["ties"], out["agree"], out["disagree"]) == (4, 1, 2, 1)
    assert out["share"] == pytest.approx(2 / 3)


def test_direction_uses_the_levels_asked_for():
    rows = [{"opt": o, "seed": s, "y": {"a": 0, "b": 1, "c": -1}[o]} for s in range(3) for o in "abc"]
    out = direction_consistency(pd.DataFrame(rows), factor="opt", outcome="y", levels=["a", "c"])
    assert (out["level"], out["mean_effect"], out["share"]) == ("c", -1.0, 1.0)
    with pytest.raises(AlignlabError, match="two levels"):
        direction_consistency(pd.DataFrame(rows), factor="opt", outcome="y", levels=["a", "z"])


def test_a_factor_with_one_level_gives_no_row():
    cells = grid(np.random.default_rng(11), n_seeds=3).assign(C="only")
    table = factor_effects(cells, factors=["A", "C"], outcomes="y", n_boot=50)
    assert list(table["factor"]) == ["A"]
