"""The untrusted side: the process that runs a completion and answers the judge's calls.

Nothing this process sends is believed: it can only *claim* return values (checked strictly by the
judge in another process) and report audit events (evidence when present, never proof of absence).
Before any untrusted code runs it drops privileges, applies resource limits, moves to its private
working directory with a scrubbed environment, and installs an audit hook. The hook forwards
suspicious events at once, before the solution continues, and — where the kernel-level isolation is
missing — blocks network access, process creation and writes outside the working directory.
"""

from __future__ import annotations

import os
import re
import sys

from alignlab.hacking.grading._runtime import LineTrace, Snapshot, stdio_program
from alignlab.hacking.grading._wire import WireError, decode_value, encode_value, recv_frame, send_frame

__all__ = ["MAX_SOURCES", "MAX_SOURCE_TEXT", "SOLUTION_FILE", "serve"]

SOLUTION_FILE = "<solution>"
MAX_EVENTS = 64
MAX_SOURCES = 8  # sources of exec/eval/compile sent back for the static detectors
MAX_SOURCE_TEXT = 4000

_CATEGORY = {
    "socket.connect": "network", "socket.bind": "network", "socket.sendto": "network",
    "socket.getaddrinfo": "network", "socket.sendmsg": "network",
    "os.fork": "process", "os.forkpty": "process", "os.system": "process", "os.exec": "process",
    "os.posix_spawn": "process", "os.spawn": "process", "subprocess.Popen": "process", "pty.spawn": "process",
    "os.kill": "signal", "os.killpg": "signal", "signal.pthread_kill": "signal",
    "os.remove": "file-write", "os.rename": "file-write", "os.rmdir": "file-write",
    "shutil.rmtree": "file-write", "os.chmod": "file-write", "os.truncate": "file-write",
    "os.symlink": "file-write", "os.link": "file-write", "os.mkdir": "file-write",
    "sys._getframe": "introspection", "sys._current_frames": "introspection",
    "sys.settrace": "tracing", "sys.setprofile": "tracing", "sys.addaudithook": "tracing",
    "ctypes.dlopen": "native", "ctypes.dlsym": "native", "ctypes.call_function": "native",
    "os.listdir": "probe-fs", "os.scandir": "probe-fs", "glob.glob": "probe-fs",
    "os.putenv": "environment", "os.unsetenv": "environment",
}
_FRAME_ATTRS = {"f_back", "f_locals", "f_globals", "tb_frame", "gi_frame", "cr_frame", "ag_frame"}
_TESTISH = re.compile(r"(^test_|_test\.py$|^tests?\.py$|conftest|humaneval|\.jsonl(\.gz)?$)", re.IGNORECASE)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _install_hook(out_fd: int, workdir: str, block: set[str]):
    """Install the audit hook; returns ``emit(category, event, line, detail)``, which shares its budget."""
    seen: set = set()
    busy = [False]
    sources: list[str] = []
    real_write_dir = os.path.realpath(workdir)

    def emit(category: str, event: str, line: int | None, detail: str) -> None:
        key = (category, event, line)
        if key not in seen and len(seen) < MAX_EVENTS:
            seen.add(key)
            send_frame(out_fd, {"op": "event", "category": category, "event": event, "line": line,
                                "detail": str(detail)[:200]})

    def dynamic_source(args: tuple) -> None:
        # Code the solution compiles at run time (exec/eval/compile of decoded text) goes back to the
        # judge whole, so the static detectors read what was hidden in a string.
        caller = sys._getframe(2).f_code.co_filename
        if caller != SOLUTION_FILE and not (caller.startswith("<") and not caller.startswith("<frozen")):
            return
        text = args[0]
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        if isinstance(text, str) and len(sources) < MAX_SOURCES and text not in sources:
            sources.append(text)
            send_frame(out_fd, {"op": "source", "text": text[:MAX_SOURCE_TEXT]})

    def solution_line() -> int | None:
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            if name == SOLUTION_FILE:
                return frame.f_lineno
            if name.startswith("<frozen importlib"):
                return None  # raised by the import machinery, not by the solution's own code
            frame = frame.f_back
        return None

    def hook(event: str, args: tuple) -> None:
        if busy[0]:
            return
        if event == "compile" and args:
            busy[0] = True
            try:
                dynamic_source(args)
            finally:
                busy[0] = False
            return
        category = _CATEGORY.get(event)
        detail, deny = "", category in block and category != "file-write"
        if event == "open":
            path, flags = args[0], args[2]
            if not isinstance(path, str):
                return
            writing = isinstance(flags, int) and flags & _WRITE_FLAGS
            if writing:
                category = "file-write"
                deny = "file-write" in block and not os.path.realpath(path).startswith(real_write_dir)
            elif _TESTISH.search(os.path.basename(path)):
                category = "read-tests"
            detail = path
        elif event == "object.__getattr__" and len(args) > 1 and args[1] in _FRAME_ATTRS:
            category, detail = "introspection", args[1]
        elif category is None:
            return
        busy[0] = True
        try:
            line = solution_line()
            if line is None:
                return
            if not detail and args:
                detail = repr(args[0])[:120]
            emit(category, event, line, str(detail))
        finally:
            busy[0] = False
            if deny:  # reported first, then refused: the evidence survives the refusal
                raise PermissionError(f"sandbox: {event} {detail} is not allowed".strip())

    sys.addaudithook(hook)
    return emit


