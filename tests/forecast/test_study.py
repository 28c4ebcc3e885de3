"""The forecast study kind on the core engine: resume after Ctrl-C (serial, worker processes, Ray), stage
sharing when a grid adds a forecaster, `alignlab studies` and `alignlab report`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from alignlab.core import AlignlabError, Store, Study, parse_spec
from tests._resume import interrupt_after_first_cell

EXAMPLE = Path(__file__).parents[2] / "examples" / "forecast_backtest.yaml"
CLI = [sys.executable, "-m", "alignlab.cli"]


def _spec(tmp_path: Path, **changes) -> Path:
    """The example spec with changes, written to tmp_path/spec.yaml."""
    data = yaml.safe_load(EXAMPLE.read_text()) | changes
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _snapshot(out: Path) -> dict[str, dict]:
    """Every cell's status, attempts and finish time, with its stages' keys and finish times."""
    store = Store(out / "results.sqlite")
    try:
        return {c["cell_id"]: {"status": c["status"], "attempts": c["attempts"], "finished": c["finished"],
                               "stages": {n: (s["stage_key"], s["finished"]) for n, s in store.cell_stages(c["cell_id"]).items()}}
                for c in store.cells()}
    finally:
        store.close()


def _check_resume(tmp_path: Path, *options: str) -> Path:
    # 20 origins: each cell takes a second or more, so the interrupt lands while later cells are unfinished;
    # the baselines first, so the first finished cell comes early.
    data = yaml.safe_load(EXAMPLE.read_text())
    spec = _spec(tmp_path, origins=20, forecaster=data["forecaster"][2:] + data["forecaster"][:2])
    out = tmp_path / "study"
    command = CLI + ["run", str(spec), "--out", str(out), *options]
    assert interrupt_after_first_cell(command, out) != 0
    before = _snapshot(out)
    finished = {c: s for c, s in before.items() if s["status"] == "done"}
    assert 1 <= len(finished) < 4, f"the run should be interrupted midway ({len(finished)} of 4 cells done)"

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = _snapshot(out)
    assert len(after) == 4 and all(s["status"] == "done" for s in after.values())
    for cell, state in finished.items():  # untouched: not restarted, same stages, none recomputed
        assert after[cell] == state and state["attempts"] == 1
    assert (out / "report.html").is_file() and (out / "summary.md").is_file()
    return out


def test_an_interrupted_backtest_resumes_and_studies_and_report_know_it(tmp_path):
    out = _check_resume(tmp_path)
    # one study run serves the CLI checks too: a run costs seconds of imports and data loading
    listed = subprocess.run(CLI + ["studies", str(tmp_path)], capture_output=True, text=True, timeout=120,
                            check=False, env={**os.environ, "COLUMNS": "250"})
    row = next(line for line in listed.stdout.splitlines() if "forecast-backtest" in line)
    assert "forecast" in row.replace("forecast-backtest", "") and "finished" in row
    for name in ("report.html", "summary.md"):
        (out / name).unlink()
    rewritten = subprocess.run(CLI + ["report", str(out)], capture_output=True, text=True, timeout=120, check=False)
    assert rewritten.returncode == 0, rewritten.stderr[-3000:]
    assert "<table" in (out / "report.html").read_text()
    summary = (out / "summary.md").read_text()
    assert "4 of 4 cells done" in summary and "Naive: is the baseline" in summary and "chained-td0:" in summary


@pytest.mark.slow  # about 25 s on an idle 2-core machine, a minute on a busy one: two worker processes start
def test_an_interrupted_backtest_on_two_workers_resumes(tmp_path):
    _check_resume(tmp_path, "--workers", "2")


@pytest.mark.ray
@pytest.mark.slow
def test_an_interrupted_backtest_on_ray_resumes(tmp_path):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    _check_resume(tmp_path, "--executor", "ray")


def _run(spec: Study) -> None:
    assert spec.run(show_progress=False, report=False) == {"done": len(spec.spec.cells)}


def test_adding_a_forecaster_reruns_only_its_backtest(tmp_path):
    base = {"study": "forecast", "name": "grow", "h": 4, "origins": 4, "step": 2, "refit": 26,
            "forecaster": [{"name": "statsforecast", "model": "Naive"},
                           {"name": "statsforecast", "model": "RandomWalkWithDrift"}]}
    out = tmp_path / "study"
    _run(Study(parse_spec(base), out))
    before = _snapshot(out)
    grown = base | {"forecaster": base["forecaster"] + [{"name": "linear", "target": "td0", "alias": "chained"}]}
    _run(Study(parse_spec(grown), out))
    after = _snapshot(out)
    assert {c: after[c] for c in before} == before  # the two old cells and their stages are untouched
    store = Store(out / "results.sqlite")
    stages = [r["name"] for r in store.db.execute("SELECT name FROM stages")]
    store.close()
    assert stages.count("data") == 1 and stages.count("backtest") == 3 and stages.count("evaluate") == 3
    new = (set(after) - set(before)).pop()
    assert after[new]["stages"]["data"] == next(iter(before.values()))["stages"]["data"]  # shared data stage


def test_the_cells_log_their_scores_and_the_report_compares_them_with_naive(tmp_path):
    study = Study(parse_spec({"study": "forecast", "name": "scores", "h": 4, "origins": 6, "step": 2,
                              "forecaster": [{"name": "statsforecast", "model": "Naive"},
                                             {"name": "statsforecast", "model": "RandomWalkWithDrift"}]}),
                  tmp_path / "study")
    _run(study)
    metrics = study.store().metrics_frame()
    evaluated = metrics[metrics["stage"] == "evaluate"]
    assert set(evaluated["name"]) >= {"mae", "crps", "coverage", "pit_ks_p", "ac1", "ac1_p"}
    assert (evaluated[evaluated["name"] == "mae"]["value"] > 0).all() and set(evaluated["step"]) == {4}
    paths = study.kind.report(study)
    summary = (tmp_path / "study" / "summary.md").read_text()
    assert [p.name for p in paths] == ["report.html", "summary.md"]
    assert "RWD: shows no significant improvement over Naive" in summary or "RWD: is significantly" in summary \
        or "RWD: improves on Naive" in summary
    assert "Naive: is the baseline" in summary and "skill_Naive" in summary
    assert "<table" in (tmp_path / "study" / "report.html").read_text()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("forecaster", {"name": "linear", "targett": "td0"}, "targett"),
    ("forecaster", {"name": "prophet"}, "unknown forecaster 'prophet'"),
    ("forecaster", {"name": "statsforecast", "model": "NoSuchModel"}, "NoSuchModel"),
    ("series", "no-such-file.csv", "no-such-file.csv"),
    ("level", 85, "level 85 is not one of levels"),
])
def test_a_bad_spec_names_the_field_before_any_cell_runs(field, value, message):
    with pytest.raises(AlignlabError, match=message):
        parse_spec({"study": "forecast", "name": "bad", field: value})


def test_the_default_levels_are_the_backtests():
    from alignlab.forecast._backtest import DEFAULT_LEVELS
    from alignlab.forecast._study import ForecastConfig

    assert ForecastConfig().levels == tuple(float(v) for v in DEFAULT_LEVELS)


def test_a_data_file_is_addressed_by_its_content(tmp_path):
    from alignlab.forecast import synthetic_random_walk

    path = tmp_path / "walk.csv"
    synthetic_random_walk(n_series=1, n_steps=60, seed=0).to_csv(path, index=False)
    spec = {"study": "forecast", "name": "file", "series": str(path), "weekly": False, "h": 4, "origins": 4,
            "forecaster": {"name": "statsforecast", "model": "Naive"}}
    study = Study(parse_spec(spec), tmp_path / "study")
    _run(study)
    first = study.stage_keys(study.spec.cells[0])
    assert Study(parse_spec(spec), tmp_path / "study").stage_keys(study.spec.cells[0]) == first
    synthetic_random_walk(n_series=1, n_steps=60, seed=1).to_csv(path, index=False)
    changed = Study(parse_spec(spec), tmp_path / "study")
    assert changed.stage_keys(changed.spec.cells[0])[0] != first[0]
