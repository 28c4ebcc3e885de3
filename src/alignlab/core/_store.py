"""The results store: one SQLite file (WAL) per study directory.

Tables: ``meta`` (kind, name, spec text), ``cells`` (config, hash, factors, status, outcome, error,
timings), ``stages`` (content-addressed by the stage's inputs, shared by cells that agree on them),
``cell_stages`` (which stage each cell used) and ``metrics`` (by stage and step, with intervals).
Artifacts (adapters, generated samples) live on disk under ``artifacts/<stage>/<key>/``.

Every write is its own short transaction, so a crash loses at most the stage in progress. Each finished
stage and cell is also appended to ``journal.jsonl`` (see :mod:`alignlab.core._journal`) before it is
written here, so damage to the database itself loses no finished result: opening a store checks it
(``PRAGMA quick_check``), and a damaged one, or an empty one beside a journal or artifacts, raises
:class:`StoreDamaged` instead of silently starting over; :meth:`Store.rebuild` replays the journal.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from alignlab.core._errors import AlignlabError
from alignlab.core._journal import JOURNAL_FILE, Journal, _json_or_none, move_aside, replay_into

__all__ = ["Store", "StoreDamaged"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS cells(
  cell_id TEXT PRIMARY KEY, position INTEGER, config TEXT, factors TEXT, seed INTEGER,
  status TEXT DEFAULT 'pending', outcome TEXT, error TEXT, in_spec INTEGER DEFAULT 1,
  attempts INTEGER DEFAULT 0, started REAL, finished REAL, seconds REAL);
CREATE TABLE IF NOT EXISTS stages(
  stage_key TEXT PRIMARY KEY, name TEXT, status TEXT, result TEXT, error TEXT,
  started REAL, finished REAL, seconds REAL);
CREATE TABLE IF NOT EXISTS cell_stages(cell_id TEXT, name TEXT, stage_key TEXT, PRIMARY KEY(cell_id, name));
CREATE TABLE IF NOT EXISTS metrics(
  stage_key TEXT, step INTEGER, name TEXT, value REAL, lo REAL, hi REAL, PRIMARY KEY(stage_key, step, name));
"""

STATUSES = ("pending", "running", "done", "failed")


class StoreDamaged(AlignlabError):
    """A results store that cannot be trusted: unreadable, failing its integrity check, or empty while
    its folder holds finished results. ``rebuildable`` says whether a journal can restore it."""

    def __init__(self, path: Path, reason: str, *, rebuildable: bool):
        self.path, self.reason, self.rebuildable = path, reason, rebuildable
        folder = path.parent
        if rebuildable:
            fix = (f"Its finished results are kept in {folder / JOURNAL_FILE}: rebuild it with "
                   f"`alignlab studies --repair {folder}` (running the study again also rebuilds it first).")
        else:
            fix = (f"There is no {JOURNAL_FILE} to rebuild it from (the study predates the journal): restore "
                   f"{path.name} from a backup, or move it aside to start the study over.")
        super().__init__(f"The results store {path} is damaged: {reason}. {fix}")


