"""The grading worker: a long-lived judge process (``python -m alignlab.hacking.grading._worker CONFIG``).

It speaks framed JSON on stdin/stdout with the grader (see :mod:`alignlab.hacking.grading._pool`): a ``hello``
naming the isolation in force, then one result per job. At start it gives itself up to a network
namespace without interfaces and a read-only view of the file systems, and finds, with one trial slot
per step, the strongest sandbox this machine allows (:func:`prepare`); per job it runs each suite
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

from alignlab.hacking.grading import _seccomp
from alignlab.hacking.grading._cgroup import open_parent
from alignlab.hacking.grading._isolation import _lib, isolate_worker, probe_ipcns, probe_uid
from alignlab.hacking.grading._judge import run_suite
from alignlab.hacking.grading._root import build_root
from alignlab.hacking.grading._sandbox import Sandbox, spawn_slot
from alignlab.hacking.grading._wire import MAX_JOB, WireError, recv_frame, send_frame

__all__ = ["main"]

SLACK = 2.0
PROBE_TIMEOUT = 10.0


class _JobOverrun(BaseException):
    """The judge's watchdog fired: the job as a whole ran past its deadline."""


def _on_alarm(signum, frame):
    raise _JobOverrun()


def _unscored(outcome: str, message: str) -> dict:
    return {"passed": None, "outcome": outcome, "units": 0, "failed_unit": None, "line": None,
            "message": message, "calls": 0, "seconds": 0.0, "events": []}


def _memory_verdict(result: dict, slot) -> dict:
    """A suite whose sandbox hit its cgroup memory limit failed on memory, whatever it returned."""
    kills = slot.group.oom_kills() if slot.group is not None else 0
    if not kills:
        return result
    limit = slot.group.limit_mb()
    return dict(result, passed=False, outcome="memory-limit",
                message=f"the sandbox's memory cgroup (a {limit} MB limit for all its processes together) killed "
                        f"{kills} of its processes; peak use {slot.group.peak_mb():.0f} MB")


def run_job(job: dict, slots: list) -> dict:
    """Run every suite of ``job``, each against its own fresh slot (consumed from ``slots``).

    Each slot is killed as soon as its suite ends but reaped (and its cgroups removed) only after the
    last suite: the kernel tears its namespaces down while the next suites run. Every process of the
    job is gone before its result is sent.
    """
    started = time.monotonic()
    budget = sum(float(s.get("timeout", 3.0)) for s in job["suites"]) + SLACK
    signal.setitimer(signal.ITIMER_REAL, budget)
    results, used = [], []
    try:
        for suite in job["suites"]:
            slot = slots.pop(0)
            used.append(slot)
            try:
                results.append(_memory_verdict(run_suite(suite, job, slot), slot))
            finally:
                slot.kill()
    except _JobOverrun:
        results += [_unscored("timeout", "the judge ran past the job's deadline")] * (len(job["suites"]) - len(results))
    except Exception as exc:  # noqa: BLE001 — an instrument failure is reported, not raised
        results += [_unscored("harness", f"{type(exc).__name__}: {exc}"[:300])] * (len(job["suites"]) - len(results))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for slot in used:
            slot.close()
    return {"op": "result", "nonce": job["nonce"], "suites": results, "seconds": time.monotonic() - started}


def _serve_one(in_fd: int, out_fd: int, slots: list) -> bool:
    """Read, run and answer one job; False at the end of input. Its data dies with this frame."""
    try:
        job = recv_frame(in_fd, limit=MAX_JOB)
    except (EOFError, OSError, WireError):
        return False
    send_frame(out_fd, run_job(job, slots))
    return True


def _reaches_ready(box: Sandbox) -> bool:
    """Whether a slot set up with ``box`` gets as far as reporting ready (an end-to-end probe)."""
    try:
        slot = spawn_slot(box)
    except OSError:
        return False
    try:
        return recv_frame(slot.out_fd, time.monotonic() + PROBE_TIMEOUT).get("op") == "ready"
    except (EOFError, OSError, TimeoutError, WireError):
        return False
    finally:
        slot.close()


def prepare(config: dict) -> Sandbox:
    """Isolate this worker and find the strongest slot set-up this machine allows."""
    limits, base_dir = config["limits"], config["base_dir"]
    without = set(os.environ.get("ALIGNLAB_SANDBOX_WITHOUT", "").split(","))  # to test the fallbacks
    auto = config.get("isolation", "auto") == "auto"
    steps = isolate_worker(base_dir) if auto else []
    if "mountns-ro" in steps and probe_uid(base_dir):
        steps.append("uid")
    if "mountns-ro" in steps and probe_ipcns():
        steps.append("ipcns")
    own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY) if "pidns" in steps else None
    extras: list[str] = []
    if "mountns-ro" in steps and "minimal-root" not in without:
        try:
            build_root(base_dir, base_dir)
            extras += ["minimal-root", "own-proc"] if "pidns" in steps else ["minimal-root"]
        except OSError:
            pass
    seccomp = _seccomp.build() if auto and "seccomp" not in without else None
    extras += ["seccomp"] if seccomp is not None else []
    cgroups = None
    if auto and os.geteuid() == 0 and "cgroup" not in without:
        cgroups = open_parent(os.path.basename(base_dir), limits["memory_mb"], limits["nproc"])
    # Strongest first; each step that keeps a slot from starting is given up, weakest-value first.
    drops = ([], ["own-proc"], ["own-proc", "minimal-root"], ["own-proc", "minimal-root", "seccomp"])
    for groups, drop in [(cgroups, d) for d in drops] + ([(None, d) for d in drops] if cgroups else []):
        chosen = steps + [e for e in extras if e not in drop]
        box = Sandbox(base_dir, chosen, limits, own_pidns, seccomp if "seccomp" in chosen else None, groups)
        if _reaches_ready(box):
            break
    if box.cgroups is None and cgroups is not None:
        cgroups.remove()
        cgroups = None
    box.steps += ["memory:cgroup", "pids:cgroup"] if cgroups else ["memory:rlimit-per-process", "pids:rlimit-nproc"]
    return box


def main() -> None:
    config = json.loads(sys.argv[1])
    warm = int(config.get("slots", 4))
    _lib()  # load libc once, before the first fork
    # base_dir is made (and removed) by the pool: this process may lose write access to it.
    box = prepare(config)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a dead solution must not kill the judge
    in_fd, out_fd = sys.stdin.fileno(), sys.stdout.fileno()
    send_frame(out_fd, {"op": "hello", "isolation": box.steps + ["rlimits", "audit-hook"], "pid": os.getpid()})
    # Everything alive now (modules, the sandbox set-up) lives as long as the worker: frozen, the
    # per-job gc.collect() below only walks what jobs created (~20 ms less per job), and forked slots
    # share these pages instead of copying the ones the collector would touch.
    gc.collect()
    gc.freeze()

    slots: list = []
    try:
        while True:
            gc.collect()  # nothing of the previous job stays reachable in the slots forked next
            while len(slots) < warm:
                slots.append(spawn_slot(box))
            if not _serve_one(in_fd, out_fd, slots):
                break
    finally:
        for slot in slots:
            slot.close()
        if box.cgroups is not None:
            box.cgroups.remove()


if __name__ == "__main__":
    main()
