"""Sandbox folders: made narrow, marked with their owner, and removed when their owner is gone.

Each worker gets a folder ``alignlab-hacking-*`` in the temporary directory, mode 0o711: the sandbox
user may pass through it to its own working directory but not list or write it. It holds
``owner.lock``, which names the owning process and stays ``flock``\\ ed while the pool lives; a scan
killed with SIGKILL leaves the folder behind, unlocked, and the next pool removes it (and the cgroups
of the same name) before it starts.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time

from alignlab.hacking.grading._cgroup import remove_groups, remove_stale_groups

__all__ = ["LOCK_NAME", "PREFIX", "make_sandbox_dir", "remove_sandbox_dir", "remove_stale_sandboxes"]

PREFIX = "alignlab-hacking-"
LOCK_NAME = "owner.lock"
# A folder without a lock is old-style or half-made; only one this old is someone's leftover.
UNLOCKED_GRACE_S = 60.0


def make_sandbox_dir() -> tuple[str, int]:
    """A fresh sandbox folder and the fd holding its owner lock (keep it open while the folder is used)."""
    path = tempfile.mkdtemp(prefix=PREFIX)
    os.chmod(path, 0o711)
    fd = os.open(os.path.join(path, LOCK_NAME), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, f"{os.getpid()}\n".encode())
    return path, fd


def remove_sandbox_dir(path: str, lock_fd: int) -> None:
    """Remove a worker's folder and the cgroups named after it (call once the worker has ended)."""
    shutil.rmtree(path, ignore_errors=True)
    remove_groups(os.path.basename(path))
    try:
        os.close(lock_fd)
    except OSError:
        pass


def _is_stale(path: str) -> bool:
    try:
        fd = os.open(os.path.join(path, LOCK_NAME), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        try:
            return time.time() - os.stat(path).st_mtime > UNLOCKED_GRACE_S
        except OSError:
            return False
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by a live owner: refused at once
    except OSError:
        return False
    else:
        return True
    finally:
        os.close(fd)  # closing drops the lock we may have taken


def remove_stale_sandboxes(root: str | None = None) -> list[str]:
    """Remove our sandbox folders (and cgroups) whose owner is dead; the folders removed."""
    root = root or tempfile.gettempdir()
    removed, alive = [], set()
    try:
        entries = [e for e in os.scandir(root) if e.name.startswith(PREFIX)]
    except OSError:
        return removed
    for entry in entries:
        try:
            mine = entry.is_dir(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_uid == os.geteuid()
        except OSError:
            continue
        if mine and _is_stale(entry.path):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
        else:
            alive.add(entry.name)
    remove_stale_groups(PREFIX, alive)
    return removed
