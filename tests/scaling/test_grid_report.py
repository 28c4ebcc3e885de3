"""The study report's parametric path: when approach 3 fits, the decision, laws, isoFLOP plots and CEG table appear.

The trained CPU grid does not pin approach 3 (see docs/scaling.md), so this feeds the report runs drawn from
known laws (a flat 2× gain) in the shape the ``train`` stage stores them."""

from types import SimpleNamespace

from alignlab.scaling import _study_report as study_report
from alignlab.scaling import synthetic_runs
from alignlab.scaling._study import ScalingConfig

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
    assert "Fitted laws (approach 3)" in text and "CEG(C) of wide over gpt" in text
    html = page.read_text()
    assert html.count("<img") >= 5  # curves, two isoFLOP plots, frontier, CEG band
    for anchor in ("isoflop-gpt", "isoflop-wide", "frontier", "ceg", "law-table"):
        assert f'id="{anchor}"' in html
