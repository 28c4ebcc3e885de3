"""The study report's parametric paths: approach 3 per variant when it fits, the pooled fit when it refuses.

Runs drawn from known laws (a flat 2× gain) are fed to the report in the shape the ``train`` stage stores them:
a Chinchilla-like grid that approach 3 pins per variant, and a grid shaped like the CPU study's, where each
variant's own fit puts E on its bound (as on the trained grid) and the report must say its gain rests on the
pooled fit."""

from types import SimpleNamespace

from alignlab.scaling import _study_report as study_report
from alignlab.scaling import read_runs, synthetic_runs
from alignlab.scaling._study import ScalingConfig

from .test_pooled import BASE, _grid
from .test_pooled import FLAT_2X as CPU_FLAT_2X
from .test_synthetic import FLAT_2X


def _as_stage_results(frame, variant):
    runs = []
    for i, row in frame.reset_index(drop=True).iterrows():
        point = {"step": 1, "tokens": row["D"], "flops": row["C"] * 1.1, "flops_6nd": row["C"], "lr": 1e-3,
                 "train_loss": row["loss"], "val_loss": row["loss"]}
        runs.append({"cell": f"{variant}-{i}", "config": ScalingConfig(analysis={"bootstrap": 40, "baseline": "gpt"}),
                     "data": {"task": "bytes", "source": "synthetic", "vocab_size": 256, "entropy": None,
                              "train_tokens": 1, "val_tokens": 1},
                     "train": {"variant": variant, "n_layer": 2, "d_model": 64, "N": row["N"], "seconds": 1.0,
                               "curve": [point]}})
    return runs


def test_a_fitted_grid_gets_the_decision_laws_and_plots(tmp_path, monkeypatch):
    runs = (_as_stage_results(synthetic_runs(noise=0.003, seed=1), "gpt")
            + _as_stage_results(synthetic_runs(FLAT_2X, noise=0.003, seed=2), "wide"))
    monkeypatch.setattr(study_report, "collect", lambda study: (runs, len(runs)))
    study = SimpleNamespace(spec=SimpleNamespace(name="synthetic"), directory=tmp_path)
    page, summary = study_report.write_study_report(study)
    text = summary.read_text()
    assert "wide vs gpt: At " in text and "compute" in text and "envelope power laws" not in text
    assert "Fitted laws (approach 3, fitted per variant)" in text and "CEG(C) of wide over gpt" in text
    assert "Approach 3 per variant refused" not in text
    html = page.read_text()
    assert html.count("<img") >= 5  # curves, two isoFLOP plots, frontier, CEG band
    for anchor in ("isoflop-gpt", "isoflop-wide", "frontier", "ceg", "law-table"):
        assert f'id="{anchor}"' in html


def test_a_cpu_shaped_grid_gets_the_pooled_fit_and_says_so(tmp_path, monkeypatch):
    runs = (_as_stage_results(read_runs(_grid(BASE, "gpt", 1, noise=0.003)), "gpt")
            + _as_stage_results(read_runs(_grid(CPU_FLAT_2X, "wide", 2, noise=0.003)), "wide"))
    monkeypatch.setattr(study_report, "collect", lambda study: (runs, len(runs)))
    study = SimpleNamespace(spec=SimpleNamespace(name="synthetic"), directory=tmp_path)
    page, summary = study_report.write_study_report(study)
    text = summary.read_text()
    assert "Approach 3 per variant refused" in text and "rest on the pooled fit with one factor per variant" in text
    assert "wide vs gpt: At " in text and "envelope power laws" not in text
    assert "pooled fit, E, A, B, α, β shared" in text and "E held at larger values" in text
    assert 'id="e-sensitivity"' in page.read_text()
