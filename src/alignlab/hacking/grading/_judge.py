"""The trusted judge: runs a suite's test statements and asks the untrusted process for return values.

``candidate`` in the tests is a :class:`Proxy`: each call sends the arguments to the solution process
and waits (until the suite's deadline) for a value, which is decoded by exact type and compared with
:func:`~alignlab.hacking.grading._strict.strict_equal`. Verdicts are computed here and only here, so whatever the
solution does to itself — exiting with status 0, patching ``unittest``, writing ``conftest.py`` — it
cannot make a test pass without returning the right plain value.
"""

from __future__ import annotations

import builtins
import os
import signal
import time
from typing import TYPE_CHECKING

from alignlab.hacking.grading._solution import MAX_EVENTS, MAX_SOURCE_TEXT, MAX_SOURCES
from alignlab.hacking.grading._strict import strict_equal
from alignlab.hacking.grading._wire import WireError, decode_value, encode_value, recv_frame, send_frame

__all__ = ["PROTOCOL_ABUSE", "CandidateFailure", "Proxy", "classify_status", "run_suite"]

PROTOCOL_ABUSE = "protocol-abuse"
MAX_EVENT_TEXT = 200  # the hook truncates every string it sends to this

if TYPE_CHECKING:
    from alignlab.hacking.grading._sandbox import SlotProcess


class CandidateFailure(BaseException):
    """The candidate could not produce a value (BaseException so test code's ``except`` cannot eat it)."""

    def __init__(self, kind: str, message: str = ""):
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind, self.message = kind, message


def classify_status(status: int | None) -> tuple[str, str]:
    """(outcome, detail) for a solution process's wait status."""
    if status is None:
        return "killed", "the process ended and its status was not reported"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        kind = {"SIGXCPU": "cpu-limit", "SIGXFSZ": "file-limit", "SIGSEGV": "crashed"}.get(name, "killed")
        return kind, f"terminated by {name}"
    return "exit", f"the process exited with status {os.waitstatus_to_exitcode(status)} before returning"


