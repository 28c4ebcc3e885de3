import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from alignlab.core.stats import Claim, check_claims, parameter_count

# One claim of each shape the machinery handles (the backdoor instrument states its own list).
MODE = Claim(id="mode", text="distilled persists more", factor="mode", levels=["normal", "distilled"], outcome="final",
             direction=1)
SFT = Claim(id="sft-ends-low", factor="method", levels=["sft"], outcome="final", threshold=0.1, rule="below")
ADV = Claim(id="adversarial-changes-little", factor="method", levels=["adversarial"], outcome="change",
            threshold=-0.1, rule="at_least")
SIZE = Claim(id="larger-is-higher", factor=["size", "model"], order_by="n_params", outcome="final", direction=1)


def modes(effect, n_seeds=8, noise=0.02, seed=0, methods=("sft",)):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_seeds):
        for method in methods:
            for mode in ("normal", "distilled"):
                final = 0.4 + effect * (mode == "distilled") + rng.normal(0, noise)
                rows.append({"mode": mode, "method": method, "seed": s, "final": final, "change": final - 1.0})
    return pd.DataFrame(rows)


def verdict(cells, claim, **kwargs):
    return check_claims(cells, claims=[claim], **kwargs).iloc[0]


def test_a_clear_effect_in_the_claimed_direction_supports():
    row = verdict(modes(0.3), MODE)
    assert row["verdict"] == "supports" and row["lo"] > 0 and row["p"] < 0.05 and row["n"] == 8
    assert row["comparison"] == "mode: distilled − normal" and row["matching"] == "matched"
    assert row["explanation"].startswith("Supports: distilled − normal in final = +0.3")
    assert "over 8 matched pairs from 8 seeds" in row["explanation"]


def test_a_clear_effect_the_other_way_contradicts():
    row = verdict(modes(-0.3), MODE)
    assert row["verdict"] == "contradicts" and row["hi"] < 0


def test_seed_noise_cannot_decide():
    row = verdict(modes(0.0, noise=0.2), MODE)
    assert row["verdict"] == "cannot decide" and row["lo"] <= 0 <= row["hi"]
    assert "covers 0" in row["explanation"]


def test_too_few_seeds_cannot_decide_and_say_so():
    row = verdict(modes(0.3, n_seeds=3), MODE)
    assert row["verdict"] == "cannot decide" and row["p"] == pytest.approx(0.25)
    assert "with 3 seeds the test cannot reach p < 0.05" in row["explanation"]


def test_seeds_are_the_unit_when_they_span_other_conditions():
    cells = modes(0.3, n_seeds=4, methods=("sft", "dpo"))  # 8 pairs, 4 seeds
    by_seed = verdict(cells, MODE, factors=["mode", "method"])
    by_pair = verdict(cells, MODE, factors=["mode", "method"], cluster="stratum")
    assert by_seed["verdict"] == "cannot decide" and "4 seeds" in by_seed["explanation"]
    assert by_pair["verdict"] == "supports" and by_pair["n"] == by_seed["n"] == 8


def test_a_missing_factor_or_level_is_not_tested():
    cells = modes(0.3).drop(columns="mode")
    row = verdict(cells, MODE)
    assert row["verdict"] == "not tested" and "no column 'mode'" in row["explanation"]
    cells = modes(0.3)
    cells["mode"] = cells["mode"].replace({"distilled": "cot"})
    row = verdict(cells, MODE)
    assert row["verdict"] == "not tested" and "mode = distilled" in row["explanation"]


def test_sft_threshold_claim_each_verdict():
    low = pd.DataFrame({"method": "sft", "seed": range(6), "final": [0.0, 0.02, 0.01, 0.03, 0.0, 0.01]})
    high = low.assign(final=low["final"] + 0.6)
    mixed = low.assign(final=[0.0, 0.3, 0.02, 0.25, 0.0, 0.1])
    assert verdict(low, SFT)["verdict"] == "supports"
    assert verdict(high, SFT)["verdict"] == "contradicts"
    row = verdict(mixed, SFT)
    assert row["verdict"] == "cannot decide" and row["lo"] < 0.1 < row["hi"] and "straddles 0.1" in row["explanation"]
    assert np.isnan(row["p"]) and row["n"] == 6


