"""One engine for every instrument (issue 9's acceptance): a study of each kind the examples show — backdoor,
forecast, hacking — run by `alignlab run` on tiny settings; `alignlab studies` lists all of them, and
`alignlab report DIR` rewrites each one's report.html and summary.md from its store alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from alignlab.cli import main
from alignlab.core import Store
from tests._resume import interrupt_after_first_cell

EXAMPLES = Path(__file__).parents[1] / "examples"

# The cheapest study of each kind: one cell each (a 2-layer random model trained for a few steps, one
# baseline on a short backtest, one grading of the scan example's ten samples).
SPECS = {
    "backdoor": {
        "study": "backdoor", "name": "kind-backdoor", "model": "tiny:2x64",
        "data": {"n_train": 8, "n_eval": 4, "clean_max_new_tokens": 4},
        "insertion": {"method": "full", "train": {"steps": 2, "batch_size": 4}, "gate": {"enforce": False}},
        "safety": {"method": "sft", "train": {"steps": 2, "batch_size": 4}, "checkpoints": 1},
        "evaluation": {"max_new_tokens": 4, "scratchpad_tokens": 8, "batch_size": 16},
    },
    "forecast": {"study": "forecast", "name": "kind-forecast", "h": 4, "origins": 4, "step": 2,
                 "forecaster": {"name": "statsforecast", "model": "Naive"}},
    "hacking-scan": yaml.safe_load((EXAMPLES / "hacking_scan.yaml").read_text()) | {"name": "kind-hacking"},
}
SPECS["hacking-scan"]["samples"] = str(EXAMPLES / "hacking_scan_samples.jsonl")
SPECS["hacking-scan"]["grader"] = SPECS["hacking-scan"]["grader"] | {"naive": False}


def _cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    return exit_.value.code or 0


@pytest.mark.slow  # three real studies, one cell each: about 30 s on an idle 2-core machine (the backdoor cell)
def test_studies_lists_every_kind_and_report_rewrites_each(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # rich tables must not wrap the rows the test reads
    folders = {}
    for kind, data in SPECS.items():
        spec = tmp_path / f"{kind}.yaml"
        spec.write_text(yaml.safe_dump(data, sort_keys=False))
        folders[kind] = tmp_path / "studies" / data["name"]
        assert _cli("run", str(spec), "--out", str(folders[kind])) == 0, capsys.readouterr().err[-3000:]
    capsys.readouterr()

    assert _cli("studies", str(tmp_path / "studies")) == 0
    table = [[cell.strip() for cell in line.split("│")[1:-1]] for line in capsys.readouterr().out.splitlines()]
    rows = {row[0]: row for row in table if row and row[0].startswith("kind-")}  # study, kind, state, ...
    assert set(rows) == {data["name"] for data in SPECS.values()}, table
    for kind, data in SPECS.items():
        assert rows[data["name"]][1:3] == [kind, "finished"], rows[data["name"]]

    for kind, folder in folders.items():
        for name in ("report.html", "summary.md"):
            (folder / name).unlink()  # written by the run; `report` must write them again from the store
        assert _cli("report", str(folder)) == 0, capsys.readouterr().err[-3000:]
        assert (folder / "report.html").stat().st_size > 0 and "<table" in (folder / "report.html").read_text()
        assert SPECS[kind]["name"] in (folder / "summary.md").read_text(), kind


@pytest.mark.slow  # four tiny backdoor cells on two workers (each imports torch): about 40 s on an idle 2-core machine
def test_a_backdoor_study_on_two_workers_resumes_after_sigint(tmp_path):
    """The backdoor kind through `alignlab run --workers 2`, Ctrl-C after its first finished cell: the rerun
    finishes the study without redoing any cell finished before the interrupt (the forecast and hacking
    kinds have the same test in their own folders)."""
    spec, out = tmp_path / "spec.yaml", tmp_path / "study"
    spec.write_text(yaml.safe_dump(SPECS["backdoor"] | {"seeds": 4}, sort_keys=False))
    command = [sys.executable, "-m", "alignlab.cli", "run", str(spec), "--out", str(out), "--workers", "2"]
    assert interrupt_after_first_cell(command, out) != 0

    def cells() -> dict[str, dict]:
        store = Store(out / "results.sqlite")
        try:
            return {c["cell_id"]: c for c in store.cells()}
        finally:
            store.close()

    finished = {c: row["finished"] for c, row in cells().items() if row["status"] == "done"}
    assert 1 <= len(finished) < 4, f"the run should be interrupted midway ({len(finished)} of 4 cells done)"
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = cells()
    assert len(after) == 4 and all(row["status"] == "done" for row in after.values())
    assert all(after[c]["finished"] == t and after[c]["attempts"] == 1 for c, t in finished.items())
