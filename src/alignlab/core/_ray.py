"""The ``ray`` executor: cells as Ray tasks, on an existing cluster or a local one started for the run.

Each cell asks Ray for the CPUs/GPUs of the spec's ``resources``. Results flow back to the one store on the
driver through an actor (:class:`StoreService`; workers see it as a :class:`RemoteStore`); when a worker
cannot see the study folder (another machine without a shared filesystem) stage artifacts travel through
that actor too. The scheduling rules (no two cells computing one stage at once, retries of a dead worker)
are the local pool's, from :mod:`alignlab.core._executors`.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from alignlab.core._executors import Finished, _job, _Scheduler, _worker_study
from alignlab.core._spec import Cell
from alignlab.core._store import Store

__all__ = ["RemoteStore", "StoreService", "run_on_ray"]


def _pack(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buffer.getvalue()


def _unpack(data: bytes, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")


class StoreService:
    """Lives on the driver (as a Ray actor): the one store, and the study's artifact folders."""

    def __init__(self, store_path: str, artifacts: str):
        self.store = Store(store_path)
        self.artifacts = Path(artifacts)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.store, method)(*args, **kwargs)

    def get_artifacts(self, name: str, key: str) -> bytes | None:
        folder = self.artifacts / name / key
        return _pack(folder) if folder.is_dir() else None

    def put_artifacts(self, name: str, key: str, data: bytes) -> None:
        _unpack(data, self.artifacts / name / key)


class RemoteStore:
    """A worker's view of the driver's store (see :class:`~alignlab.core._stage.Recorder`)."""

    def __init__(self, service: Any, shared: bool):
        import ray

        self._ray, self._service, self._shared = ray, service, shared

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._ray.get(self._service.call.remote(method, *args, **kwargs))

    def __getattr__(self, method: str):
        if method.startswith("_"):
            raise AttributeError(method)
        return lambda *args, **kwargs: self._call(method, *args, **kwargs)

    def fetch_artifacts(self, name: str, key: str, folder: Path) -> None:
        if not self._shared and not folder.is_dir():
            data = self._ray.get(self._service.get_artifacts.remote(name, key))
            if data is not None:
                _unpack(data, folder)

    def publish_artifacts(self, name: str, key: str, folder: Path) -> None:
        if not self._shared and folder.is_dir():
            self._ray.get(self._service.put_artifacts.remote(name, key, _pack(folder)))


def _ray_cell(job: tuple[str, dict[str, Any], str], cell_id: str, service: Any, token: str) -> str:
    """A Ray task: one cell. Uses the study folder when this machine sees it, else a local copy."""
    directory = job[0]
    study, cells = _worker_study(*job)
    marker = Path(directory) / ".alignlab-node"
    shared = marker.is_file() and marker.read_text() == token
    root = None if shared else Path(tempfile.gettempdir()) / "alignlab-artifacts" / token
    return study.run_cell(cells[cell_id], RemoteStore(service, shared), artifacts_root=root)


def _ray_init(ray, study, address: str | None) -> bool:
    """Connect to ``address`` or start a local cluster on loopback; returns whether we started it."""
    # Ray 2.60 defaults to token login and phones home; a study's cluster needs neither.
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        return False
    temp = study.directory.resolve() / ".ray"
    if len(str(temp)) > 40:  # Ray's socket paths must fit AF_UNIX's 107 bytes
        temp = Path(tempfile.gettempdir()) / f"alignlab-ray-{hashlib.sha256(str(temp).encode()).hexdigest()[:8]}"
    temp.mkdir(parents=True, exist_ok=True)
    ray.init(num_cpus=os.cpu_count(), _temp_dir=str(temp), include_dashboard=False, _node_ip_address="127.0.0.1",
             logging_level="ERROR", log_to_driver=False)
    return True


def _capacity(ray, resources) -> int:
    """How many cells fit on the cluster at once, by the spec's ``resources``.

    Ray lends a task's CPUs to other tasks while it waits in ``ray.get`` (here, on every store call), so
    submitting every cell at once would let cells that asked for the whole machine run side by side. The
    driver keeps no more cells in flight than the cluster holds; read each round, as clusters grow and shrink.
    """
    total = ray.cluster_resources()
    fits = total.get("CPU", 0.0) / resources.cpus
    if resources.gpus:
        fits = min(fits, total.get("GPU", 0.0) / resources.gpus)
    return max(1, int(fits + 1e-9))  # 0.3 CPUs / 0.1 per cell is 2.999…: three cells


def run_on_ray(study, cells: list[Cell], store: Store, finished: Finished, address: str | None, retries: int) -> None:
    """Run ``cells`` as Ray tasks; ``finished(cell, status)`` as each ends (the executor's contract)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    started = _ray_init(ray, study, address)
    job = _job(study)
    directory = job[0]
    token = hashlib.sha256(os.urandom(16)).hexdigest()[:16]
    (Path(directory) / ".alignlab-node").write_text(token)
    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    service = ray.remote(StoreService).options(scheduling_strategy=here, num_cpus=0).remote(
        str(Path(directory) / "results.sqlite"), str(Path(directory) / "artifacts"))
    resources = study.spec.resources
    task = ray.remote(_ray_cell).options(num_cpus=resources.cpus, num_gpus=resources.gpus, max_retries=0)
    scheduler = _Scheduler(study, cells, store, retries)
    running: dict[Any, Cell] = {}
    try:
        while not scheduler.idle:
            capacity = _capacity(ray, resources)
            while len(running) < capacity and (cell := scheduler.next()) is not None:
                running[task.remote(job, cell.id, service, token)] = cell
            if not running:
                raise AssertionError("scheduler holds cells but none can start")
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in ready:
                cell = running.pop(ref)
                try:
                    status = ray.get(ref)
                except (ray.exceptions.RayError, OSError) as exc:  # the worker died, not the cell's code
                    if not scheduler.lost(cell, f"Ray worker failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"):
                        finished(cell, "failed")
                    continue
                scheduler.done(cell)
                finished(cell, status)
    except KeyboardInterrupt:
        for ref, cell in running.items():
            ray.cancel(ref, force=True)
            store.interrupt_cell(cell.id, "interrupted")
        raise
    finally:
        ray.kill(service)
        if started:
            ray.shutdown()