def test_threshold_claims_use_only_cells_at_their_level():
    cells = pd.DataFrame({"method": ["sft", "dpo"] * 4, "seed": [0, 0, 1, 1, 2, 2, 3, 3],
                          "final": [0.0, 0.9, 0.01, 0.8, 0.02, 0.9, 0.0, 0.7]})
    row = verdict(cells, SFT)
    assert row["verdict"] == "supports" and row["n"] == 4 and row["effect"] == pytest.approx(0.0075)
    assert verdict(cells.assign(method="dpo"), SFT)["verdict"] == "not tested"


def test_adversarial_claim_reads_the_change_from_step_zero():
    intact = pd.DataFrame({"method": "adversarial", "seed": range(5), "change": [0.0, -0.02, 0.01, -0.05, 0.0]})
    removed = intact.assign(change=intact["change"] - 0.8)
    assert verdict(intact, ADV)["verdict"] == "supports"
    assert verdict(removed, ADV)["verdict"] == "contradicts"
    assert verdict(intact.iloc[:1], ADV)["verdict"] == "cannot decide"


def test_size_claim_orders_levels_by_a_key_column():
    rows = [{"size": size, "n_params": n, "seed": s, "final": 0.2 + 0.5 * (size == "big") + 0.01 * s}
            for s in range(7) for size, n in (("big", 1.7e9), ("small", 1.35e8))]
    row = verdict(pd.DataFrame(rows), SIZE)
    assert row["comparison"] == "size: big − small" and row["verdict"] == "supports"


def test_size_claim_reads_parameter_counts_from_model_names():
    rows = [{"model": m, "seed": s, "final": v} for s in range(7)
            for m, v in (("bundled:smollm2-135m", 0.3), ("tiny:2x64", 0.9))]
    row = verdict(pd.DataFrame(rows), SIZE)
    assert row["comparison"] == "model: bundled:smollm2-135m − tiny:2x64" and row["verdict"] == "contradicts"


def test_size_claim_is_not_tested_without_an_order_or_a_second_size():
    rows = [{"size": s, "seed": 0, "final": 0.5} for s in ("mini", "maxi")]
    assert "cannot be ordered" in verdict(pd.DataFrame(rows), SIZE)["explanation"]
    rows = [{"size": "tiny:2x64", "seed": s, "final": 0.5} for s in range(3)]
    assert "does not vary size" in verdict(pd.DataFrame(rows), SIZE)["explanation"]


@pytest.mark.parametrize(("level", "count"), [
    ("bundled:smollm2-135m", 135e6), ("hf:Qwen/Qwen2.5-0.5B-Instruct", 0.5e9), ("tiny:2x64", 12 * 2 * 64 * 64),
    (1.5e9, 1.5e9), ("mystery", float("nan")),
])
def test_parameter_counts_from_level_names(level, count):
    assert parameter_count(level) == pytest.approx(count, nan_ok=True)


def test_claims_on_a_study_without_their_factors_are_all_not_tested():
    cells = pd.DataFrame({"optimizer": ["sgd", "adamw"] * 3, "seed": [0, 0, 1, 1, 2, 2], "final": 0.5})
    table = check_claims(cells, claims=[MODE, SFT, ADV, SIZE])
    assert list(table["id"]) == ["mode", "sft-ends-low", "adversarial-changes-little", "larger-is-higher"]
    assert set(table["verdict"]) == {"not tested"}


def test_claims_must_be_given():
    with pytest.raises(TypeError):
        check_claims(pd.DataFrame({"seed": [0], "final": [0.5]}))


def test_a_suffixed_factor_column_matches():
    cells = modes(0.3).rename(columns={"mode": "backdoor.mode"})
    assert verdict(cells, MODE)["comparison"] == "backdoor.mode: distilled − normal"


@pytest.mark.parametrize("fields", [
    {"factor": "mode", "levels": ["a", "b"]},                        # comparison without direction
    {"factor": "mode", "direction": 1},                              # comparison without levels or order
    {"factor": "method", "threshold": 0.1},                          # threshold without levels
    {"levels": ["a", "b"], "direction": 1},                          # no factor
    {"factor": "mode", "levels": ["a", "b"], "direction": 2},        # direction must be ±1
])
def test_incomplete_claims_are_rejected(fields):
    with pytest.raises(ValidationError):
        Claim(**fields)
