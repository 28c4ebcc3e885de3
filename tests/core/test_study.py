"""The study engine: resume, failure isolation and stage sharing, with a fake study kind."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from alignlab.core import Stage, Study, parse_spec, register
from tests._resume import default_sigint


class CountConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    shared: int = 0
    own: int = 0
    fail: bool = False
    log: str = ""
    pause: float = 0.0  # seconds the work stage waits after each logged step


def _record(ctx, what):
    with open(ctx.config.log, "a") as handle:
        handle.write(json.dumps([what, ctx.cell.id]) + "\n")


def prepare(ctx):
    _record(ctx, "prepare")
    ctx.log(0, "value", ctx.config.shared)
    return {"prepared": ctx.config.shared}


def work(ctx):
    _record(ctx, "work")
    if ctx.config.fail:
        raise RuntimeError("this cell is broken")
    for step in range(3):
        ctx.log(step, "score", step * ctx.config.own)
        time.sleep(ctx.config.pause)
    (ctx.directory / "artifact.txt").write_text("x")
    return {"total": ctx.results["prepare"]["prepared"] + ctx.config.own}


@register("study", "count-test")
class CountStudy:
    name = "count-test"
    config_class = CountConfig
    example_spec = ""

    def check(self, spec):
        pass

    def stages(self, config):
        c = config.model_dump()
        return [Stage("prepare", {"shared": c["shared"], "seed": c["seed"]}, prepare),
                Stage("work", {"own": c["own"], "fail": c["fail"]}, work)]

    def report(self, study):
        return []


def _spec(log, **fields):
    return parse_spec({"study": "count-test", "log": str(log), **fields})


def _events(log: Path):
    return [tuple(json.loads(line)) for line in log.read_text().splitlines()] if log.exists() else []


def test_cells_sharing_a_stage_input_compute_it_once(tmp_path):
    log = tmp_path / "log.jsonl"
    study = Study(_spec(log, own=[1, 2, 3]), tmp_path / "study")
    assert study.run(show_progress=False) == {"done": 3}
    events = _events(log)
    assert [e[0] for e in events].count("prepare") == 1
    assert [e[0] for e in events].count("work") == 3
    metrics = study.store().metrics_frame()
    assert set(metrics[metrics["name"] == "value"]["cell_id"]) == {c.id for c in study.spec.cells}


def test_rerunning_skips_finished_cells_and_a_failure_does_not_stop_the_others(tmp_path):
    log = tmp_path / "log.jsonl"
    spec = _spec(log, own=[1, 2], fail=[False, True])
    study = Study(spec, tmp_path / "study")
    assert study.run(show_progress=False) == {"done": 2, "failed": 2}
    cells = study.store().cells()
    assert all("this cell is broken" in c["error"] for c in cells if c["status"] == "failed")
    first = len(_events(log))
    # a re-run redoes only the failed cells' failed stage
    assert Study(spec, tmp_path / "study").run(show_progress=False) == {"done": 2, "failed": 2}
    assert [e[0] for e in _events(log)[first:]] == ["work", "work"]
    assert Study(spec, tmp_path / "study").run(show_progress=False, retry_failed=False) == {"done": 2, "failed": 2}
    assert len(_events(log)) == first + 2


def test_restore_reads_the_spec_from_the_study_folder(tmp_path):
    log = tmp_path / "log.jsonl"
    spec = _spec(log, own=[1, 2])
    spec.text = f"study: count-test\nlog: {log}\nown: [1, 2]\n"
    Study(spec, tmp_path / "study").run(show_progress=False)
    restored = Study.restore(tmp_path / "study")
    assert [c.id for c in restored.spec.cells] == [c.id for c in spec.cells]
    assert restored.run(show_progress=False) == {"done": 2}
    assert len(_events(log)) == 3  # one shared prepare + two works, nothing redone


DRIVER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    import alignlab.core._study as engine
    from tests.core.test_study import CountStudy, _spec  # registers the kind
    from alignlab.core import Study

    original = engine.Study.run_cell
    def slow_run_cell(self, cell, store, bars=None):
        status = original(self, cell, store, bars)
        print("finished", cell.id, flush=True)
        time.sleep(0.3)
        return status
    engine.Study.run_cell = slow_run_cell
    Study(_spec({log!r}, own=list(range(8))), {out!r}).run(show_progress=False, report=False)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_killing_the_driver_midway_loses_no_finished_cell(tmp_path, sig):
    log, out = tmp_path / "log.jsonl", tmp_path / "study"
    code = DRIVER.format(tests=str(Path(__file__).parents[2]), log=str(log), out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ.copy(),
                            preexec_fn=default_sigint)
    finished = []
    for line in proc.stdout:
        finished.append(line.split()[1])
        if len(finished) == 3:
            proc.send_signal(sig)
            break
    proc.wait(timeout=60)
    before = _events(log)
    assert 3 <= sum(e[0] == "work" for e in before) < 8
    spec = _spec(log, own=list(range(8)))
    assert Study(spec, out).run(show_progress=False, report=False) == {"done": 8}
    redone = [e[1] for e in _events(log)[len(before):] if e[0] == "work"]
    assert not set(redone) & set(finished)
    assert len(redone) + len(set(finished)) <= 8 + 1  # at most the cell in progress is redone


def test_worker_processes_run_the_cells_and_share_stages_safely(tmp_path):
    log = tmp_path / "log.jsonl"
    spec = _spec(log, own=[1, 2, 3, 4], shared=[0, 1])
    study = Study(spec, tmp_path / "study")
    assert study.run(workers=2, show_progress=False) == {"done": 8}
    events = _events(log)
    assert [e[0] for e in events].count("prepare") == 2  # never computed twice at once
    assert [e[0] for e in events].count("work") == 8
    # resuming with another executor: nothing left to do
    assert Study(spec, tmp_path / "study").run(show_progress=False) == {"done": 8}
    assert len(_events(log)) == len(events)


class CrashConfig(CountConfig):
    crash_once: str = ""


def crash_work(ctx):
    _record(ctx, "work")
    marker = Path(ctx.config.crash_once)
    if ctx.config.own == 2 and not marker.exists():
        marker.write_text("crashed")
        os._exit(9)  # the worker process dies, as on an out-of-memory kill
    if ctx.config.own == 3:
        os._exit(9)  # dies every time
    return {"total": ctx.config.own}


@register("study", "crash-test")
class CrashStudy(CountStudy):
    name = "crash-test"
    config_class = CrashConfig

    def stages(self, config):
        return [Stage("work", config.model_dump(), crash_work)]


def test_a_dead_worker_is_retried_then_recorded_as_failed(tmp_path):
    log = tmp_path / "log.jsonl"
    spec = parse_spec({"study": "crash-test", "log": str(log), "own": [1, 2, 3], "crash_once": str(tmp_path / "m")})
    study = Study(spec, tmp_path / "study")
    assert study.run(workers=2, retries=1, show_progress=False) == {"done": 2, "failed": 1}
    failed = [c for c in study.store().cells() if c["status"] == "failed"][0]
    assert failed["config"]["own"] == 3
    assert "worker process died (exit code 9)" in failed["error"] and "2 attempt(s)" in failed["error"]
    attempts = {c["config"]["own"]: c["attempts"] for c in study.store().cells()}
    assert attempts == {1: 1, 2: 2, 3: 2}


@pytest.fixture
def ray_env(monkeypatch):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    # Ray workers import the test's study kinds by module name
    root = str(Path(__file__).parents[2])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))


@pytest.mark.ray
def test_ray_executor_runs_cells_on_a_local_cluster_and_records_dead_workers(tmp_path, ray_env):
    log = tmp_path / "log.jsonl"
    spec = parse_spec({"study": "crash-test", "log": str(log), "own": [1, 2, 3, 4], "crash_once": str(tmp_path / "m")})
    study = Study(spec, tmp_path / "study")
    assert study.run(executor="ray", retries=1, show_progress=False) == {"done": 3, "failed": 1}
    failed = [c for c in study.store().cells() if c["status"] == "failed"][0]
    assert failed["config"]["own"] == 3 and "Ray worker failed" in failed["error"]
    # resumed locally: only the failed cell is tried again
    before = len(_events(log))
    assert Study(spec, tmp_path / "study").run(workers=2, retries=0, show_progress=False) == {"done": 3, "failed": 1}
    assert len(_events(log)) == before + 1


@pytest.mark.ray
def test_ray_runs_cells_that_ask_for_the_whole_machine_one_at_a_time(tmp_path, ray_env):
    # Ray lends a task's CPUs away while it waits on the store actor; the driver must not use that to
    # run side by side cells that each asked for every core.
    log = tmp_path / "log.jsonl"
    spec = parse_spec({"study": "count-test", "log": str(log), "own": [1, 2, 3], "pause": 1.0,
                       "resources": {"cpus": os.cpu_count() or 1}})
    study = Study(spec, tmp_path / "study")
    assert study.run(executor="ray", show_progress=False) == {"done": 3}
    spans = sorted((c["started"], c["finished"]) for c in study.store().cells())
    assert len(spans) == 3 and all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:])), spans


@pytest.mark.ray
def test_ray_workers_without_the_study_folder_send_artifacts_through_the_driver(tmp_path, ray_env, monkeypatch):
    import tempfile

    log = tmp_path / "log.jsonl"
    study = Study(_spec(log, own=[1, 2]), tmp_path / "study")
    real_write = Path.write_text

    def hide_marker(path, text, *args, **kwargs):  # as if the workers ran on machines without the folder
        return real_write(path, "not-the-token" if path.name == ".alignlab-node" else text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", hide_marker)
    worker_side = Path(tempfile.gettempdir()) / "alignlab-artifacts"
    before = set(worker_side.glob("*/work/*/artifact.txt"))
    assert study.run(executor="ray", show_progress=False) == {"done": 2}
    monkeypatch.undo()
    assert len(set(worker_side.glob("*/work/*/artifact.txt")) - before) == 2  # written on the worker's side…
    assert len(list((tmp_path / "study" / "artifacts" / "work").glob("*/artifact.txt"))) == 2  # …and sent back


def test_without_ray_the_ray_executor_says_how_to_install_it(monkeypatch):
    from alignlab.core import MissingExtraError
    from alignlab.core._executors import get_executor

    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'alignlab\[ray\]'"):
        get_executor("ray")
