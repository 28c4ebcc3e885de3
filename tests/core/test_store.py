"""The results store survives damage: integrity check on open, journal, rebuild, damaged studies listed."""

import json
import sqlite3

import pytest

import alignlab.core._noop  # noqa: F401  (registers the noop study kind)
from alignlab.core import AlignlabError, Store, Study, parse_spec
from alignlab.core._journal import Journal
from alignlab.core._store import StoreDamaged
from alignlab.core._studies import list_studies, repair_study


def _noop_study(folder, seeds=6):
    spec = parse_spec({"study": "noop", "name": "noop-test", "seeds": seeds})
    study = Study(spec, folder)
    assert study.run(show_progress=False, report=False) == {"done": seeds}
    return study


def _snapshot(store: Store):
    """Everything a report reads about finished cells: status, outcome, stage results, metrics."""
    cells = {c["cell_id"]: (c["status"], c["outcome"], c["config"], c["factors"]) for c in store.cells()}
    stages = {c: {name: (s["status"], s["result"]) for name, s in store.cell_stages(c).items()} for c in cells}
    metrics = store.metrics_frame().sort_values(["cell_id", "step", "name"]).reset_index(drop=True)
    return cells, stages, metrics


def _truncate(path, fraction):
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(int(size * fraction))


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.75, 0.99])
@pytest.mark.parametrize("recover", ["run", "repair"])
def test_a_truncated_store_is_an_error_or_a_rebuild_and_no_finished_cell_is_lost(tmp_path, fraction, recover):
    folder = tmp_path / "study"
    study = _noop_study(folder)
    store = study.store()
    before = _snapshot(store)
    store.close()
    assert len(before[2]) == 6 and set(before[2]["name"]) == {"seconds"}  # the noop stage logs one metric
    db = folder / "results.sqlite"
    _truncate(db, fraction)
    try:
        Store(db).close()  # a damaged store must not open quietly...
        damaged = False
    except StoreDamaged as exc:
        damaged = True  # ...it says which file and how to fix it
        assert str(db) in str(exc) and f"alignlab studies --repair {folder}" in str(exc) and exc.rebuildable
    assert damaged or fraction > 0.9  # only a cut into free space at the very end may pass the check
    if recover == "run":  # a re-run rebuilds first, then finds nothing left to do
        assert Study(study.spec, folder).run(show_progress=False, report=False) == {"done": 6}
    else:
        message = repair_study(folder)
        assert ("Rebuilt" in message and "6 finished cell(s)" in message) if damaged else "nothing to repair" in message
    after = _snapshot(study.store())
    # Same stage results (they hold each run's pid and timing) and metrics: restored, not recomputed.
    assert after[0] == before[0] and after[1] == before[1]
    assert after[2].equals(before[2])
    if damaged:
        assert len(list(folder.glob("results.sqlite.damaged-*"))) == 1


def _study_with_a_wal(tmp_path):
    """A finished study copied while its writes were still in the WAL file (as after a crash)."""
    folder, copy = tmp_path / "study", tmp_path / "copy"
    spec = parse_spec({"study": "noop", "name": "noop-test", "seeds": 6})
    reader = Store(folder / "results.sqlite")  # held open, so the study's writes stay in the WAL file
    reader.db.execute("PRAGMA wal_autocheckpoint=0")
    Study(spec, folder).run(show_progress=False, report=False)
    before = _snapshot(reader)
    copy.mkdir()
    for name in ("results.sqlite", "results.sqlite-wal", "journal.jsonl", "spec.yaml"):
        (copy / name).write_bytes((folder / name).read_bytes())
    reader.close()
    assert (copy / "results.sqlite-wal").stat().st_size > 0
    return spec, copy, before


@pytest.mark.parametrize("cut", ["results.sqlite", "results.sqlite-wal"])
def test_a_truncated_main_file_or_wal_loses_no_finished_cell(tmp_path, cut):
    spec, copy, before = _study_with_a_wal(tmp_path)
    _truncate(copy / cut, 0.5)
    try:
        Store(copy / "results.sqlite").close()
    except StoreDamaged:
        pass  # caught and rebuilt by the run below; a cut WAL instead loses commits silently: the run restores them
    assert Study(spec, copy).run(show_progress=False, report=False) == {"done": 6}
    after = _snapshot(Store(copy / "results.sqlite"))
    assert after[0] == before[0] and after[1] == before[1] and after[2].equals(before[2])
    for damaged in copy.glob("results.sqlite.damaged-*[0-9]"):
        assert damaged.with_name(damaged.name + "-wal").exists()  # the old WAL went aside with it


