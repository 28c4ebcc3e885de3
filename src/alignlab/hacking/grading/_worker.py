"""The grading worker: a long-lived judge process (``python -m alignlab.hacking.grading._worker CONFIG``).

It speaks framed JSON on stdin/stdout with the grader (see :mod:`alignlab.hacking.grading._pool`): a ``hello``
naming the isolation in force, then one result per job. At start it gives itself up to a network
namespace without interfaces and a read-only view of the file systems; per job it runs each suite
against a solution process forked *before* the job arrived (see :mod:`alignlab.hacking.grading._sandbox`), and
forks replacements before it reads the next job. A Python-level watchdog (``SIGALRM``) bounds the
judge's own time, so a job can fail but cannot hang the worker.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import time

from alignlab.hacking.grading._isolation import _lib, isolate_worker, probe_ipcns, probe_uid
from alignlab.hacking.grading._judge import run_suite
from alignlab.hacking.grading._sandbox import spawn_slot
from alignlab.hacking.grading._wire import MAX_JOB, WireError, recv_frame, send_frame

__all__ = ["main"]

SLACK = 2.0


class _JobOverrun(BaseException):
    """The judge's watchdog fired: the job as a whole ran past its deadline."""


def _on_alarm(signum, frame):
    raise _JobOverrun()


def _unscored(outcome: str, message: str) -> dict:
    return {"passed": None, "outcome": outcome, "units": 0, "failed_unit": None, "line": None,
            "message": message, "calls": 0, "seconds": 0.0, "events": []}


def run_job(job: dict, slots: list) -> dict:
    """Run every suite of ``job``, each against its own fresh slot (consumed from ``slots``)."""
    started = time.monotonic()
    budget = sum(float(s.get("timeout", 3.0)) for s in job["suites"]) + SLACK
    signal.setitimer(signal.ITIMER_REAL, budget)
    results = []
    try:
        for suite in job["suites"]:
            slot = slots.pop(0)
            try:
                results.append(run_suite(suite, job, slot))
            finally:
                slot.close()
    except _JobOverrun:
        results += [_unscored("timeout", "the judge ran past the job's deadline")] * (len(job["suites"]) - len(results))
    except Exception as exc:  # noqa: BLE001 — an instrument failure is reported, not raised
        results += [_unscored("harness", f"{type(exc).__name__}: {exc}"[:300])] * (len(job["suites"]) - len(results))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return {"op": "result", "nonce": job["nonce"], "suites": results, "seconds": time.monotonic() - started}


def _serve_one(in_fd: int, out_fd: int, slots: list) -> bool:
    """Read, run and answer one job; False at the end of input. Its data dies with this frame."""
    try:
        job = recv_frame(in_fd, limit=MAX_JOB)
    except (EOFError, OSError, WireError):
        return False
    send_frame(out_fd, run_job(job, slots))
    return True


def main() -> None:
    config = json.loads(sys.argv[1])
    limits, warm = config["limits"], int(config.get("slots", 4))
    _lib()  # load libc once, before the first fork
    base_dir = config["base_dir"]  # made (and removed) by the pool: this process may lose write access
    steps = isolate_worker(base_dir) if config.get("isolation", "auto") == "auto" else []
    if "mountns-ro" in steps and probe_uid(base_dir):
        steps.append("uid")
    if "mountns-ro" in steps and probe_ipcns():
        steps.append("ipcns")
    own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY) if "pidns" in steps else None
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a dead solution must not kill the judge
    in_fd, out_fd = sys.stdin.fileno(), sys.stdout.fileno()
    send_frame(out_fd, {"op": "hello", "isolation": steps + ["rlimits", "audit-hook"], "pid": os.getpid()})

    slots: list = []
    try:
        while True:
            gc.collect()  # nothing of the previous job stays reachable in the slots forked next
            while len(slots) < warm:
                slots.append(spawn_slot(base_dir, steps, limits, own_pidns))
            if not _serve_one(in_fd, out_fd, slots):
                break
    finally:
        for slot in slots:
            slot.close()


if __name__ == "__main__":
    main()
