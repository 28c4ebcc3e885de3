"""The study journal: an append-only copy of every finished stage and cell, to rebuild a damaged store.

``STUDY/journal.jsonl`` beside ``results.sqlite`` gets one JSON line per finished stage (key, name,
result, timings and its metrics) and per finished cell (its row, with the stages it used), plus the
study's meta. A line is written before the matching SQLite write, with one ``write`` on a file opened
with ``O_APPEND`` under an exclusive ``flock`` (several worker processes append at once; a line can be
longer than ``PIPE_BUF``); a finished cell's line is also flushed to disk, with its stages' lines, so
whatever the database loses, the journal still has.

Rebuilding moves the damaged database (and its ``-wal``/``-shm`` files, which SQLite would otherwise
replay into the new file) aside as ``results.sqlite.damaged-<time>`` and replays the journal into a
fresh one; a later line for the same stage or cell replaces an earlier one.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["JOURNAL_FILE", "Journal", "move_aside", "replay_into"]

JOURNAL_FILE = "journal.jsonl"


class Journal:
    """Appends records to (and reads them back from) a study's ``journal.jsonl``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def append(self, record: dict[str, Any], *, sync: bool = False) -> None:
        """Append one record as one line; ``sync`` also flushes the file (every earlier line too) to disk."""
        line = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            # The lock keeps lines of concurrent writers whole (appends over PIPE_BUF may interleave on
            # some filesystems). A written line outlives any crash of this process; fdatasync makes it
            # outlive a machine crash too, at ~10 ms a call, so the store asks for it once per finished
            # cell (which also flushes the cell's stage lines), not per line.
            fcntl.flock(fd, fcntl.LOCK_EX)
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
            if sync:
                os.fdatasync(fd)
        finally:
            os.close(fd)  # closing releases the lock

    def records(self) -> Iterator[dict[str, Any]]:
        """Every whole record in order; a torn last line (a crash mid-write) is skipped."""
        if not self.path.is_file():
            return
        with open(self.path, encoding="utf-8") as handle:
            for text in handle:
                try:
                    record = json.loads(text)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and "type" in record:
                    yield record

    def has_records(self) -> bool:
        return next(self.records(), None) is not None

    def latest(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """``(meta, stages by key, cells by id)`` as the journal leaves them (last record wins)."""
        meta: dict[str, Any] = {}
        stages: dict[str, dict[str, Any]] = {}
        cells: dict[str, dict[str, Any]] = {}
        for record in self.records():
            if record["type"] == "meta":
                meta.update(record.get("values") or {})
            elif record["type"] == "stage":
                stages[record["stage_key"]] = record
            elif record["type"] == "cell":
                cells[record["cell_id"]] = record
        return meta, stages, cells


def move_aside(db_path: Path) -> Path:
    """Rename a damaged database and its WAL/SHM files out of the way; returns the new main file name."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = db_path.with_name(f"{db_path.name}.damaged-{stamp}")
    number = 1
    while target.exists():  # two repairs within a second keep both copies
        number += 1
        target = db_path.with_name(f"{db_path.name}.damaged-{stamp}-{number}")
    for suffix in ("", "-wal", "-shm"):
        source = db_path.with_name(db_path.name + suffix)
        if source.exists():
            os.replace(source, target.with_name(target.name + suffix))
    return target


def replay_into(db: sqlite3.Connection, meta: dict[str, Any], stages: dict[str, dict[str, Any]],
            cells: dict[str, dict[str, Any]]) -> None:
    """Write journal records (see :meth:`Journal.latest`) into a results database (the store's tables), in
    one transaction: how a damaged or incomplete store is rebuilt."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for key, value in meta.items():
            db.execute("INSERT OR REPLACE INTO meta VALUES(?, ?)", (key, json.dumps(value)))
        for s in stages.values():
            db.execute("DELETE FROM metrics WHERE stage_key = ?", (s["stage_key"],))
            db.execute("INSERT OR REPLACE INTO stages VALUES(?,?,?,?,?,?,?,?)",
                       (s["stage_key"], s["name"], s["status"], _json_or_none(s.get("result")), s.get("error"),
                        s.get("started"), s.get("finished"), s.get("seconds")))
            db.executemany("INSERT OR REPLACE INTO metrics VALUES(?,?,?,?,?,?)",
                           [(s["stage_key"], m["step"], m["name"], m["value"], m["lo"], m["hi"])
                            for m in s.get("metrics", [])])
        for c in cells.values():
            db.execute(
                "INSERT OR REPLACE INTO cells VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (c["cell_id"], c["position"], json.dumps(c["config"]), json.dumps(c["factors"]), c["seed"],
                 c["status"], c["outcome"], c["error"], c.get("in_spec", 1), c.get("attempts", 1),
                 c.get("started"), c.get("finished"), c.get("seconds")))
            db.executemany("INSERT OR REPLACE INTO cell_stages VALUES(?,?,?)",
                           [(c["cell_id"], name, key) for name, key in c.get("stages", {}).items()])
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _json_or_none(value: Any) -> str | None:
    return json.dumps(value) if value is not None else None
