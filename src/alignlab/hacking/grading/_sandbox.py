"""Solution processes ("slots"): forked ahead of time, one per suite, each in its own sandbox.

The worker process is the judge. At start it moves itself into a new network namespace (no network)
and a private mount namespace where every writable file system is remounted read-only, and prepares
once what every slot reuses (a :class:`Sandbox`): the minimal root (``_root``), the seccomp program
(``_seccomp``) and its cgroups (``_cgroup``). Each slot is then forked into

- a fresh PID namespace of which it is PID 1: when the judge kills it, the kernel kills every process
  it started, so a fork bomb cannot outlive its suite, and the solution cannot see the judge;
- its own mount and IPC namespaces, inside the minimal root with its own ``/proc`` and a fresh,
  size-capped tmpfs as working directory;
- its own memory and pids cgroups (one limit for all its processes together);
- the ``nobody`` user with no capabilities, resource limits, the seccomp filter and an audit hook
  (see ``_solution``).

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
    NOBODY,
    _lib,
    apply_limits,
    drop_privileges,
    kill_with_parent,
    mount_workdir,
)
from alignlab.hacking.grading._root import enter_root
from alignlab.hacking.grading._solution import serve

__all__ = ["FALLBACK_MEMORY_SHARE", "FALLBACK_NPROC", "SAFE_ENV", "Sandbox", "SlotProcess", "spawn_slot"]

SAFE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
# Without cgroups: at most this many processes of the sandbox user, each with 1/SHARE of the memory.
FALLBACK_NPROC = 16
FALLBACK_MEMORY_SHARE = 4


class SlotProcess:
    """A forked solution process waiting for code: its pipes, and how to kill it and learn its status."""

    def __init__(self, pid: int, in_fd: int, out_fd: int, namespaced: bool, private_dir: str | None = None):
        self.pid, self.in_fd, self.out_fd, self.namespaced = pid, in_fd, out_fd, namespaced
        self.private_dir = private_dir  # an on-disk directory to remove (only without mount namespaces)
        self.status: int | None = None
        self.events: list[dict] = []
        self.ready = False  # set by the judge when the slot reports its set-up done
        self.group = None  # its cgroups (a _cgroup.SlotGroup), removed when the slot is closed

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
        if self.group is not None:
            if not self.namespaced:
                self.group.kill_all()  # without a PID namespace, a child in its own session survives killpg
            self.group.remove()
            self.group = None


class Sandbox:
    """What a worker prepared once for all its slots: the steps in force, the root, filter and cgroups."""

    def __init__(self, base_dir: str, steps: list[str], limits: dict, own_pidns: int | None = None,
                 seccomp=None, cgroups=None):
        self.base_dir, self.steps, self.limits, self.own_pidns = base_dir, steps, limits, own_pidns
        self.seccomp, self.cgroups = seccomp, cgroups
        # With a minimal root the root is mounted on base_dir and the working directory inside it keeps
        # base_dir's path; without, each slot mounts its tmpfs on base_dir itself.
        self.workdir = base_dir


def _child(in_r: int, out_w: int, workdir: str, box: Sandbox) -> None:
    steps, limits = box.steps, box.limits
    try:
        kill_with_parent()
        os.setsid()
        if "mountns-ro" in steps:
            # A private IPC namespace too: SysV segments of the solution die with its last process.
            _lib().unshare(CLONE_NEWNS | (CLONE_NEWIPC if "ipcns" in steps else 0))
            if "minimal-root" in steps:
                mount_workdir(os.path.join(box.base_dir, workdir.lstrip("/")), limits["workdir_mb"],
                              owner="uid" in steps)
                enter_root(box.base_dir, own_proc="own-proc" in steps)
            else:
                mount_workdir(workdir, limits["workdir_mb"], owner="uid" in steps)
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
        memory, nproc = limits["memory_mb"], limits["nproc"]
        if box.cgroups is None:
            # No whole-sandbox limit: fewer processes, each with less memory (see FALLBACK_*).
            memory, nproc = min(memory, max(64, memory // FALLBACK_MEMORY_SHARE)), min(nproc, FALLBACK_NPROC)
        apply_limits(limits["cpu_s"], memory, limits["file_mb"], nproc)
        if box.seccomp is not None:
            box.seccomp.load()  # last: the set-up above needs mount, pivot_root and unshare
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


def spawn_slot(box: Sandbox) -> SlotProcess:
    """Fork one solution process, in a fresh PID namespace when the worker has one, and in its cgroups.

    With a mount namespace the slot mounts its own tmpfs as working directory; without, it gets a
    fresh directory below the sandbox folder, owned by the sandbox user.
    """
    private_dir = None if "mountns-ro" in box.steps else tempfile.mkdtemp(dir=box.base_dir)
    workdir = private_dir or box.workdir
    if private_dir and "uid" in box.steps:
        os.chown(private_dir, NOBODY, NOBODY)  # mkdtemp made it 0o700: only the sandbox user gets in
    group = box.cgroups.slot() if box.cgroups is not None else None
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    if box.own_pidns is not None:
        # Reset to our own namespace, then ask for a new one: the next fork is PID 1 there.
        _lib().setns(box.own_pidns, CLONE_NEWPID)
        if _lib().unshare(CLONE_NEWPID) != 0:
            raise OSError("unshare(CLONE_NEWPID) failed")
    pid = os.fork()
    if pid == 0:
        os.close(in_w)
        os.close(out_r)
        _child(in_r, out_w, workdir, box)
    os.close(in_r)
    os.close(out_w)
    slot = SlotProcess(pid, in_w, out_r, namespaced=box.own_pidns is not None, private_dir=private_dir)
    if group is not None:
        slot.group = group
        try:
            # Before any job is sent: the slot runs no solution code until it has read one.
            group.add(pid)
        except OSError:
            slot.close()
            raise
    return slot
