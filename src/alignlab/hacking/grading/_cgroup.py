"""Whole-sandbox memory and process limits: one cgroup (v1 ``memory`` and ``pids``) per slot.

RLIMIT_AS bounds each process, so seven forked children may together use seven times the limit; a
memory cgroup bounds the slot and every process it starts, together. Each worker makes a parent group
named after its sandbox folder below *our own* cgroup (``/proc/self/cgroup``), one child group per slot,
and removes them when the slot ends. Where the hierarchy is missing or not writable, :func:`open_parent`
returns None and the sandbox falls back to per-process limits (``memory:rlimit-per-process``).

Only cgroup v1 is implemented (the machines this runs on mount the v1 controllers); a v2-only machine
takes the fallback.
"""

from __future__ import annotations

import os
import signal
import time

__all__ = ["SlotGroup", "WorkerGroup", "open_parent", "own_dirs", "remove_groups", "remove_stale_groups"]

CONTROLLERS = ("memory", "pids")


def own_dirs() -> dict[str, str] | None:
    """The directory of our own cgroup, per controller (None if one of them is missing)."""
    mounts: dict[str, str] = {}
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as handle:
            for line in handle:
                left, _, right = line.partition(" - ")
                fstype, _, options = right.split()[:3]
                if fstype == "cgroup":
                    for name in CONTROLLERS:
                        if name in options.split(","):
                            mounts.setdefault(name, left.split()[4])
        with open("/proc/self/cgroup", encoding="utf-8") as handle:
            paths = {}
            for line in handle:
                _, names, path = line.rstrip("\n").split(":", 2)
                for name in names.split(","):
                    paths[name] = path
    except (OSError, ValueError, IndexError):
        return None
    if not all(name in mounts and name in paths for name in CONTROLLERS):
        return None
    return {name: os.path.join(mounts[name], paths[name].lstrip("/")) for name in CONTROLLERS}


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _rmdir(path: str, tries: int = 50) -> bool:
    # A group is removable once its last task is reaped, which can trail the waitpid by a moment.
    for _ in range(tries):
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            time.sleep(0.002)
    return False


class SlotGroup:
    """The memory and pids groups of one slot."""

    def __init__(self, dirs: dict[str, str], memory_mb: int, pending: list[str] | None = None):
        self.dirs, self.memory_mb = dirs, memory_mb
        self.pending = pending  # where a group that is not empty yet waits for a later rmdir

    def limit_mb(self) -> int:
        return self.memory_mb

    def add(self, pid: int) -> None:
        for path in self.dirs.values():
            _write(os.path.join(path, "cgroup.procs"), str(pid))

    def kill_all(self) -> None:
        """SIGKILL every process left in the group (those that escaped a process-group kill, say)."""
        try:
            with open(os.path.join(self.dirs["pids"], "cgroup.procs"), encoding="utf-8") as handle:
                pids = [int(line) for line in handle if line.strip()]
        except (OSError, ValueError):
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def oom_kills(self) -> int:
        """How many processes the kernel killed for the group's memory limit (0 if unknown)."""
        try:
            with open(os.path.join(self.dirs["memory"], "memory.oom_control"), encoding="utf-8") as handle:
                for line in handle:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def peak_mb(self) -> float:
        try:
            with open(os.path.join(self.dirs["memory"], "memory.max_usage_in_bytes"), encoding="utf-8") as handle:
                return int(handle.read()) / 2**20
        except (OSError, ValueError):
            return 0.0

    def remove(self) -> None:
        # The group of a killed slot can stay busy for some milliseconds after its waitpid; rather than
        # wait on the grading path, the worker's next slot() (or its exit) removes it.
        for path in self.dirs.values():
            if not _rmdir(path, tries=1 if self.pending is not None else 50) and self.pending is not None:
                self.pending.append(path)


class WorkerGroup:
    """A worker's parent groups, one per controller; makes a :class:`SlotGroup` per slot."""

    def __init__(self, dirs: dict[str, str], memory_mb: int, nproc: int):
        self.dirs, self.memory_mb, self.nproc = dirs, memory_mb, nproc
        self.count = 0
        self.pending: list[str] = []

    def slot(self) -> SlotGroup:
        self.pending[:] = [path for path in self.pending if not _rmdir(path, tries=1)]
        self.count += 1
        dirs = {name: os.path.join(path, f"s{self.count}") for name, path in self.dirs.items()}
        made = []
        try:
            for path in dirs.values():
                os.mkdir(path)
                made.append(path)
            limit = str(self.memory_mb * 2**20)
            memory = dirs["memory"]
            _write(os.path.join(memory, "memory.limit_in_bytes"), limit)
            # With swap accounting the limit must hold for memory + swap too, or the bomb just swaps.
            if os.path.exists(os.path.join(memory, "memory.memsw.limit_in_bytes")):
                _write(os.path.join(memory, "memory.memsw.limit_in_bytes"), limit)
            _write(os.path.join(dirs["pids"], "pids.max"), str(self.nproc))
        except OSError:
            for path in reversed(made):
                _rmdir(path, tries=1)
            raise
        return SlotGroup(dirs, self.memory_mb, self.pending)

    def remove(self) -> None:
        self.pending.clear()
        for path in self.dirs.values():
            for child in _children(path):
                _rmdir(child)
            _rmdir(path)


def _children(path: str) -> list[str]:
    try:
        return [os.path.join(path, e.name) for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def open_parent(name: str, memory_mb: int, nproc: int) -> WorkerGroup | None:
    """Make the worker's parent groups ``name`` and check a slot group works; None where it does not."""
    own = own_dirs()
    if own is None:
        return None
    dirs = {key: os.path.join(path, name) for key, path in own.items()}
    group = WorkerGroup(dirs, memory_mb, nproc)
    try:
        for path in dirs.values():
            os.makedirs(path, exist_ok=True)
        group.slot().remove()  # a trial slot: every file we write must be writable
        return group
    except OSError:
        group.remove()
        return None


def remove_groups(name: str) -> None:
    """Remove the parent groups ``name`` and their slot groups (a dead worker's; live tasks keep theirs)."""
    for path in (own_dirs() or {}).values():
        group = os.path.join(path, name)
        for slot in _children(group):
            _rmdir(slot, tries=5)
        _rmdir(group, tries=5)


def remove_stale_groups(prefix: str, alive: set[str]) -> None:
    """Remove parent groups whose name starts with ``prefix`` and is not in ``alive``.

    rmdir refuses a group that still holds a task, so a live sandbox can never lose its group here.
    """
    own = own_dirs()
    for path in (own or {}).values():
        for child in _children(path):
            if os.path.basename(child).startswith(prefix) and os.path.basename(child) not in alive:
                for slot in _children(child):
                    _rmdir(slot, tries=1)
                _rmdir(child, tries=1)
