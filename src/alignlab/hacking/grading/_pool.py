"""The grader's side of the workers: start them, hand out jobs, collect results in order.

Each worker is a separate interpreter (``python -m alignlab.hacking.grading._worker``) started with a scrubbed
environment, so the sandboxes never inherit this process's threads, GPU handles or secrets. A worker
that dies or stops answering is replaced and its job recorded as an instrument failure.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Self

from alignlab.hacking.grading._folders import make_sandbox_dir, remove_sandbox_dir, remove_stale_sandboxes
from alignlab.hacking.grading._wire import MAX_JOB, recv_frame, send_frame

__all__ = ["WorkerPool"]

HELLO_TIMEOUT = 60.0


class _Worker:
    def __init__(self, config: dict):
        self.base_dir, self.lock = make_sandbox_dir()
        config = dict(config, base_dir=self.base_dir)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
        if os.environ.get("ALIGNLAB_SANDBOX_WITHOUT"):  # turns mechanisms off, to test the fallbacks
            env["ALIGNLAB_SANDBOX_WITHOUT"] = os.environ["ALIGNLAB_SANDBOX_WITHOUT"]
        stderr = None if os.environ.get("ALIGNLAB_HACKING_DEBUG") else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [sys.executable, "-m", "alignlab.hacking.grading._worker", json.dumps(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env, start_new_session=True,
        )
        self.in_fd, self.out_fd = self.process.stdin.fileno(), self.process.stdout.fileno()
        try:
            hello = recv_frame(self.out_fd, time.monotonic() + HELLO_TIMEOUT, MAX_JOB)
            isolation = [str(step) for step in hello["isolation"]]
        except Exception as exc:  # noqa: BLE001 — whatever went wrong, this worker is unusable
            self.process.kill()
            self.process.wait()
            remove_sandbox_dir(self.base_dir, self.lock)
            raise RuntimeError(f"a grading worker did not start ({exc!r}); set ALIGNLAB_HACKING_DEBUG=1 to see "
                               "its errors") from None
        self.isolation: list[str] = isolation
        self.job: tuple[int, dict] | None = None
        self.deadline = 0.0

    def close(self) -> None:
        try:
            self.process.stdin.close()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        remove_sandbox_dir(self.base_dir, self.lock)


def _unscored(job: dict, message: str) -> dict:
    suites = [{"passed": None, "outcome": "harness", "units": 0, "failed_unit": None, "line": None,
               "message": message, "calls": 0, "seconds": 0.0, "events": []} for _ in job["suites"]]
    return {"suites": suites, "seconds": 0.0}


class WorkerPool:
    """A fixed number of grading workers; :meth:`run` grades jobs in parallel and yields in input order.

    Example::

        with WorkerPool(workers=2, config={"limits": {...}}) as pool:
            results = list(pool.run(jobs))
    """

    def __init__(self, workers: int, config: dict):
        self.config = config
        remove_stale_sandboxes()
        self.workers = [_Worker(config) for _ in range(max(1, workers))]
        self.isolation = self.workers[0].isolation

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
        self.workers = []

    def _replace(self, worker: _Worker) -> _Worker:
        worker.process.kill()
        worker.close()
        fresh = _Worker(self.config)
        self.workers[self.workers.index(worker)] = fresh
        return fresh

    def run(self, jobs: Iterable[dict], on_done: Callable[[], None] | None = None) -> Iterator[dict]:
        """Grade ``jobs`` (dicts with ``suites``); yields each result, in input order."""
        pending = iter(enumerate(jobs))
        done: dict[int, dict] = {}
        next_out, busy = 0, 0
        selector = selectors.DefaultSelector()
        exhausted = False

        def dispatch(worker: _Worker) -> bool:
            nonlocal exhausted, busy
            if exhausted:
                return False
            try:
                index, job = next(pending)
            except StopIteration:
                exhausted = True
                return False
            job = dict(job, nonce=secrets.token_hex(8))
            budget = sum(float(s.get("timeout", 3.0)) for s in job["suites"]) + 15.0
            worker.job, worker.deadline = (index, job), time.monotonic() + budget
            try:
                send_frame(worker.in_fd, job)
            except OSError:
                done[index] = _unscored(job, "the grading worker died")
                worker.job = None
                return dispatch(self._replace(worker))
            selector.register(worker.out_fd, selectors.EVENT_READ, worker)
            busy += 1
            return True

        for worker in self.workers:
            dispatch(worker)
        try:
            while busy or next_out in done:
                while next_out in done:
                    yield done.pop(next_out)
                    next_out += 1
                if not busy:
                    continue
                soonest = min(w.deadline for w in self.workers if w.job)
                events = selector.select(timeout=max(0.0, soonest - time.monotonic()))
                finished = [key.data for key, _ in events]
                finished += [w for w in self.workers if w.job and time.monotonic() > w.deadline and w not in finished]
                for worker in finished:
                    selector.unregister(worker.out_fd)
                    busy -= 1
                    index, job = worker.job
                    worker.job = None
                    try:
                        reply = recv_frame(worker.out_fd, time.monotonic() + 1.0, MAX_JOB)
                        if reply.get("nonce") != job["nonce"]:
                            raise ValueError("reply for another job")
                        if not isinstance(reply.get("suites"), list) or len(reply["suites"]) != len(job["suites"]):
                            raise ValueError("reply with the wrong number of suites")
                        done[index] = reply
                    # Whatever the worker's reply does (a WireError included), it is this job's recorded
                    # failure: the pool replaces the worker and goes on with the other samples.
                    except Exception as exc:  # noqa: BLE001
                        done[index] = _unscored(job, f"the grading worker failed: {exc!r}")
                        worker = self._replace(worker)
                    if on_done:
                        on_done()
                    dispatch(worker)
        finally:
            selector.close()
