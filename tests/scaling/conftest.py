"""Shared fixtures: Epoch AI's extraction of Chinchilla's runs, and small synthetic isoFLOP grids."""

from __future__ import annotations

from pathlib import Path

import pytest

CHINCHILLA = Path(__file__).resolve().parents[3] / "shared" / "data" / "chinchilla_svg_extracted.csv"


@pytest.fixture(scope="session")
def chinchilla_path() -> Path:
    if not CHINCHILLA.exists():
        pytest.skip(f"Epoch AI's Chinchilla extraction is not at {CHINCHILLA}")
    return CHINCHILLA


@pytest.fixture(scope="session")
def chinchilla(chinchilla_path):
    from alignlab.scaling import read_runs

    return read_runs(chinchilla_path, n_col="Model Size", flops_col="Training FLOP", drop_highest_loss=5)