class Store:
    """Access to a study's ``results.sqlite``; safe to open from several processes. It is the
    :class:`~alignlab.core._stage.Recorder` a cell running in the driver's process writes to.

    Opening checks the file and raises :class:`StoreDamaged` when it is damaged, or empty while the
    folder holds a journal or artifacts (a store that silently started over would redo finished work).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(self.path.with_name(JOURNAL_FILE))
        try:
            self._open()
        except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
            if hasattr(self, "db"):
                self.db.close()
            raise self._damaged(str(exc)) from None

    def _open(self) -> None:
        # isolation_level=None: autocommit; explicit BEGIN only where several statements must agree.
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "cells" in tables:
            # quick_check reads every page (a few ms per MB) but skips the costly index cross-checks.
            problems = [r[0] for r in self.db.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(problems))
        elif self.journal.has_records() or _has_artifacts(self.path.parent):
            self.db.close()
            raise self._damaged("it holds no results, but its folder holds finished ones (a journal or artifacts)")
        self.db.executescript(SCHEMA)

    def _damaged(self, reason: str) -> StoreDamaged:
        return StoreDamaged(self.path, reason, rebuildable=self.journal.has_records())

    @classmethod
    def rebuild(cls, path: str | Path) -> tuple[Store, Path | None]:
        """Move the database at ``path`` aside and replay its journal into a fresh one.

        Returns the new store and where the old file went (``None`` if there was none).
        """
        path = Path(path)
        moved = move_aside(path) if path.exists() or path.with_name(path.name + "-wal").exists() else None
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            replay_into(db, *Journal(path.with_name(JOURNAL_FILE)).latest())
        finally:
            db.close()
        return cls(path), moved

    def reconcile(self) -> int:
        """Replay journaled stages and cells this database lacks (a torn WAL loses its last commits
        without any damage to see); returns how many were restored."""
        meta, stages, cells = self.journal.latest()
        done = {r["stage_key"] for r in self.db.execute("SELECT stage_key FROM stages WHERE status = 'done'")}
        finished = {r["cell_id"]: r["status"] for r in self.db.execute(
            "SELECT cell_id, status FROM cells WHERE status IN ('done', 'failed')")}
        stages = {k: s for k, s in stages.items() if k not in done}
        # A failed cell re-run to success has a later 'done' line; a journaled cell the database shows
        # unfinished is restored, one it shows finished is left as it is.
        cells = {k: c for k, c in cells.items() if k not in finished}
        if stages or cells:
            replay_into(self.db, {}, stages, cells)
        return len(stages) + len(cells)

    def close(self) -> None:
        self.db.close()

    # meta -----------------------------------------------------------------
    def set_meta(self, **values: Any) -> None:
        self.journal.append({"type": "meta", "values": values})
        for key, value in values.items():
            self.db.execute("INSERT OR REPLACE INTO meta VALUES(?, ?)", (key, json.dumps(value)))

    def meta(self) -> dict[str, Any]:
        return {r["key"]: json.loads(r["value"]) for r in self.db.execute("SELECT * FROM meta")}

    # cells ----------------------------------------------------------------
    def sync_cells(self, cells: Iterable[Any]) -> None:
        """Register the spec's cells; cells from an earlier version of the spec stay, marked not in spec."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("UPDATE cells SET in_spec = 0")
            for position, cell in enumerate(cells):
                self.db.execute(
                    "INSERT INTO cells(cell_id, position, config, factors, seed) VALUES(?,?,?,?,?) "
                    "ON CONFLICT(cell_id) DO UPDATE SET in_spec = 1, position = excluded.position, "
                    "factors = excluded.factors",
                    (cell.id, position, cell.config.model_dump_json(), json.dumps(cell.factors), cell.seed),
                )
            # A 'running' cell with no live driver was interrupted: it starts again.
            self.db.execute("UPDATE cells SET status = 'pending' WHERE status = 'running'")
            self.db.execute("UPDATE stages SET status = 'interrupted' WHERE status = 'running'")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def cells(self, *, in_spec: bool = True) -> list[dict[str, Any]]:
        query = "SELECT * FROM cells" + (" WHERE in_spec = 1" if in_spec else "") + " ORDER BY position"
        rows = []
        for r in self.db.execute(query):
            row = dict(r)
            row["config"] = json.loads(row["config"])
            row["factors"] = json.loads(row["factors"])
            rows.append(row)
        return rows

    def cell_status(self, cell_id: str) -> str | None:
        row = self.db.execute("SELECT status FROM cells WHERE cell_id = ?", (cell_id,)).fetchone()
        return row["status"] if row else None

    def start_cell(self, cell_id: str) -> None:
        self.db.execute(
            "UPDATE cells SET status='running', started=?, error=NULL, attempts = attempts + 1 WHERE cell_id=?",
            (time.time(), cell_id),
        )

    def finish_cell(self, cell_id: str, status: str, *, outcome: str | None = None, error: str | None = None) -> None:
        assert status in STATUSES, status
        now = time.time()
        row = self.db.execute("SELECT * FROM cells WHERE cell_id = ?", (cell_id,)).fetchone()
        started = row["started"] if row and row["started"] is not None else now
        if row is not None and status in ("done", "failed"):  # journaled first: the database may be lost
            links = self.db.execute("SELECT name, stage_key FROM cell_stages WHERE cell_id = ?", (cell_id,))
            self.journal.append(dict(row) | {
                "type": "cell", "config": json.loads(row["config"]), "factors": json.loads(row["factors"]),
                "status": status, "outcome": outcome, "error": error, "finished": now, "seconds": now - started,
                "stages": {r["name"]: r["stage_key"] for r in links}}, sync=True)
        self.db.execute(
            "UPDATE cells SET status=?, outcome=?, error=?, finished=?, seconds=? WHERE cell_id=?",
            (status, outcome, error, now, now - started, cell_id),
        )

    # stages ---------------------------------------------------------------
    def stage(self, key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM stages WHERE stage_key = ?", (key,)).fetchone()
        if row is None:
            return None
        out = dict(row)
        out["result"] = json.loads(out["result"]) if out["result"] else None
        return out

    def link_stage(self, cell_id: str, name: str, key: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO cell_stages VALUES(?,?,?)", (cell_id, name, key))

    def start_stage(self, key: str, name: str) -> None:
        # A restarted stage begins clean: its partial metrics from the interrupted attempt go.
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("DELETE FROM metrics WHERE stage_key = ?", (key,))
        self.db.execute(
            "INSERT OR REPLACE INTO stages(stage_key, name, status, started) VALUES(?,?, 'running', ?)",
            (key, name, time.time()),
        )
        self.db.execute("COMMIT")

    def finish_stage(self, key: str, status: str, *, result: Any = None, error: str | None = None) -> None:
        now = time.time()
        if status == "done":  # journaled first, metrics included: the reports need them
            row = self.db.execute("SELECT name, started FROM stages WHERE stage_key = ?", (key,)).fetchone()
            started = row["started"] if row and row["started"] is not None else now
            self.journal.append({"type": "stage", "stage_key": key, "name": row["name"] if row else "",
                                 "status": status, "result": result, "error": error, "started": started,
                                 "finished": now, "seconds": now - started, "metrics": self.stage_metrics(key)})
        self.db.execute(
            "UPDATE stages SET status=?, result=?, error=?, finished=?, seconds=? - started WHERE stage_key=?",
            (status, _json_or_none(result), error, now, now, key),
        )

    def cell_stages(self, cell_id: str) -> dict[str, dict[str, Any]]:
        rows = self.db.execute(
            "SELECT cs.name, s.* FROM cell_stages cs JOIN stages s ON s.stage_key = cs.stage_key WHERE cs.cell_id=?",
            (cell_id,),
        )
        out = {}
        for r in rows:
            row = dict(r)
            row["result"] = json.loads(row["result"]) if row["result"] else None
            out[row.pop("name")] = row
        return out

    def interrupt_cell(self, cell_id: str, reason: str) -> None:
        """A cell whose worker vanished: its running stages are interrupted and it is pending again."""
        self.db.execute(
            "UPDATE stages SET status='interrupted', error=? WHERE status='running' AND stage_key IN "
            "(SELECT stage_key FROM cell_stages WHERE cell_id=?)", (reason, cell_id))
        # Only a running cell: one that finished in its worker before the driver collected it stays done.
        self.db.execute("UPDATE cells SET status='pending', error=? WHERE cell_id=? AND status='running'", (reason, cell_id))

    def fetch_artifacts(self, name: str, key: str, folder: Path) -> None:
        """Artifacts of a local store are already in the study folder."""

    def publish_artifacts(self, name: str, key: str, folder: Path) -> None:
        """Artifacts of a local store are already in the study folder."""

    # metrics --------------------------------------------------------------
    def log_metric(self, key: str, step: int, name: str, value: float, lo: float | None = None, hi: float | None = None) -> None:
        self.db.execute("INSERT OR REPLACE INTO metrics VALUES(?,?,?,?,?,?)", (key, step, name, value, lo, hi))

    def stage_metrics(self, key: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT step, name, value, lo, hi FROM metrics WHERE stage_key=? ORDER BY step", (key,))
        return [dict(r) for r in rows]

    def metrics_frame(self):
        """Long frame of every in-spec cell's metrics: cell_id, stage, step, name, value, lo, hi."""
        import pandas as pd

        query = (
            "SELECT c.cell_id, cs.name AS stage, m.step, m.name, m.value, m.lo, m.hi FROM cells c "
            "JOIN cell_stages cs ON cs.cell_id = c.cell_id JOIN metrics m ON m.stage_key = cs.stage_key "
            "WHERE c.in_spec = 1 ORDER BY c.position, cs.name, m.step"
        )
        return pd.read_sql_query(query, self.db)


def _has_artifacts(folder: Path) -> bool:
    artifacts = folder / "artifacts"
    return artifacts.is_dir() and any(artifacts.iterdir())
