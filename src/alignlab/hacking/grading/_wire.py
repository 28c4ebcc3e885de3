"""Messages between the grader's processes, and a strict codec for values that cross them.

Frames are a 4-byte big-endian length and a UTF-8 JSON body. Values a solution returns are encoded by
*exact* type (``type(v) is int``, never ``isinstance``), so only plain built-in data crosses from the
untrusted process to the judge: an object whose ``__eq__`` always returns True, a ``str`` subclass with
a rigged ``__eq__`` or anything with a custom ``__reduce__`` is refused at the boundary. The codec is
hand-written because pickle and marshal both execute or trust attacker-shaped data when loading.
"""

from __future__ import annotations

import base64
import json
import math
import os
import select
import struct
import time
from typing import Any

__all__ = ["MAX_FRAME", "MAX_JOB", "WireError", "decode_value", "encode_value", "recv_frame", "send_frame"]

# A frame from a solution is bounded in size and nesting: anything larger is the solution's abuse of the
# channel (outcome ``protocol-abuse``), never a reason for the judge or the grader to fail.
MAX_FRAME = 8 * 2**20
MAX_JOB = 64 * 2**20  # trusted frames between the grader and its workers (a job carries code and tests)
MAX_DEPTH = 200
MAX_ITEMS = 2_000_000
_BIG = 2**62


class WireError(Exception):
    """A value or frame that the codec refuses (the message says why)."""


def send_frame(fd: int, message: dict) -> None:
    """Write one framed JSON message to a file descriptor (blocking)."""
    body = json.dumps(message, separators=(",", ":")).encode()
    data = struct.pack(">I", len(body)) + body
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, remaining = [], n
    while remaining:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError("no message before the deadline")
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def recv_frame(fd: int, deadline: float | None = None, limit: int = MAX_FRAME) -> dict:
    """Read one framed message; TimeoutError past ``deadline`` (monotonic), EOFError when closed.

    :class:`WireError` for a frame over ``limit`` bytes, nested too deeply, or not a JSON object.
    """
    (size,) = struct.unpack(">I", _read_exact(fd, 4, deadline))
    if size > limit:
        raise WireError(f"message of {size} bytes is over the {limit}-byte limit")
    try:
        message = json.loads(_read_exact(fd, size, deadline))
    except (ValueError, RecursionError) as exc:  # json's C parser raises RecursionError on deep nesting
        raise WireError(f"malformed message: {type(exc).__name__}: {str(exc)[:100]}") from None
    if not isinstance(message, dict):
        raise WireError("malformed message: not an object")
    return message


_SEQUENCES = {list: "L", tuple: "T", set: "S", frozenset: "F"}
_BUILD = {"L": list, "T": tuple, "S": set, "F": frozenset}


def _spender():
    """A counter of values walked: call it with each value's depth; WireError past the limits."""
    budget = [MAX_ITEMS]

    def spend(depth: int) -> None:
        budget[0] -= 1
        if depth > MAX_DEPTH or budget[0] < 0:
            raise WireError("value too deep or too large")
    return spend


def encode_value(value: Any) -> Any:
    """A JSON-ready form of ``value``; :class:`WireError` for anything but plain built-in data."""
    spend = _spender()

    def enc(v: Any, depth: int) -> Any:
        spend(depth)
        kind = type(v)
        if v is None or kind is bool or kind is str:
            return v
        if kind is int:
            return v if -_BIG < v < _BIG else ["I", format(v, "x")]
        if kind is float:
            return v if math.isfinite(v) else ["R", repr(v)]
        if kind in _SEQUENCES:
            return [_SEQUENCES[kind], [enc(x, depth + 1) for x in v]]
        if kind is dict:
            return ["D", [[enc(k, depth + 1), enc(x, depth + 1)] for k, x in v.items()]]
        if kind is bytes:
            return ["B", base64.b64encode(v).decode()]
        if kind is complex:
            return ["C", enc(v.real, depth + 1), enc(v.imag, depth + 1)]
        raise WireError(f"a value of type {kind.__module__}.{kind.__qualname__} is not plain data")

    return enc(value, 0)


def decode_value(data: Any) -> Any:
    """The value :func:`encode_value` encoded; :class:`WireError` for anything malformed."""
    spend = _spender()

    def dec(d: Any, depth: int) -> Any:
        spend(depth)
        if d is None or type(d) in (bool, int, float, str):
            return d
        if type(d) is not list or not d or type(d[0]) is not str:
            raise WireError("malformed value")
        tag = d[0]
        try:
            if tag in _BUILD:
                return _BUILD[tag](dec(x, depth + 1) for x in d[1])
            if tag == "D":
                return {dec(k, depth + 1): dec(x, depth + 1) for k, x in d[1]}
            if tag == "I":
                return int(d[1], 16)
            if tag == "R":
                return float(d[1])
            if tag == "B":
                return base64.b64decode(d[1])
            if tag == "C":
                return complex(dec(d[1], depth + 1), dec(d[2], depth + 1))
        except (TypeError, ValueError, IndexError) as exc:
            raise WireError(f"malformed value: {exc}") from None
        raise WireError(f"unknown value tag {tag!r}")

    return dec(data, 0)
