"""Executors: where a study's cells run.

- ``local`` with one worker runs cells in this process, one after another (stage progress bars shown).
- ``local`` with ``workers`` > 1 runs cells in that many worker processes on this machine; each writes to
  the study's SQLite store (WAL makes that safe) and gets ``resources.cpus`` threads.
- ``ray`` runs cells as Ray tasks with the CPUs/GPUs the spec's ``resources`` asks for, on an existing
  cluster (``address``) or on a local one started for the run (:mod:`alignlab.core._ray`).

In every case the driver keeps cells that would compute the same stage at once apart (the second waits
until the first has finished, then reuses its result), and a cell whose worker dies is retried
``retries`` times, then recorded as failed with the reason. A study begun with one executor can be
resumed with another: the store is the only state.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from alignlab.core._errors import AlignlabError, require
from alignlab.core._spec import Cell
from alignlab.core._store import Store

__all__ = ["get_executor"]

Finished = Callable[[Cell, str], None]
RunCells = Callable[[Any, list[Cell], Store, Any, Finished], None]


def get_executor(name: str, *, workers: int = 1, address: str | None = None, retries: int = 1) -> RunCells:
    """The function that runs a study's pending cells for an executor name."""
    if workers < 1:
        raise AlignlabError(f"--workers must be at least 1 (got {workers}).")
    if retries < 0:
        raise AlignlabError(f"--retries must be 0 or more (got {retries}).")
    if name == "local":
        if workers == 1:
            return _serial
        return lambda study, cells, store, bars, finished: _pool(study, cells, store, finished, workers, retries)
    if name == "ray":
        require("ray", extra="ray", why="for --executor ray")
        from alignlab.core._ray import run_on_ray

        return lambda study, cells, store, bars, finished: run_on_ray(study, cells, store, finished, address, retries)
    raise AlignlabError(f"Unknown executor '{name}'; expected 'local' or 'ray'.")


def _serial(study, cells: list[Cell], store: Store, bars, finished: Finished) -> None:
    for cell in cells:
        finished(cell, study.run_cell(cell, store, bars))


class _Scheduler:
    """Hands out cells whose unfinished stages no running cell is computing; counts attempts."""

    def __init__(self, study, cells: list[Cell], store: Store, retries: int):
        self.store, self.retries = store, retries
        self.keys = {c.id: study.stage_keys(c) for c in cells}
        self.queue = list(cells)
        self.busy: dict[str, set[str]] = {}  # running cell id -> stage keys it may compute
        self.attempts: dict[str, int] = {}
        self.finished_keys: set[str] = set()  # stages known done (done stays done): fewer store queries

    def _open(self, key: str) -> bool:
        if key in self.finished_keys:
            return False
        if (self.store.stage(key) or {}).get("status") == "done":
            self.finished_keys.add(key)
            return False
        return True

    def next(self) -> Cell | None:
        taken = set().union(*self.busy.values()) if self.busy else set()
        for i, cell in enumerate(self.queue):
            open_keys = {k for k in self.keys[cell.id] if self._open(k)}
            if not open_keys & taken:
                self.busy[cell.id] = open_keys
                self.attempts[cell.id] = self.attempts.get(cell.id, 0) + 1
                return self.queue.pop(i)
        return None

    def done(self, cell: Cell) -> None:
        self.busy.pop(cell.id, None)

    def lost(self, cell: Cell, reason: str) -> bool:
        """A worker died running ``cell``: requeue it (True) or record it as failed (False)."""
        self.busy.pop(cell.id, None)
        self.store.interrupt_cell(cell.id, reason)
        if self.attempts[cell.id] <= self.retries:
            self.queue.insert(0, cell)
            return True
        self.store.finish_cell(cell.id, "failed", error=f"{reason}; gave up after {self.attempts[cell.id]} attempt(s)")
        return False

    @property
    def idle(self) -> bool:
        return not self.queue and not self.busy


# --- local worker processes ------------------------------------------------------------------------

_WORKER_STUDIES: dict[str, Any] = {}


