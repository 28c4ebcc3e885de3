"""``alignlab scaling fit`` and ``audit`` through typer's CliRunner."""

import json

import pandas as pd
from typer.testing import CliRunner

from alignlab.scaling.cli import app

runner = CliRunner()


def _two_variants(path):
    from alignlab.scaling import synthetic_runs

    from .test_synthetic import FLAT_2X

    base = synthetic_runs(noise=0.005, seed=1, variant="baseline")
    flat = synthetic_runs(FLAT_2X, noise=0.005, seed=2, variant="wide")
    table = pd.concat([base, flat]).rename(columns={"N": "params", "loss": "val_loss"}).drop(columns=["C", "run"])
    table.to_csv(path, index=False)
    return path


def test_fit_json_shape(chinchilla_path):
    result = runner.invoke(app, ["fit", str(chinchilla_path), "--json", "--n-col", "Model Size", "--flops-col",
                                 "Training FLOP", "--drop-highest-loss", "5", "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("E", "A", "B", "alpha", "beta", "a", "b"):
        assert data[key]["low"] < data[key]["estimate"] < data[key]["high"], key
    assert data["objective"] <= 0.0010183 and data["rows"] == 240
    assert abs(data["a"]["estimate"] + data["b"]["estimate"] - 1) < 1e-12
    iso = data["approach2"]  # budgets are clusters of log C; thin ones are listed as refused, not dropped silently
    assert 0.4 < iso["a"] < 0.6 and iso["budgets_refused"] and set(iso["bias"]) >= {"compute_wasted_at_max_budget"}


def test_fit_variants_report_and_decision(tmp_path):
    path = _two_variants(tmp_path / "runs.csv")
    out = tmp_path / "report"
    result = runner.invoke(app, ["fit", str(path), "--json", "--n-col", "params", "--loss-col", "val_loss",
                                 "--bootstrap", "100", "--target-flops", "1e20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["variant"] == "baseline" and set(data["variants"]) == {"baseline", "wide"}
    decision = data["gains"]["wide"]["decision"]
    assert decision["verdict"] == "switch" and 1.8 <= decision["ceg"][0] <= 2.2  # truth: 2 at every budget
    assert all(1.8 <= row["ceg"] <= 2.2 for row in data["gains"]["wide"]["ceg"] if row["C"] <= 3e20)
    assert not decision["scale_dependence"]["flagged"]
    html = (out / "report.html").read_text()
    for anchor in ("law", "isoflop-baseline", "frontier", "ceg", "decision"):
        assert f'id="{anchor}"' in html
    assert "switch to wide" in (out / "summary.md").read_text()


def test_unknown_baseline_and_audit(tmp_path):
    from alignlab.core._errors import AlignlabError

    path = _two_variants(tmp_path / "runs.csv")
    bad = runner.invoke(app, ["fit", str(path), "--n-col", "params", "--loss-col", "val_loss", "--baseline", "nope"])
    assert isinstance(bad.exception, AlignlabError) and "nope" in str(bad.exception)
    audit = runner.invoke(app, ["audit", str(path), "--json", "--n-col", "params", "--loss-col", "val_loss",
                                "--variant", "baseline", "--bootstrap", "50", "--factor", "3"])
    assert audit.exit_code == 0, audit.output
    assert json.loads(audit.stdout)["held_out_rows"] > 0


def test_fit_pools_the_variants_when_each_alone_refuses(tmp_path):
    """On a CPU-study-shaped table each variant's own fit refuses (E on its bound); `fit` then rests the gain on
    the pooled fit and says so in its JSON, and --no-pooled keeps the refusal (one clear error, exit 2)."""
    from alignlab.scaling import FitRefused

    from .test_pooled import BASE, FLAT_2X, _grid

    path = tmp_path / "runs.csv"
    pd.concat([_grid(BASE, "gpt", 1, noise=0.003), _grid(FLAT_2X, "wide", 2, noise=0.003)]).to_csv(path, index=False)
    result = runner.invoke(app, ["fit", str(path), "--json", "--baseline", "gpt", "--bootstrap", "40"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["basis"].startswith("pooled") and data["pooled"]
    refused = runner.invoke(app, ["fit", str(path), "--json", "--baseline", "gpt", "--bootstrap", "0", "--no-pooled"])
    assert isinstance(refused.exception, FitRefused) and refused.exception.reason == "at_bound"  # main(): exit 2
