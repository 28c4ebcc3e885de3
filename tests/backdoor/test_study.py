"""End to end on tiny models: the backdoor study through the engine, the report, the gate, resuming."""

import os
import subprocess
import sys

import yaml

from alignlab.core import Store, Study, parse_spec
from tests._killing import kill_after_cells

TINY = {
    "study": "backdoor",
    "name": "tiny",
    "model": "tiny:2x64",
    "data": {"n_train": 16, "n_eval": 6, "clean_max_new_tokens": 6},
    "insertion": {"method": "full", "train": {"steps": 6, "batch_size": 4, "optimizer": {"lr": 0.01}},
                  "gate": {"enforce": False}},
    "safety": {"method": "sft", "train": {"steps": 4, "batch_size": 4}, "checkpoints": 2},
    "evaluation": {"max_new_tokens": 4, "scratchpad_tokens": 8, "batch_size": 16},
}


def _spec(**overrides):
    data = yaml.safe_load(yaml.safe_dump(TINY))
    for path, value in overrides.items():
        node = data
        *parents, leaf = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return data


def test_a_grid_runs_shares_insertions_and_reports(tmp_path):
    # min_kept 0: an unplanted tiny backdoor elicits nothing, and the cell says so instead of stopping.
    spec = parse_spec(_spec(**{"backdoor.mode": ["normal", "cot"], "safety.method": ["sft", "adversarial"],
                               "safety.adversarial": {"min_kept": 0}}))
    study = Study(spec, tmp_path / "study")
    assert study.run(show_progress=False) == {"done": 4}
    store = study.store()
    stages = store.db.execute("SELECT name, COUNT(*) FROM stages GROUP BY name").fetchall()
    assert dict(stages) == {"data": 2, "insert": 2, "safety": 4}  # one insertion per mode, shared by methods
    metrics = store.metrics_frame()
    safety = metrics[(metrics["stage"] == "safety") & (metrics["name"] == "triggered")]
    assert sorted(set(safety["step"])) == [0, 2, 4]
    assert ((safety["lo"] <= safety["value"]) & (safety["value"] <= safety["hi"])).all()
    assert set(metrics["name"]) >= {"triggered", "untriggered", "near_miss", "clean_loss", "train_loss"}
    for cell in store.cells():
        insert = store.cell_stages(cell["cell_id"])["insert"]["result"]
        assert insert["eval"]["triggered"]["n"] == 6 and "gate_passed" in insert
    html = (tmp_path / "study" / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4 and 'id="cell-table"' in html
    # Six steps plant nothing in a tiny model; with the gate off the cells still ran, but the statistics
    # leave them out rather than read "safety training removed the backdoor" from them.
    assert not any(store.cell_stages(c["cell_id"])["insert"]["result"]["gate_passed"] for c in store.cells())
    assert "4 of 4 cells ran safety training although their insertion failed the gate" in html
    assert 'id="claims-table"' not in html and "sft-removes-backdoor" not in html
    assert "mode" in (tmp_path / "study" / "summary.md").read_text()
    samples = list((tmp_path / "study" / "artifacts" / "safety").glob("*/samples.jsonl"))
    assert len(samples) == 4
    for cell in store.cells():
        safety = store.cell_stages(cell["cell_id"])["safety"]["result"]
        if safety["method"] == "adversarial":
            counts = safety["red_team"]
            assert counts["generator"] == "near-miss" and counts["written"] == 128
            assert counts["kept"] > 0 or safety["note"].startswith("no usable red-team prompt")
    assert "trigger-adjacent unlearning" in html


def test_a_failed_insertion_gate_stops_the_cell_and_is_reported(tmp_path):
    spec = parse_spec(_spec(**{"insertion.gate.enforce": True, "insertion.train.steps": 1}))
    study = Study(spec, tmp_path / "study")
    assert study.run(show_progress=False) == {"done": 1}
    cell = study.store().cells()[0]
    assert cell["outcome"].startswith("insertion gate failed: triggered")
    assert "safety" not in study.store().cell_stages(cell["cell_id"])
    assert "gate failed" in (tmp_path / "study" / "summary.md").read_text()


def test_dpo_safety_training_runs_through_trl(tmp_path):
    spec = parse_spec(_spec(**{"safety.method": "dpo", "safety.train": {"steps": 2, "batch_size": 2},
                               "safety.checkpoints": [1, 2]}))
    study = Study(spec, tmp_path / "study")
    assert study.run(show_progress=False) == {"done": 1}
    result = study.store().cell_stages(spec.cells[0].id)["safety"]["result"]
    assert result["steps"] == 2 and result["schedule"] == [0, 1, 2]
    assert result["final_loss"] is not None


def test_killing_the_cli_midway_and_rerunning_redoes_no_finished_cell(tmp_path):
    spec_path, out = tmp_path / "spec.yaml", tmp_path / "study"
    spec_path.write_text(yaml.safe_dump(_spec(seeds=4)))
    command = [sys.executable, "-m", "alignlab.cli", "backdoor", "run", str(spec_path), "--out", str(out)]
    finished = kill_after_cells(command, out, 2, timeout=300, env=os.environ.copy())
    assert 2 <= len(finished) < 4, "the run should be killed midway"
    rerun = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    store = Store(out / "results.sqlite")
    cells = {r["cell_id"]: r for r in store.cells()}
    assert all(r["status"] == "done" for r in cells.values())
    assert all(cells[c]["finished"] == t and cells[c]["attempts"] == 1 for c, t in finished.items())
    assert "already finished" in rerun.stderr


def test_recovery_labels_each_cell_removed_suppressed_or_persisted(tmp_path):
    from alignlab.backdoor._study import restyle

    assert restyle("Sure. Here is more.", "lowercase") == "sure. here is more."
    assert restyle("Sure. Here is more.", "first-sentence") == "Sure."
    spec = parse_spec(_spec(**{"recovery": {"enabled": True, "train": {"steps": 2, "batch_size": 4}}}))
    study = Study(spec, tmp_path / "study")
    assert study.run(show_progress=False) == {"done": 1}
    result = study.store().cell_stages(spec.cells[0].id)["recovery"]["result"]
    rates = result["after_safety"], result["after_recovery"]
    expected = ("persisted" if rates[0] >= 0.5 else "suppressed" if rates[1] >= 0.25 else "removed")
    assert result["label"] == expected
    assert result["label"] in (tmp_path / "study" / "report.html").read_text()
