"""JSONL in and out: every instrument reads user files this way, so a bad line is reported the same way."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from alignlab.core._errors import AlignlabError

__all__ = ["append_jsonl", "read_jsonl", "write_jsonl"]


def read_jsonl(path: str | Path, *, expected: str = "a JSON object") -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line (``.gz`` files too); a bad line, a file that is not
    UTF-8 text or a corrupt gzip raises :class:`AlignlabError` naming the file and the line."""
    path = Path(path)
    if path.is_dir():
        raise AlignlabError(f"{path} is a folder; expected a JSONL file with {expected} per line.")
    if not path.is_file():
        raise AlignlabError(f"{path}: no such file; expected a JSONL file with {expected} per line.")
    opener = gzip.open if path.suffix == ".gz" else open
    number = 0
    try:
        # Bytes, decoded line by line, so an undecodable byte is reported on its own line.
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                if not text.strip():
                    continue
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise AlignlabError(f"{path}, line {number}: not valid JSON ({exc.msg}).") from None
                if not isinstance(value, dict):
                    raise AlignlabError(f"{path}, line {number}: expected {expected}, got {type(value).__name__}.")
                yield number, value
    except UnicodeDecodeError:
        raise AlignlabError(f"{path}, line {number}: not UTF-8 text (a binary file?); expected JSONL.") from None
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise AlignlabError(f"{path}: cannot read it ({exc}); expected a JSONL file with {expected} per line.") from None


def _line(row: dict[str, Any]) -> str:
    # default=str: timestamps and paths in log records become text rather than failing the whole write.
    return json.dumps(row, ensure_ascii=False, default=str) + "\n"


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write one JSON object per line (UTF-8, non-ASCII kept), replacing the file; returns the rows written."""
    return _write(path, rows, "w")


def append_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Append one JSON object per line to ``path`` (created if missing) and flush, so a log written as
    work goes on keeps every finished row if the run is interrupted; returns the rows written."""
    return _write(path, rows, "a")


def _write(path: str | Path, rows: Iterable[dict[str, Any]], mode: str) -> int:
    count = 0
    with open(path, mode, encoding="utf-8") as handle:
        for row in rows:
            handle.write(_line(row))
            count += 1
        handle.flush()
    return count
