import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from alignlab.cli import app

runner = CliRunner()


def test_sutton_json_shape():
    result = runner.invoke(app, ["forecast", "sutton", "--json", "--sets", "20"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"repeated", "single"}
    for key in ("0.0", "0.1", "0.3", "0.5", "0.7", "0.9", "1.0"):
        assert data["repeated"][key] > 0 and data["single"][key] > 0


def test_collusion_table():
    result = runner.invoke(app, ["forecast", "collusion", "--h", "8"])
    assert result.exit_code == 0 and "colluding" in result.stdout


def test_backtest_command_and_bad_file(tmp_path):
    from alignlab.core import AlignlabError
    from alignlab.forecast import synthetic_random_walk

    path = tmp_path / "s.csv"
    synthetic_random_walk(n_series=1, n_steps=120, seed=0).to_csv(path, index=False)
    cv = tmp_path / "cv.csv"
    result = runner.invoke(app, ["forecast", "backtest", "--data", str(path), "--h", "4", "--origins", "10",
                                 "--step", "2", "--cv-out", str(cv)])
    assert result.exit_code == 0, result.output
    assert "Naive" in result.stdout and cv.exists()
    bad = runner.invoke(app, ["forecast", "backtest", "--data", str(tmp_path / "missing.csv")])
    assert isinstance(bad.exception, AlignlabError)


# A small stock study (12 origins half a year apart, refits every two years): seconds, not minutes.
STOCKS_OPTIONS = {"n_windows": 12, "step_size": 26, "refit": 104}


@pytest.fixture(scope="module")
def stocks_study(tmp_path_factory):
    """The stock prototype run once (through the Python API) for the tests below; (folder, result)."""
    from alignlab.forecast import StocksConfig, run_stocks

    out_dir = tmp_path_factory.mktemp("stocks-root") / "stocks"
    return out_dir, run_stocks(out_dir, StocksConfig(**STOCKS_OPTIONS), progress=False)


def test_stocks_report_small(stocks_study):
    """The stock prototype is a forecast study: its folder is listed, re-reported and resumed like any other."""
    from alignlab.core import Store, Study
    from alignlab.core._studies import list_studies

    out_dir, out = stocks_study
    assert (out_dir / "report.html").exists() and (out_dir / "summary.md").exists()
    html = (out_dir / "report.html").read_text()
    for anchor in ("skill", "coverage", "pit", "revisions", "rewards", "collusion", "anchor", "rationality"):
        assert f'id="{anchor}-1"' in html
    scores = out["scores"].set_index("model")
    assert set(scores.index) == {"chained-td0", "direct-mc", "Naive", "RWD"}
    assert set(out["result"].chains["unique_id"]) == {"sp500", "nasdaq"}  # one data set, pooled
    for line in out["verdicts"]:
        model = line.split("**")[1]
        if model in scores.index and "improves on Naive" in line:
            assert scores.loc[model, "p_Naive"] < 0.05
        if model in scores.index and "are calibrated" in line:
            assert 0.75 <= scores.loc[model, "coverage"] <= 0.85
    assert [row["kind"] for row in list_studies(out_dir.parent)] == ["forecast"]
    store = Store(out_dir / "results.sqlite")
    finished = {c["cell_id"]: c["finished"] for c in store.cells()}
    store.close()
    study = Study.restore(out_dir)
    assert study.spec.kind == "forecast" and study.run(show_progress=False, report=False) == {"done": 4}
    store = Store(out_dir / "results.sqlite")
    assert {c["cell_id"]: c["finished"] for c in store.cells()} == finished  # resumed: nothing recomputed
    store.close()


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")  # Python's json writes NaN and Infinity, which JSON has not


def test_stocks_json_is_the_only_thing_on_stdout(stocks_study):
    """`forecast stocks --json` on the study above (it resumes: every cell is done) prints one strict JSON
    document on stdout, {"verdicts": [...], "scores": [{model, mae, ...}]}, and its notes on stderr; without
    --json the verdicts are on stdout and the progress bars on stderr."""
    out_dir, out = stocks_study
    options = ["--out", str(out_dir), "--origins", "12", "--step", "26", "--refit", "104"]
    command = [sys.executable, "-m", "alignlab.cli", "forecast", "stocks", *options]
    env = {**os.environ, "ALIGNLAB_PROGRESS": "1", "COLUMNS": "200"}  # bars even without a terminal
    run = subprocess.run([*command, "--json"], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    data = json.loads(run.stdout, parse_constant=_no_constant)
    assert set(data) == {"verdicts", "scores"}
    scores = {row["model"]: row for row in data["scores"]}
    assert set(scores) == {"chained-td0", "direct-mc", "Naive", "RWD"}
    for model, row in scores.items():  # the same numbers as the Python API's table
        expected = out["scores"].set_index("model").loc[model]
        assert row["mae"] == pytest.approx(expected["mae"]) and row["mae"] > 0
        assert row["coverage"] is None or 0 <= row["coverage"] <= 1
    assert [line.split(":")[0] for line in data["verdicts"]] == [line.split(":")[0].replace("**", "") for line in out["verdicts"]]
    assert not any("**" in line for line in data["verdicts"])
    assert "4 cells (4 already finished)" in run.stderr  # resumed, nothing recomputed, said on stderr

    plain = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert plain.returncode == 0, plain.stderr[-3000:]
    verdicts = " ".join("• " + line.replace("**", "") for line in out["verdicts"])
    assert plain.stdout.split() == verdicts.split()  # the verdicts (wrapped to the width), nothing else
    assert "cells" in plain.stderr and "Wrote" in plain.stderr and "━" in plain.stderr  # the bars: stderr


def test_data_writes_the_file_and_keeps_notes_off_stdout(tmp_path, capsys):
    import pandas as pd
    import pytest

    from alignlab.cli import main

    out = tmp_path / "deep" / "sp500.csv"
    with pytest.raises(SystemExit) as exit_info:
        main(["forecast", "data", "sp500", "--out", str(out)])
    stdout, stderr = capsys.readouterr()
    assert exit_info.value.code == 0 and stdout == "" and "Wrote" in stderr
    assert list(pd.read_csv(out).columns) == ["unique_id", "ds", "y"]
