"""The ``scaling`` study kind on the core engine: a tiny grid resumes after Ctrl-C without redoing finished
runs, the report fits the runs and decides, and bad specs get one clear error naming the field."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from alignlab.core import AlignlabError, Store, Study, parse_spec
from tests._resume import interrupt_after_first_cell

CLI = [sys.executable, "-m", "alignlab.cli"]
EXAMPLES = Path(__file__).parents[2] / "examples"

TINY = {
    "study": "scaling", "name": "tiny-grid", "seeds": 1,
    "task": {"name": "markov", "vocab": 12, "order": 1, "branching": 2, "tokens": 40_000},
    "variant": "gpt",
    "size": [{"n_layer": 1, "d_model": 16}, {"n_layer": 1, "d_model": 32}],
    "tokens": [4096, 8192],
    "train": {"batch_size": 8, "ctx": 16, "checkpoints": 2, "eval_tokens": 1024},
    "analysis": {"bootstrap": 20},
}


def _snapshot(out: Path) -> dict[str, tuple]:
    store = Store(out / "results.sqlite")
    try:
        return {c["cell_id"]: (c["status"], c["attempts"], c["finished"],
                               tuple((n, s["stage_key"], s["finished"]) for n, s in store.cell_stages(c["cell_id"]).items()))
                for c in store.cells()}
    finally:
        store.close()


def test_an_interrupted_grid_resumes_without_redoing_finished_runs(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(TINY, sort_keys=False))
    out = tmp_path / "study"
    command = CLI + ["scaling", "run", str(spec), "--out", str(out)]
    assert interrupt_after_first_cell(command, out) != 0
    finished = {c: s for c, s in _snapshot(out).items() if s[0] == "done"}
    assert 1 <= len(finished) < 4, f"the run should stop midway ({len(finished)} of 4 runs done)"
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = _snapshot(out)
    assert len(after) == 4 and all(s[0] == "done" for s in after.values())
    for cell, state in finished.items():  # untouched: not restarted, same stages, none recomputed
        assert after[cell] == state and state[1] == 1
    keys = {dict((n, k) for n, k, _ in s[3])["data"] for s in after.values()}
    assert len(keys) == 1  # every run shares the one data stage
    summary = (out / "summary.md").read_text()
    assert "4 of 4 training runs done" in summary and "too_few_runs" in summary  # 4 runs cannot pin 5 parameters
    assert "6·N + 6·n_layer·ctx·d_model" in summary and "(64 / d_model)^0.5" in summary.replace("(32 / d_model)", "(64 / d_model)")


@pytest.mark.slow  # 24 tiny runs in one process: about 30 s on an idle 2-core machine
def test_the_report_fits_each_variant_and_weighs_the_gain_against_the_seed_noise(tmp_path):
    spec = TINY | {"name": "fit-grid", "seeds": 2, "variant": ["gpt", "rotary"],
                   "task": {"name": "markov", "vocab": 24, "order": 2, "branching": 3, "tokens": 60_000},
                   "size": [{"n_layer": 1, "d_model": 16}, {"n_layer": 1, "d_model": 32}, {"n_layer": 2, "d_model": 48}],
                   "tokens": [2048, 8192], "analysis": {"bootstrap": 30}}
    study = Study(parse_spec(spec), tmp_path / "study")
    assert study.run(show_progress=False) == {"done": 24}
    summary = (tmp_path / "study" / "summary.md").read_text()
    assert "24 of 24 training runs done" in summary
    # two budgets cannot pin approach 3, so the report falls back on envelope power laws above the known E
    assert "rotary vs gpt:" in summary and ("Recommendation" in summary or "the task's known entropy rate" in summary)
    assert "seed sd of loss" in summary and "not measured" not in summary  # two seeds: the floor is measured
    assert "entropy rate, the irreducible loss E" in summary
    html = (tmp_path / "study" / "report.html").read_text()
    assert html.count("<img") >= 2 and 'id="curves"' in html


BAD = [
    ({"variant": ["gpt", "rotory"]}, "variant.name.*unknown variant 'rotory'"),
    ({"task": {"name": "byts"}}, "task.name.*unknown task 'byts'"),
    ({"colour": "red"}, "'colour' is not a known field"),
    ({"train": {"ctxx": 8}}, "'train.ctxx' is not a known field.*did you mean 'ctx'"),
    ({"size": {"n_layer": 2, "d_model": 30}}, "size.d_model.*not a multiple"),
    ({"size": {"n_layer": 0, "d_model": 32}}, "size.n_layer"),
    ({"size": 50}, "size.params.*greater than or equal to 1000"),
    ({"size": {"n_layer": 2}}, "field 'size': give 'n_layer' and 'd_model'"),
    ({"tokens": 0}, "field 'tokens'"),
    ({"variant": {"name": "gpt", "activaton": "swiglu"}}, "'activaton' is not an option.*did you mean 'activation'"),
    ({"task": {"name": "bytes", "path": "/no/such/corpus.txt"}}, "task.path"),
    ({"analysis": {"baseline": "gtp"}}, "analysis.baseline.*'gtp' is not one of the variants"),
]


@pytest.mark.parametrize(("change", "message"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_a_bad_spec_names_the_field(change, message):
    with pytest.raises(AlignlabError, match=message):
        parse_spec(TINY | change)


def test_the_cli_exits_2_on_a_bad_spec_and_init_writes_a_valid_one(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(TINY | {"variant": "rotory"}))
    result = subprocess.run(CLI + ["scaling", "run", str(bad), "--out", str(tmp_path / "x")], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 2 and "unknown variant 'rotory'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()
    from typer.testing import CliRunner

    from alignlab.scaling.cli import app

    written = tmp_path / "init.yaml"
    assert CliRunner().invoke(app, ["init", str(written)]).exit_code == 0
    assert len(parse_spec(yaml.safe_load(written.read_text())).cells) == 24
    for example in ("scaling_cpu.yaml", "scaling_gpu.yaml"):
        if (EXAMPLES / example).exists():
            assert parse_spec(yaml.safe_load((EXAMPLES / example).read_text())).cells