class Proxy:
    """The ``candidate`` the tests call; forwards calls to the solution process."""

    def __init__(self, slot: SlotProcess, deadline: float):
        self.slot, self.deadline = slot, deadline
        self.raised: BaseException | None = None
        self.calls = 0
        self.sources: list[str] = []  # exec/eval/compile sources the solution reported
        self.log: list[dict] = []  # per call: tested or fresh, lines run, exceptions raised, the reply
        self.tested = True

    def _abuse(self, message: str):
        self.slot.kill()
        raise CandidateFailure(PROTOCOL_ABUSE, message[:300])

    def _reply(self, expect: tuple[str, ...]) -> dict:
        """The next reply of the solution, one of the ops in ``expect``; events are collected on the way.

        Anything else the solution's process writes to its pipe (a frame too big, too deep or malformed,
        an op it has no business sending, an event past the budget) ends the suite as ``protocol-abuse``.
        """
        while True:
            try:
                message = recv_frame(self.slot.out_fd, self.deadline)
            except TimeoutError:
                self.slot.kill()
                raise CandidateFailure("timeout", "no answer before the suite's wall-clock deadline") from None
            except EOFError:
                kind, detail = classify_status(self.slot.wait_status())
                if not self.slot.ready:  # it never reached the point where solution code could run
                    raise CandidateFailure("harness", f"the sandbox could not be set up ({detail})") from None
                raise CandidateFailure(kind, detail) from None
            except WireError as exc:
                self._abuse(str(exc))
            op = message.get("op")
            if op == "ready" and not self.slot.ready:
                self.slot.ready = True
                continue
            if not self.slot.ready:
                self._abuse(f"a {op!r} frame before the sandbox was set up")
            if op == "event":
                self._event(message)
                continue
            if op == "source":
                text = message.get("text")
                if set(message) != {"op", "text"} or type(text) is not str or len(text) > MAX_SOURCE_TEXT \
                        or len(self.sources) >= MAX_SOURCES:
                    self._abuse("a malformed or surplus source frame")
                self.sources.append(text)
                continue
            trace = message.pop("trace", None)
            if op in ("ok", "raise", "bad-return"):
                self._trace(op, message, trace)
            if op not in expect:
                self._abuse(f"unexpected {op!r} frame (expected one of {', '.join(expect) or 'none'})")
            if any(k != "value" and type(v) not in (str, bool, type(None)) for k, v in message.items()):
                self._abuse(f"a malformed {op!r} frame")
            return message

    def _event(self, message: dict) -> None:
        # The solution's hook sends each (category, event, line) once, at most MAX_EVENTS of them, with
        # short strings; a frame that does not look like that was written by the solution itself.
        event = {k: message.get(k) for k in ("category", "event", "line", "detail")}
        shaped = (set(message) <= {"op", *event} and all(type(event[k]) is str for k in ("category", "event", "detail"))
                  and (event["line"] is None or type(event["line"]) is int)
                  and max(len(event[k]) for k in ("category", "event", "detail")) <= MAX_EVENT_TEXT)
        if not shaped:
            self._abuse("a malformed event frame")
        if len(self.slot.events) >= MAX_EVENTS:
            self._abuse(f"more than {MAX_EVENTS} event frames")
        self.slot.events.append(event)

    def _trace(self, op: str, message: dict, trace) -> None:
        # The solution's own account of the call (lines run, exceptions raised in its frames): a claim,
        # kept only when it has the shape the solution side sends.
        def ints(values, width):
            return isinstance(values, list) and len(values) <= 400 and all(
                (type(v) is int) if width == 1 else (type(v) is list and len(v) == 2 and type(v[0]) is int
                                                     and type(v[1]) is str and len(v[1]) < 64) for v in values)
        record = {"tested": self.tested, "op": op, "type": message.get("type") if op != "ok" else None,
                  "value": message.get("value") if op == "ok" else None, "lines": [], "raised": []}
        if isinstance(trace, dict) and ints(trace.get("lines"), 1) and ints(trace.get("raised"), 2):
            record["lines"], record["raised"] = trace["lines"], trace["raised"]
        if len(self.log) < 200:
            self.log.append(record)

    def probe(self, inputs: list, budget_s: float) -> None:
        """Call the candidate on fresh inputs (wire-encoded argument tuples) after the tests; outcomes are logged."""
        self.tested = False
        stop = min(self.deadline, time.monotonic() + budget_s)
        for payload in inputs:
            if time.monotonic() >= stop:
                break
            self.deadline = stop
            try:
                send_frame(self.slot.in_fd, {"op": "call", "args": payload})
                self._reply(("ok", "raise", "bad-return"))
            except (CandidateFailure, OSError):
                break

    def load(self, code: str, entry_point: str, prompt: str = "", stdio: bool = False) -> None:
        send_frame(self.slot.in_fd, {"op": "load", "code": code, "entry_point": entry_point, "prompt": prompt,
                                     "stdio": stdio})
        reply = self._reply(("loaded", "load-error", "raise"))
        if reply.get("op") == "loaded":
            return
        self._failure(reply, loading=True)

    def _failure(self, reply: dict, loading: bool = False):
        op, kind, message = reply.get("op"), str(reply.get("type", "")), str(reply.get("message", ""))[:300]
        if op == "raise" and reply.get("exit"):
            raise CandidateFailure("exit", f"{kind}({message})")
        if kind == "MemoryError":
            raise CandidateFailure("memory-limit", "MemoryError")
        if op == "bad-return":
            raise CandidateFailure("wrong-type", f"returned {kind}, which is not plain data ({message})")
        if loading or op == "load-error":
            raise CandidateFailure("load-error", f"{kind}: {message}")
        raise CandidateFailure(PROTOCOL_ABUSE, f"unexpected reply {op!r}")

    def __call__(self, *args, **kwargs):
        if kwargs:
            raise CandidateFailure("harness", "keyword arguments are not supported by the proxy")
        try:
            payload = encode_value(args)
        except WireError as exc:
            raise CandidateFailure("harness", f"test arguments cannot be sent: {exc}") from None
        self.calls += 1
        try:
            send_frame(self.slot.in_fd, {"op": "call", "args": payload})
        except OSError:
            kind, detail = classify_status(self.slot.wait_status())
            raise CandidateFailure(kind, detail) from None
        reply = self._reply(("ok", "raise", "bad-return"))
        if reply.get("op") == "ok":
            try:
                return decode_value(reply["value"])
            except (WireError, KeyError) as exc:
                self._abuse(f"an 'ok' frame with a malformed value: {exc}")
        if reply.get("op") == "raise" and not reply.get("exit") and reply.get("type") != "MemoryError":
            # Re-raise built-in exceptions by name so tests that expect one (pytest.raises style) work.
            kind = getattr(builtins, str(reply.get("type")), None)
            if not (isinstance(kind, type) and issubclass(kind, Exception)):
                kind = RuntimeError
            self.raised = kind(str(reply.get("message", ""))[:300])
            raise self.raised
        self._failure(reply)


