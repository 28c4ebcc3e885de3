"""Solution processes ("slots"): forked ahead of time, one per suite, each in its own sandbox.

The worker process is the judge. At start it moves itself into a new network namespace (no network)
and a private mount namespace where every writable file system is remounted read-only. Each slot is
then forked into

- a fresh PID namespace of which it is PID 1: when the judge kills it, the kernel kills every process
  it started, so a fork bomb cannot outlive its suite, and the solution cannot see the judge;
- its own mount namespace with a fresh, size-capped tmpfs as working directory;
- the ``nobody`` user with no capabilities, resource limits and an audit hook (see ``_solution``).

Slots are forked *before* the job arrives, so no solution process holds the tests in its memory.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time

from alignlab.hacking.grading._isolation import (
    CLONE_NEWIPC,
    CLONE_NEWNS,
    CLONE_NEWPID,
    _lib,
    apply_limits,
    drop_privileges,
    kill_with_parent,
    mount_workdir,
)
from alignlab.hacking.grading._solution import serve

__all__ = ["SAFE_ENV", "SlotProcess", "spawn_slot"]

SAFE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}


class SlotProcess:
    """A forked solution process waiting for code: its pipes, and how to kill it and learn its status."""

    def __init__(self, pid: int, in_fd: int, out_fd: int, namespaced: bool, private_dir: str | None = None):
        self.pid, self.in_fd, self.out_fd, self.namespaced = pid, in_fd, out_fd, namespaced
        self.private_dir = private_dir  # an on-disk directory to remove (only without mount namespaces)
        self.status: int | None = None
        self.events: list[dict] = []
        self.ready = False  # set by the judge when the slot reports its set-up done

    def kill(self) -> None:
        # PID 1 of its namespace: its death takes every descendant. Without the namespace, its group.
        for target in (self.pid,) if self.namespaced else (-self.pid, self.pid):
            try:
                os.kill(target, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def wait_status(self, timeout: float = 1.0) -> int | None:
        """The exit status once the process has ended (None if it is still running after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return None
            if pid:
                self.status = status
            elif time.monotonic() > deadline:
                return None
            else:
                time.sleep(0.001)
        return self.status

    def close(self) -> None:
        self.kill()
        for fd in (self.in_fd, self.out_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.status is None:
            try:
                _, self.status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
        if self.private_dir:
            shutil.rmtree(self.private_dir, ignore_errors=True)


def _child(in_r: int, out_w: int, workdir: str, steps: list[str], limits: dict) -> None:
    try:
        kill_with_parent()
        os.setsid()
        if "mountns-ro" in steps:
            # A private IPC namespace too: SysV segments of the solution die with its last process.
            _lib().unshare(CLONE_NEWNS | (CLONE_NEWIPC if "ipcns" in steps else 0))
            mount_workdir(workdir, limits["workdir_mb"])
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        keep = sorted({0, 1, 2, in_r, out_w})
        for low, high in zip(keep, keep[1:] + [65536]):
            os.closerange(low + 1, high)
        os.chdir(workdir)
        os.environ.clear()
        os.environ.update(SAFE_ENV, HOME=workdir, TMPDIR=workdir)
        if "uid" in steps:
            drop_privileges()
        apply_limits(limits["cpu_s"], limits["memory_mb"], limits["file_mb"], limits["nproc"])
        # Without kernel isolation the audit hook is the barrier (weaker: native code can get past it).
        block = set()
        if "netns" not in steps:
            block.add("network")
        if "mountns-ro" not in steps:
            block.add("file-write")
        if "pidns" not in steps or "uid" not in steps:
            block.update({"process", "signal"})
        serve(in_r, out_w, workdir, block)
    finally:
        os._exit(0)


def spawn_slot(base_dir: str, steps: list[str], limits: dict, own_pidns: int | None) -> SlotProcess:
    """Fork one solution process, in a fresh PID namespace when ``own_pidns`` (an fd) is given.

    With a mount namespace the slot mounts its own tmpfs on ``base_dir``; without, it gets a fresh
    directory below it.
    """
    private_dir = None if "mountns-ro" in steps else tempfile.mkdtemp(dir=base_dir)
    workdir = private_dir or base_dir
    if private_dir and "uid" in steps:
        os.chmod(private_dir, 0o777)
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    if own_pidns is not None:
        # Reset to our own namespace, then ask for a new one: the next fork is PID 1 there.
        _lib().setns(own_pidns, CLONE_NEWPID)
        if _lib().unshare(CLONE_NEWPID) != 0:
            raise OSError("unshare(CLONE_NEWPID) failed")
    pid = os.fork()
    if pid == 0:
        os.close(in_w)
        os.close(out_r)
        _child(in_r, out_w, workdir, steps, limits)
    os.close(in_r)
    os.close(out_w)
    return SlotProcess(pid, in_w, out_r, namespaced=own_pidns is not None, private_dir=private_dir)
