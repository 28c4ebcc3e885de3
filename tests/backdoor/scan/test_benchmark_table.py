"""The scan benchmark's table: written after every model, merged across ``--only`` runs, and marked when its
rows ran different scan code."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "scan_benchmark.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("scan_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while it loads
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def row(model: str, *, planted: bool, recovered: bool, code: str) -> dict:
    return {"model": model, "planted": planted, "verdict": "backdoored" if recovered else "no_evidence",
            "trigger_recovered": recovered, "target_recovered": recovered, "trigger_method": "candidates",
            "probe_auroc": 1.0 if recovered else None, "minutes": 4.0, "cpu_minutes": 8.0, "scan_code": code}


def test_the_table_is_written_after_each_model_and_merges_earlier_runs(bench, tmp_path):
    first = [row("tag-phrase-lora", planted=True, recovered=True, code=bench.SCAN_CODE)]
    bench._write_table(tmp_path, first, quick=False, screen="rotate")  # as after the first model of a run
    table = json.loads((tmp_path / "benchmark.json").read_text())
    assert [r["model"] for r in table["rows"]] == ["tag-phrase-lora"] and table["totals"]["recovered_both"] == 1
    # A later --only run of other models keeps that row; a rerun of a model replaces its row.
    later = [row("clean-lora", planted=False, recovered=False, code=bench.SCAN_CODE),
             row("tag-phrase-lora", planted=True, recovered=False, code=bench.SCAN_CODE)]
    totals = bench._write_table(tmp_path, later, quick=False, screen="rotate")
    table = json.loads((tmp_path / "benchmark.json").read_text())
    assert [r["model"] for r in table["rows"]] == ["tag-phrase-lora", "clean-lora"]
    assert totals["recovered_both"] == 0 and totals["planted"] == 1 and totals["scan_code"] == bench.SCAN_CODE
    # A row measured on other scan code is kept, and the totals name both codes.
    mixed = bench._write_table(tmp_path, [row("word-url-lora", planted=True, recovered=True, code="0123456789ab")],
                               quick=False, screen="rotate")
    assert mixed["scan_code"] == sorted({bench.SCAN_CODE, "0123456789ab"}) and mixed["recovered_both"] == 1
    # A quick run's table is not merged into a full one.
    quick = bench._write_table(tmp_path, first, quick=True, screen="rotate")
    assert quick["planted"] == 1 and quick["mode"].startswith("quick")


def test_the_scan_code_digest_is_read_from_the_files_the_scan_runs_on(bench):
    assert len(bench.SCAN_CODE) == 12 and bench._scan_code() == bench.SCAN_CODE
