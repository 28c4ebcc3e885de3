"""A seccomp filter for solution processes: no new namespaces, no mounts, no tracing, no kernel extras.

The filter is built with libseccomp through ctypes rather than as hand-written BPF: libseccomp is the
well-kept implementation (it gets architecture checks, syscall numbering and multiplexed calls right),
and it is installed wherever Debian's Python is. Without it the sandbox runs without the filter and
does not name ``seccomp`` in ``isolation``.

Refused (EPERM): ``unshare``, ``setns``, ``clone`` with any ``CLONE_NEW*`` flag (plain fork and threads
still work), ``mount`` and its new-API relatives, ``pivot_root``, ``chroot``, ``ptrace``,
``process_vm_*``, ``keyctl``, ``add_key``, ``request_key``, ``bpf``, ``perf_event_open``,
``userfaultfd``, ``io_uring_*`` (its operations would bypass this very filter), module and kexec loading.
``clone3`` fails with ENOSYS: its flags sit in memory where a filter cannot read them, and glibc falls
back to ``clone`` on ENOSYS, which the filter can inspect.
"""

from __future__ import annotations

import ctypes
import errno
import os

__all__ = ["Filter", "build"]

SCMP_ACT_ALLOW = 0x7FFF0000
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2
SCMP_CMP_MASKED_EQ = 7
CLONE_NEW_FLAGS = (0x00000080, 0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000,
                   0x40000000)  # TIME, NS, CGROUP, UTS, IPC, USER, PID, NET
DENIED = ("unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot", "ptrace",
          "process_vm_readv", "process_vm_writev", "keyctl", "add_key", "request_key", "bpf",
          "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
          "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
          "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "acct",
          "swapon", "swapoff", "reboot", "syslog", "name_to_handle_at", "open_by_handle_at")


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def _errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)  # SCMP_ACT_ERRNO


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Filter:
    """A BPF program compiled once per worker by libseccomp; :meth:`load` installs it in the caller.

    Compiling per slot (``seccomp_load``) costs about a millisecond; installing the exported program
    with prctl costs microseconds, and a slot is forked for every suite.
    """

    def __init__(self, program: bytes):
        self.buffer = ctypes.create_string_buffer(program, len(program))
        self.prog = _Prog(len(program) // 8, ctypes.cast(self.buffer, ctypes.c_void_p))
        self.libc = ctypes.CDLL("libc.so.6", use_errno=True)

    def load(self) -> None:
        """Install the filter in the calling process (irreversible; inherited by its children).

        Sets no_new_privs first, as the kernel requires of a process without CAP_SYS_ADMIN.
        """
        self.libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if self.libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(self.prog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


def _rule(lib, ctx, action: int, name: str, *cmps: _ArgCmp) -> None:
    number = lib.seccomp_syscall_resolve_name(name.encode())
    if number < 0:  # __NR_SCMP_ERROR: not a system call on this architecture (e.g. umount on arm64)
        return
    array = (_ArgCmp * len(cmps))(*cmps) if cmps else None
    result = lib.seccomp_rule_add_array(ctypes.c_void_p(ctx), ctypes.c_uint32(action), number, len(cmps), array)
    if result != 0:
        raise OSError(-result, f"seccomp_rule_add {name}")


def build() -> Filter | None:
    """The solution's filter, or None where libseccomp is missing or refuses it."""
    try:
        lib = ctypes.CDLL("libseccomp.so.2")
    except OSError:
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        return None
    try:
        for name in DENIED:
            _rule(lib, ctx, _errno(errno.EPERM), name)
        _rule(lib, ctx, _errno(errno.ENOSYS), "clone3")
        for flag in CLONE_NEW_FLAGS:  # one rule per flag: MASKED_EQ tests a pattern, not "any bit"
            _rule(lib, ctx, _errno(errno.EPERM), "clone", _ArgCmp(0, SCMP_CMP_MASKED_EQ, flag, flag))
        read, write = os.pipe()
        try:
            if lib.seccomp_export_bpf(ctypes.c_void_p(ctx), write) != 0:
                raise OSError("seccomp_export_bpf failed")
            os.close(write)
            write = -1
            program = b""
            while chunk := os.read(read, 65536):
                program += chunk
        finally:
            os.close(read)
            if write >= 0:
                os.close(write)
    except OSError:
        return None
    finally:
        lib.seccomp_release(ctypes.c_void_p(ctx))
    return Filter(program) if program and len(program) % 8 == 0 else None
