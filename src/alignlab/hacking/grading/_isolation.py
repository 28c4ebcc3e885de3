r"""Linux isolation primitives for the sandbox: namespaces, mounts, privilege drop, resource limits.

Python 3.11 has no ``os.unshare`` or ``mount``, so the few system calls go through ctypes on libc. Each
step is optional: :func:`probe` finds out once, in a throw-away child, which steps this machine allows,
and the sandbox reports the steps in force with every result (``isolation``).

Steps, strongest first:

- ``netns``: a new network namespace (only a downed loopback: no connection leaves the sandbox);
- ``pidns``: a new PID namespace whose init is trusted; killing it kills every process the solution
  started, so fork bombs cannot outlive the job, and the solution cannot see or signal the grader;
- ``mountns-ro``: a private mount namespace where every writable file system is remounted read-only and
  a small ``tmpfs`` (size- and inode-capped) is the only writable place, the solution's working directory;
- ``uid``: the solution runs as ``nobody`` without capabilities (cannot ptrace or signal the grader, and
  RLIMIT_NPROC is enforced, which it is not for root);
- ``ipcns``: each slot gets its own IPC namespace, so SysV shared memory it creates dies with it;
- ``minimal-root`` and ``own-proc``: the solution ``pivot_root``\ s into a read-only root holding only what
  Python needs, with a ``/proc`` of its own PID namespace (see ``_root``);
- ``seccomp``: no new namespaces, mounts, ptrace or kernel extras from inside (see ``_seccomp``);
- ``memory:cgroup`` and ``pids:cgroup``: one memory limit and one process limit for the whole sandbox
  (see ``_cgroup``); where cgroups are not writable, ``memory:rlimit-per-process`` and
  ``pids:rlimit-nproc`` say that a smaller per-process address space and fewer processes stand in;
- ``rlimits`` and ``audit-hook`` are always in force (the hook blocks network, process creation and
  writes outside the working directory where the namespaces are not available).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import signal
import sys

__all__ = [
    "NOBODY",
    "probe_ipcns",
    "apply_limits",
    "drop_privileges",
    "enter_namespaces",
    "harden_filesystem",
    "isolate_worker",
    "kill_with_parent",
    "mount_workdir",
    "probe_uid",
    "readable_roots",
]

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
NOBODY = 65534

# File systems whose remount would break the process (proc, devices) or that root owns anyway.
_KEEP_WRITABLE = {"proc", "devtmpfs", "devpts", "sysfs", "cgroup", "cgroup2", "mqueue", "securityfs", "debugfs"}

_libc = None


def _lib():
    # Loaded once in the worker, before any fork: find_library would start a subprocess every time.
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL("libc.so.6", use_errno=True)
        except OSError:
            _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return _libc


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def enter_namespaces(net: bool = True, mount: bool = True) -> None:
    """unshare(2) the calling process into a new network and/or mount namespace."""
    flags = (CLONE_NEWNET if net else 0) | (CLONE_NEWNS if mount else 0)
    if flags:
        _check(_lib().unshare(flags), "unshare")


def isolate_worker(workdir: str) -> list[str]:
    """Move the calling worker into new network and mount namespaces; the isolation steps that held.

    Run once per worker, in the worker itself (the judge): it loses the network and write access too.
    """
    steps = []
    try:
        enter_namespaces(net=True, mount=False)
        steps.append("netns")
    except OSError:
        return steps
    try:
        enter_namespaces(net=False, mount=True)
        harden_filesystem(expose=readable_roots())
        steps.append("mountns-ro")
    except OSError:
        return steps
    own = os.open("/proc/self/ns/pid", os.O_RDONLY)
    try:
        _check(_lib().unshare(CLONE_NEWPID), "unshare")
        pid = os.fork()
        if pid == 0:
            os._exit(0 if os.getpid() == 1 else 1)
        _, status = os.waitpid(pid, 0)
        _check(_lib().setns(own, CLONE_NEWPID), "setns")
        if os.waitstatus_to_exitcode(status) == 0:
            steps.append("pidns")
    except OSError:
        pass
    finally:
        os.close(own)
    return steps


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)
    _check(_lib().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def readable_roots() -> list[str]:
    """What an unprivileged solution must be able to read: the interpreter, its libraries, alignlab."""
    roots = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    roots.update(p for p in sys.path if p and os.path.isdir(p))
    return sorted(os.path.realpath(r) for r in roots)


def _blocked(paths: list[str]) -> dict[str, set[str]]:
    # The outermost ancestor of each path that "other" cannot search, and its children on the way.
    found: dict[str, set[str]] = {}
    for path in paths:
        parts = path.rstrip("/").split("/")
        for depth in range(2, len(parts)):
            ancestor = "/".join(parts[:depth])
            if not os.stat(ancestor).st_mode & 0o001:
                found.setdefault(ancestor, set()).add("/".join(parts[: depth + 1]))
                break
    return found


def _expose(paths: list[str]) -> None:
    """Let a non-root solution reach ``paths`` whose ancestors only root may enter (e.g. ``/root``).

    Inside the private mount namespace each such ancestor is covered by a tiny tmpfs holding only bind
    mounts of the needed children; the rest of it stays hidden. Nothing changes outside the namespace.
    """
    for _ in range(8):  # nested private directories are uncovered one level per round
        blocked = _blocked(paths)
        if not blocked:
            return
        for ancestor, children in blocked.items():
            handles = {child: os.open(child, os.O_PATH) for child in children}
            _mount("tmpfs", ancestor, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
            for child, handle in handles.items():
                os.mkdir(child, 0o755)
                _mount(f"/proc/self/fd/{handle}", child, None, MS_BIND | MS_REC)
                os.close(handle)


def mount_workdir(workdir: str, size_mb: int = 16, inodes: int = 512, owner: bool = False) -> None:
    """A fresh tmpfs, capped in size and inodes, on ``workdir`` (in the caller's mount namespace).

    With ``owner`` it belongs to the sandbox user (``nobody``) and only it may enter; else it is 0o700 root's.
    """
    who = f",uid={NOBODY},gid={NOBODY}" if owner else ""
    _mount("tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,nr_inodes={inodes},mode=0700{who}")


def harden_filesystem(expose: list[str] | None = None) -> None:
    """In a fresh mount namespace: remount every writable file system read-only (``expose`` stays reachable)."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    if expose:
        _expose(expose)
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, fstype = left.split(), right.split()[0]
        point, options = fields[4].replace("\\040", " "), fields[5].split(",")
        if fstype in _KEEP_WRITABLE or "ro" in options:
            continue
        # A bind remount must repeat the mount's locked flags or it fails with EPERM.
        keep = (MS_NOSUID if "nosuid" in options else 0) | (MS_NODEV if "nodev" in options else 0)
        keep |= MS_NOEXEC if "noexec" in options else 0
        try:
            _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)
        except OSError:
            pass  # a mount hidden under another one: it is out of the solution's reach anyway