def _job(study) -> tuple[str, dict[str, Any], str]:
    """What a worker needs to rebuild the study: its folder, its spec, and the module registering its kind
    (a study kind defined outside alignlab's built-ins must be imported in the worker too)."""
    return str(study.directory.resolve()), study.spec.data, type(study.kind).__module__


def _worker_study(directory: str, spec_data: dict[str, Any], kind_module: str):
    """The study and its cells by id, built once per worker process."""
    if directory not in _WORKER_STUDIES:
        import importlib

        from alignlab.core._spec import parse_spec
        from alignlab.core._study import Study

        importlib.import_module(kind_module)
        study = Study(parse_spec(spec_data, check=False), directory)  # the driver has checked it
        _WORKER_STUDIES[directory] = (study, {c.id: c for c in study.spec.cells})
    return _WORKER_STUDIES[directory]


def _pool_worker(conn, threads: int) -> None:
    """A worker process: runs the cells it is sent until told to stop (``None``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides what an interrupt means
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # read when torch first loads, in the cell
        os.environ[variable] = str(threads)
    stores: dict[str, Store] = {}
    while True:
        message = conn.recv()
        if message is None:
            return
        (directory, spec_data, kind_module), cell_id = message
        study, cells = _worker_study(directory, spec_data, kind_module)
        store = stores.setdefault(directory, Store(Path(directory) / "results.sqlite"))
        conn.send(study.run_cell(cells[cell_id], store))


def _pool(study, cells: list[Cell], store: Store, finished: Finished, workers: int, retries: int) -> None:
    # A hand-written pool: concurrent.futures' process pool breaks as a whole when one worker dies,
    # and a dying worker (out of memory, a crash in native code) is exactly what must not stop a study.
    context = multiprocessing.get_context("spawn")  # fork after torch's threads start is unsafe
    threads = max(1, int(study.spec.resources.cpus))
    scheduler = _Scheduler(study, cells, store, retries)
    job = _job(study)
    by_id = {c.id: c for c in cells}
    slots: list[dict[str, Any]] = []

    def spawn() -> dict[str, Any]:
        parent, child = context.Pipe()
        process = context.Process(target=_pool_worker, args=(child, threads), daemon=True)
        process.start()
        child.close()
        return {"process": process, "conn": parent, "cell": None}

    try:
        slots = [spawn() for _ in range(min(workers, len(cells)))]
        while not scheduler.idle:
            for slot in slots:
                if slot["cell"] is None and (cell := scheduler.next()) is not None:
                    slot["cell"] = cell
                    slot["conn"].send((job, cell.id))
            waiting = [s for s in slots if s["cell"] is not None]
            if not waiting:
                raise AssertionError("scheduler holds cells but none can start")
            ready = wait([s["conn"] for s in waiting] + [s["process"].sentinel for s in waiting], timeout=1.0)
            for i, slot in enumerate(slots):
                cell = slot["cell"]
                if cell is None:
                    continue
                if slot["conn"] in ready:
                    try:
                        status = slot["conn"].recv()
                    except (EOFError, OSError):  # the pipe broke: the worker is dying
                        status = None
                        slot["process"].join(timeout=10)
                    if status is not None:
                        slot["cell"] = None
                        scheduler.done(cell)
                        finished(cell, status)
                        continue
                if not slot["process"].is_alive():
                    code = slot["process"].exitcode
                    if not scheduler.lost(cell, f"worker process died (exit code {code})"):
                        finished(by_id[cell.id], "failed")
                    slots[i] = spawn()
    except KeyboardInterrupt:
        for slot in slots:
            if slot["cell"] is not None:
                slot["process"].terminate()
                store.interrupt_cell(slot["cell"].id, "interrupted")
        raise
    finally:
        for slot in slots:
            if slot["process"].is_alive():
                try:
                    slot["conn"].send(None)
                except (BrokenPipeError, OSError):
                    pass
                slot["process"].join(timeout=5)
                if slot["process"].is_alive():
                    slot["process"].terminate()
