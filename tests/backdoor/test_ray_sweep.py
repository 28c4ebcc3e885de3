"""Acceptance: a 24-cell tiny-model sweep on a Ray cluster the test starts on loopback; killing the driver
midway and re-running finishes the study without redoing finished cells."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from alignlab.core import Store
from tests._killing import kill_after_cells

pytest.importorskip("ray", reason="the ray extra is not installed")

SWEEP = {
    "study": "backdoor",
    "name": "ray-sweep",
    "seeds": 2,
    "model": ["tiny:1x32", "tiny:2x32", "tiny:2x64"],
    "data": {"n_train": 16, "n_eval": 6, "clean_max_new_tokens": 6},
    "backdoor": {"mode": ["normal", "distilled"]},
    "insertion": {"method": "full", "train": {"steps": 6, "batch_size": 4, "optimizer": {"lr": 0.01}},
                  "gate": {"enforce": False}},
    "safety": {"method": "sft", "checkpoints": 2,
               "train": {"steps": 4, "batch_size": 4, "optimizer": {"name": ["adamw", "sgd"], "lr": 0.01}}},
    "evaluation": {"max_new_tokens": 4, "batch_size": 32},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_cluster():
    """A one-node Ray cluster on loopback, in its own session so that it is torn down with the test."""
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="alr-", dir="/tmp")  # short: Ray's socket paths must fit AF_UNIX
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    ray = str(Path(sys.executable).parent / "ray")
    head = subprocess.Popen(
        [ray, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
         "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    address = f"127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        probe = subprocess.run([ray, "status", f"--address={address}"], env=env, capture_output=True, check=False)
        if probe.returncode == 0:
            break
        time.sleep(2)
    else:
        os.killpg(head.pid, signal.SIGKILL)
        pytest.fail("the Ray head did not come up")
    yield address, env
    os.killpg(head.pid, signal.SIGTERM)
    try:
        head.wait(timeout=5)  # nothing of a test cluster needs a graceful stop; waiting longer only slows CI
    except subprocess.TimeoutExpired:
        os.killpg(head.pid, signal.SIGKILL)
    subprocess.run(["pkill", "-9", "-f", temp], check=False)  # anything of this cluster that is left
    shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.ray
@pytest.mark.slow
def test_a_24_cell_sweep_on_ray_survives_killing_the_driver(tmp_path, ray_cluster):
    address, env = ray_cluster
    spec_path, out = tmp_path / "sweep.yaml", tmp_path / "study"
    spec_path.write_text(yaml.safe_dump(SWEEP))
    command = [sys.executable, "-m", "alignlab.cli", "backdoor", "run", str(spec_path), "--out", str(out),
               "--executor", "ray", "--address", address]
    finished = kill_after_cells(command, out, 4, timeout=900, env=env, poll=1)
    assert 4 <= len(finished) < 24, f"the driver should be killed midway ({len(finished)} cells done)"

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1500, check=False)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    store = Store(out / "results.sqlite")
    cells = {r["cell_id"]: r for r in store.cells()}
    assert len(cells) == 24 and all(r["status"] == "done" for r in cells.values())
    assert all(cells[c]["finished"] == t and cells[c]["attempts"] == 1 for c, t in finished.items())
    # every cell has its persistence curve: step 0 and the two checkpoints
    metrics = store.metrics_frame()
    steps = metrics[(metrics["stage"] == "safety") & (metrics["name"] == "triggered")].groupby("cell_id")["step"].apply(set)
    assert len(steps) == 24 and all(s == {0, 2, 4} for s in steps)
    assert (out / "report.html").exists()