def kill_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (so no sandbox outlives its judge)."""
    _lib().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def drop_privileges(uid: int = NOBODY) -> None:
    """Become ``uid`` with no supplementary groups and no way to regain privileges."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    _lib().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def apply_limits(cpu_s: int, memory_mb: int, file_mb: int, nproc: int, nofile: int = 64) -> None:
    """Hard resource limits for the calling process and its children."""
    for kind, value in (
        (resource.RLIMIT_CPU, cpu_s),
        (resource.RLIMIT_AS, memory_mb * 2**20),
        (resource.RLIMIT_FSIZE, file_mb * 2**20),
        (resource.RLIMIT_NPROC, nproc),
        (resource.RLIMIT_NOFILE, nofile),
        (resource.RLIMIT_CORE, 0),
    ):
        try:
            resource.setrlimit(kind, (value, value))
        except (ValueError, OSError):
            _, hard = resource.getrlimit(kind)
            cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(kind, (cap, cap))


def probe_uid(workdir: str) -> bool:
    """Whether a solution can run as ``nobody`` here and still read the interpreter's files."""
    if os.getuid() != 0:
        return False
    pid = os.fork()
    if pid == 0:  # the switch is irreversible, so it is tried in a throw-away child
        try:
            drop_privileges()
            lib = os.path.dirname(os.__file__)
            os.listdir(lib)
            with open(os.path.join(lib, "colorsys.py"), "rb"):
                pass
            os.chdir(workdir)  # the sandbox folder is 0o711: passable, not listable
            os._exit(0)
        except BaseException:  # noqa: BLE001 — any failure means: not available
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def probe_ipcns() -> bool:
    """Whether a slot can get its own IPC namespace (SysV shared memory that dies with the sandbox)."""
    pid = os.fork()
    if pid == 0:  # unshare changes the caller for good, so it is tried in a throw-away child
        os._exit(0 if _lib().unshare(CLONE_NEWIPC) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0