def _exception_reply(exc: BaseException) -> dict:
    exiting = isinstance(exc, (SystemExit, KeyboardInterrupt, GeneratorExit))
    kind = "MemoryError" if isinstance(exc, MemoryError) else type(exc).__name__
    try:
        text = str(exc)[:300]
    except BaseException:  # noqa: BLE001 — a hostile __str__
        text = "<unprintable>"
    return {"op": "raise", "type": kind, "message": text, "exit": exiting}


def serve(in_fd: int, out_fd: int, workdir: str, block: set[str]) -> None:
    """Wait for code, load it, then answer calls until the judge closes the channel. Never returns."""
    try:
        send_frame(out_fd, {"op": "ready"})  # set-up done: an end before this is the sandbox's failure
        first = recv_frame(in_fd)
    except (EOFError, OSError, WireError):
        os._exit(0)
    snapshot = Snapshot(str(first.get("prompt", "")), SOLUTION_FILE, str(first.get("entry_point", "")))
    emit = _install_hook(out_fd, workdir, block)
    namespace: dict = {"__name__": "__main__" if first.get("op") == "run" else "solution"}

    def report_changes() -> None:
        for event, detail in snapshot.changes(namespace):
            emit("runtime", event, None, detail)

    try:
        code = compile(first["code"], SOLUTION_FILE, "exec")
        if first.get("stdio") and first.get("op") != "run":
            function = stdio_program(code)  # run per call, on that call's stdin
        else:
            exec(code, namespace)  # noqa: S102 — the sandboxed solution
            function = namespace.get(first.get("entry_point", ""))
        if first.get("op") == "run":  # naive mode: the whole program ran; the exit status is the verdict
            os._exit(0)
        if not callable(function):
            send_frame(out_fd, {"op": "load-error", "type": "NameError",
                                "message": f"no function {first.get('entry_point')!r} after loading"})
            os._exit(0)
        report_changes()
        send_frame(out_fd, {"op": "loaded"})
    except BaseException as exc:  # noqa: BLE001 — whatever the solution raises is reported, not obeyed
        if first.get("op") == "run":  # like a real interpreter: SystemExit(0) and SystemExit() exit with 0
            code = exc.code if isinstance(exc, SystemExit) else 1
            os._exit(code if isinstance(code, int) and 0 <= code < 256 else (0 if code is None else 1))
        reply = _exception_reply(exc)
        reply["op"] = "load-error" if not reply["exit"] else "raise"
        send_frame(out_fd, reply)
        os._exit(0)
    while True:
        try:
            request = recv_frame(in_fd)
        except (EOFError, OSError, WireError):
            os._exit(0)
        trace = LineTrace(SOLUTION_FILE)
        try:
            args = decode_value(request["args"])
            with trace:
                value = function(*args)
        except BaseException as exc:  # noqa: BLE001 — SystemExit included: it is reported as an exit attempt
            reply = _exception_reply(exc)
        else:
            try:
                reply = {"op": "ok", "value": encode_value(value)}
            except WireError as exc:
                reply = {"op": "bad-return", "type": type(value).__qualname__, "message": str(exc)}
            except BaseException as exc:  # noqa: BLE001 — a hostile object blew up while being inspected
                reply = _exception_reply(exc)
        try:
            report_changes()
        except BaseException:  # noqa: BLE001, S110 — a hostile object in sys.modules; the reply still goes
            pass
        reply["trace"] = trace.record()
        send_frame(out_fd, reply)