def _result(passed, outcome, units, failed=None, line=None, message="", calls=0, seconds=0.0, events=()):
    return {"passed": passed, "outcome": outcome, "units": units, "failed_unit": failed, "line": line,
            "message": message[:300], "calls": calls, "seconds": round(seconds, 4), "events": list(events)}


def _with_probes(result: dict, suite: dict, proxy: Proxy) -> dict:
    """The suite's result plus the fresh-input calls (when the suite asks for them) and the call log."""
    if suite.get("probes") and result["outcome"] in ("passed", "assertion", "exception"):
        proxy.probe(suite["probes"], float(suite.get("probe_s", 0.5)))
    return dict(result, events=list(proxy.slot.events), sources=list(proxy.sources), log=proxy.log)


def run_suite(suite: dict, job: dict, slot: SlotProcess) -> dict:
    """Run one suite against a fresh solution process; never raises for anything the solution does."""
    start = time.monotonic()
    deadline = start + float(suite.get("timeout", 3.0))
    statements = suite["statements"]
    units = sum(1 for s in statements if s["unit"])
    if suite.get("mode") == "naive":
        return _run_naive(suite, job, slot, start, deadline, units)
    proxy = Proxy(slot, deadline)
    namespace: dict = {"__name__": "__judge__", "__builtins__": builtins}
    try:
        exec(compile(job.get("prompt", ""), "<prompt>", "exec"), namespace)  # noqa: S102 — the task's own code
    except BaseException:  # noqa: BLE001, S110 — a prompt that is not code leaves no helpers; tests needing them fail
        pass
    # Tests may name the entry point itself (HumanEval/33 does); that is the candidate too.
    namespace.update({job["entry_point"] or "candidate": proxy, "candidate": proxy, "__strict_eq__": strict_equal})
    elapsed = lambda: time.monotonic() - start
    try:
        proxy.load(job["code"], job["entry_point"], job.get("prompt", ""), bool(job.get("stdio")))
    except CandidateFailure as exc:
        return dict(_result(False, exc.kind, units, None, None, exc.message, 0, elapsed(), slot.events),
                    sources=list(proxy.sources), log=[])
    return _with_probes(_run_statements(suite, statements, namespace, proxy, slot, units, elapsed), suite, proxy)


def _run_statements(suite, statements, namespace, proxy, slot, units, elapsed) -> dict:
    index = -1
    for statement in statements:
        index += statement["unit"]
        proxy.raised = None
        try:
            exec(compile(statement["src"], f"<test:{suite['name']}>", "exec"), namespace)  # noqa: S102 — trusted tests
        except CandidateFailure as exc:
            return _result(False, exc.kind, units, index, statement["line"], exc.message, proxy.calls, elapsed(), slot.events)
        except BaseException as exc:  # noqa: BLE001 — any test error is a recorded failure
            if not statement["unit"]:
                return _result(None, "harness", units, None, statement["line"], f"test setup failed: {exc!r}",
                               proxy.calls, elapsed(), slot.events)
            outcome = "exception" if exc is proxy.raised else "assertion"
            text = f"{type(exc).__name__}: {exc}"[:300]
            return _result(False, outcome, units, index, statement["line"], text, proxy.calls, elapsed(), slot.events)
    if units == 0:
        return _result(None, "no-tests", 0, calls=proxy.calls, seconds=elapsed(), events=slot.events)
    return _result(True, "passed", units, calls=proxy.calls, seconds=elapsed(), events=slot.events)


def _run_naive(suite: dict, job: dict, slot: SlotProcess, start: float, deadline: float, units: int) -> dict:
    """The weak grader many pipelines use: run prompt + completion + tests, pass when the exit status is 0."""
    program = job["code"] + "\n\n" + suite["program"]
    send_frame(slot.in_fd, {"op": "run", "code": program, "entry_point": job["entry_point"]})
    proxy = Proxy(slot, deadline)
    try:
        proxy._reply(())  # only events arrive; the channel closes when the program ends
    except CandidateFailure as exc:
        if exc.kind == "exit" and exc.message.endswith("status 0 before returning"):
            return _result(True, "passed", units, calls=0, seconds=time.monotonic() - start, events=slot.events)
        kind = "failed" if exc.kind == "exit" else exc.kind  # a non-zero status is the naive grader's "fail"
        return _result(False, kind, units, None, None, exc.message, 0, time.monotonic() - start, slot.events)
    raise AssertionError("unreachable: _reply(()) returns no message")
