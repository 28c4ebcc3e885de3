"""From a real results store to the frames the statistics take."""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from alignlab.core import Store
from alignlab.core.stats import Claim, cell_outcomes, check_claims, curve_bands, factor_effects, with_factors

OUTCOMES = {"metric": "triggered", "stage": "safety"}


class Safety(BaseModel):
    method: str = "sft"


class Config(BaseModel):
    seed: int = 0
    mode: str = "normal"
    safety: Safety = Safety()


@dataclass
class FakeCell:
    id: str
    config: BaseModel
    factors: dict[str, Any]

    @property
    def seed(self) -> int:
        return self.config.seed


@pytest.fixture
def store(tmp_path):
    """2 modes × 2 optimizers (one given as a dict level, labelled 'name' like a nested field) × 3 seeds; the
    triggered rate falls faster for 'normal'; one cell never ran."""
    store = Store(tmp_path / "results.sqlite")
    cells = []
    for seed in range(3):
        for mode in ("normal", "distilled"):
            for opt in ({"name": "sgd", "lr": 0.05}, {"name": "adamw"}):
                cid = f"{mode}-{opt['name']}-{seed}"
                cells.append(FakeCell(cid, Config(seed=seed, mode=mode), {"mode": mode, "name": opt, "seed": seed}))
    store.sync_cells(cells)
    for cell in cells[:-1]:
        store.link_stage(cell.id, "safety", f"key-{cell.id}")
        slope = 0.04 if cell.factors["mode"] == "normal" else 0.01
        for step in (0, 10, 20):
            store.log_metric(f"key-{cell.id}", step, "triggered", max(0.0, 1.0 - slope * step), 0.9, 1.0)
            store.log_metric(f"key-{cell.id}", step, "clean_loss", 2.0, None, None)
    yield store
    store.close()


def test_with_factors_joins_levels_and_renames_clashing_factor_names(store):
    frame = with_factors(store.metrics_frame(), store.cells())
    assert {"mode", "name_factor", "seed"} <= set(frame.columns) and frame.attrs["factors"] == ["mode", "name_factor"]
    assert set(frame["name"]) == {"triggered", "clean_loss"}
    bands = curve_bands(frame[frame["name"] == "triggered"], by=["mode", "name_factor"], n_boot=100)
    assert set(bands["name_factor"]) == {"sgd lr=0.05", "adamw"} and len(bands) == 12


def test_cell_outcomes_gives_one_row_per_cell_including_cells_without_metrics(store):
    cells = cell_outcomes(store.metrics_frame(), store.cells(), columns={"method": "safety.method"}, **OUTCOMES)
    assert len(cells) == 12 and cells["n_points"].tolist() == [3] * 11 + [0]
    assert np.isnan(cells["final"].iloc[-1]) and set(cells["method"]) == {"sft"}
    normal = cells[cells["mode"] == "normal"].iloc[0]
    assert normal["final"] == pytest.approx(0.2) and normal["steps_to_below"] == 20.0


def test_the_cell_frame_feeds_effects_and_claims(store):
    cells = cell_outcomes(store.metrics_frame(), store.cells(), columns={"method": "safety.method"}, **OUTCOMES)
    effects = factor_effects(cells, factors=cells.attrs["factors"], outcomes=["final", "auc"], n_boot=200)
    mode = effects[(effects["factor"] == "mode") & (effects["outcome"] == "final")].iloc[0]
    assert mode["effect"] == pytest.approx(0.6) and mode["matched"] and mode["n_pairs"] == 5
    claims = check_claims(cells, claims=CLAIMS).set_index("id")
    assert claims.loc["distilled", "n"] == 5  # matched on the optimizer and the seed
    assert claims.loc["distilled", "verdict"] == "cannot decide"  # 3 seeds: p ≥ 0.25
    assert claims.loc["sft", "verdict"] == "contradicts"
    assert claims.loc["size", "verdict"] == "not tested"


def test_cell_outcomes_summarises_the_metric_and_stage_it_is_given(store):
    loss = cell_outcomes(store.metrics_frame(), store.cells(), metric="clean_loss", stage="safety")
    assert loss["final"].dropna().tolist() == [2.0] * 11
    other = cell_outcomes(store.metrics_frame(), store.cells(), metric="triggered", stage="insert")
    assert other["n_points"].tolist() == [0] * 12


CLAIMS = [
    Claim(id="distilled", factor="mode", levels=["normal", "distilled"], outcome="final", direction=1),
    Claim(id="sft", factor="method", levels=["sft"], outcome="final", threshold=0.1, rule="below"),
    Claim(id="size", factor=["size", "model"], order_by="n_params", outcome="final", direction=1),
]
