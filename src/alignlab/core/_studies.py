"""Study folders as a collection: listing them (``alignlab studies``) and repairing a damaged store
(``alignlab studies --repair DIR``)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from alignlab.core._errors import AlignlabError
from alignlab.core._journal import JOURNAL_FILE, Journal
from alignlab.core._store import Store, StoreDamaged
from alignlab.core._study import SPEC_FILE, STORE_FILE, Study, _counts, _Lock

__all__ = ["list_studies", "repair_study"]


def _state(counts: dict[str, int]) -> str:
    if counts.get("running"):
        return "running"
    if counts.get("pending"):
        return "unfinished"
    return "has failures" if counts.get("failed") else "finished"


def list_studies(folder: str | Path) -> list[dict[str, Any]]:
    """Study folders under ``folder`` (searched two levels deep) with their state and cell counts.

    A study whose store is damaged is listed with state ``damaged`` (and its reason), never raised:
    one broken study must not hide the others.
    """
    folder = Path(folder)
    found: set[Path] = set()
    for name in (STORE_FILE, JOURNAL_FILE):
        for pattern in (name, f"*/{name}", f"*/*/{name}"):
            found |= {p.parent for p in folder.glob(pattern)}
    rows = []
    for directory in sorted(found):
        path = directory / STORE_FILE
        row: dict[str, Any] = {"name": directory.name, "kind": "?", "cells": 0, "done": 0, "failed": 0, "pending": 0,
                               "state": "", "reason": "", "folder": directory}
        try:
            if not path.is_file():
                raise StoreDamaged(path, "the file is missing", rebuildable=True)
            store = Store(path)
            try:
                meta, counts = store.meta(), _counts(store)
            finally:
                store.close()
        except StoreDamaged as exc:
            meta, counts = Journal(directory / JOURNAL_FILE).latest()[0], {}
            row |= {"state": "damaged", "reason": exc.reason,
                    "fix": f"alignlab studies --repair {directory}" if exc.rebuildable else ""}
        row |= {"name": meta.get("name", row["name"]), "kind": meta.get("kind", "?")}
        if counts:
            row |= {"cells": sum(counts.values()), "done": counts.get("done", 0), "failed": counts.get("failed", 0),
                    "pending": counts.get("pending", 0) + counts.get("running", 0), "state": _state(counts)}
        stamp = max((p.stat().st_mtime for p in (path, directory / JOURNAL_FILE) if p.exists()), default=0)
        row["updated"] = datetime.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M")
        rows.append(row)
    return rows


def repair_study(directory: str | Path) -> str:
    """Rebuild a study's store from its journal if it is damaged; returns what was done.

    Cells of the folder's spec that the journal does not hold are registered again as pending, so the
    rebuilt study lists (and resumes) as before. Refused while the study is running.
    """
    directory = Path(directory)
    path = directory / STORE_FILE
    if not (directory / JOURNAL_FILE).is_file() and not path.is_file():
        raise AlignlabError(f"'{directory}' is not a study folder (no {STORE_FILE} or {JOURNAL_FILE}).")
    with _Lock(directory.resolve()):
        try:
            Store(path).close()
            return f"{path} passed its integrity check; nothing to repair."
        except StoreDamaged as exc:
            if not exc.rebuildable:
                raise
            reason = exc.reason
        store, moved = Store.rebuild(path)
        try:
            done = sum(1 for c in store.cells(in_spec=False) if c["status"] == "done")
            note = ""
            if (directory / SPEC_FILE).is_file():
                try:
                    study = Study.restore(directory, check=False)
                    store.sync_cells(study.spec.cells)
                except AlignlabError as error:  # the journal's cells are back either way
                    note = f" The spec could not be read to register unfinished cells ({error})."
        finally:
            store.close()
    kept = f"; the damaged file is kept as {moved.name}" if moved else ""
    return f"Rebuilt {path} from {JOURNAL_FILE} ({reason}): {done} finished cell(s) restored{kept}.{note}"