def test_an_empty_store_beside_artifacts_without_a_journal_is_refused_not_redone(tmp_path):
    folder = tmp_path / "study"
    study = _noop_study(folder, seeds=2)
    (folder / "journal.jsonl").unlink()  # as in a study made before the journal existed
    (folder / "results.sqlite").write_bytes(b"")
    with pytest.raises(AlignlabError, match=r"no journal\.jsonl to rebuild it from") as caught:
        Study(study.spec, folder).run(show_progress=False, report=False)
    assert not caught.value.rebuildable
    assert not list(folder.glob("results.sqlite.damaged-*"))


def test_workers_append_whole_journal_lines_for_every_finished_stage_and_cell(tmp_path):
    folder = tmp_path / "study"
    spec = parse_spec({"study": "noop", "name": "noop-test", "seeds": 6})
    assert Study(spec, folder).run(workers=2, show_progress=False, report=False) == {"done": 6}
    lines = (folder / "journal.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line whole
    kinds = [r["type"] for r in records]
    assert kinds.count("stage") == 6 and kinds.count("cell") == 6
    assert len({r["result"]["pid"] for r in records if r["type"] == "stage"}) == 2  # written by both workers
    assert all(r["metrics"][0]["name"] == "seconds" for r in records if r["type"] == "stage")


def test_a_torn_last_journal_line_is_skipped(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append({"type": "meta", "values": {"name": "x"}})
    with open(journal.path, "a") as handle:
        handle.write('{"type": "stage", "stage_k')  # a crash mid-write
    assert [r["type"] for r in journal.records()] == ["meta"]


def test_the_listing_shows_a_damaged_study_as_damaged_and_the_others_as_usual(tmp_path):
    _noop_study(tmp_path / "good", seeds=2)
    _noop_study(tmp_path / "bad", seeds=3)
    _truncate(tmp_path / "bad" / "results.sqlite", 0.5)
    rows = {r["folder"].name: r for r in list_studies(tmp_path)}
    assert rows["good"]["state"] == "finished" and rows["good"]["done"] == 2
    assert rows["bad"]["state"] == "damaged" and rows["bad"]["name"] == "noop-test"  # name from the journal
    assert rows["bad"]["fix"] == f"alignlab studies --repair {tmp_path / 'bad'}"
    repair_study(tmp_path / "bad")
    rows = {r["folder"].name: r for r in list_studies(tmp_path)}
    assert rows["bad"]["state"] == "finished" and rows["bad"]["done"] == 3


def test_a_repair_registers_the_specs_unfinished_cells_again(tmp_path):
    folder = tmp_path / "study"
    study = _noop_study(folder, seeds=2)
    store = study.store()
    store.db.execute("UPDATE cells SET status = 'pending' WHERE cell_id = ?", (study.spec.cells[0].id,))
    store.close()
    # the journal still says done for that cell; drop its lines to play a cell that never finished
    journal = folder / "journal.jsonl"
    keep = [line for line in journal.read_text().splitlines()
            if json.loads(line).get("cell_id") != study.spec.cells[0].id]
    journal.write_text("\n".join(keep) + "\n")
    (folder / "results.sqlite").write_bytes(b"garbage, not a database" * 100)
    assert "1 finished cell(s)" in repair_study(folder)
    statuses = {c["cell_id"]: c["status"] for c in Store(folder / "results.sqlite").cells()}
    assert statuses == {study.spec.cells[0].id: "pending", study.spec.cells[1].id: "done"}


def test_a_healthy_store_passes_the_check_and_a_missing_table_is_not_mistaken_for_damage(tmp_path):
    Store(tmp_path / "results.sqlite").close()  # a fresh folder: a fresh store
    db = sqlite3.connect(tmp_path / "results.sqlite")
    assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    db.close()
    Store(tmp_path / "results.sqlite").close()
