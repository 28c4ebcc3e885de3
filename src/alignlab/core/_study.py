"""Running a study: cells × stages, content-addressed, resumable, with progress.

A study kind (registered as ``("study", name)``) supplies the cell config class and, per cell, an
ordered list of :class:`Stage`. A stage is identified by a hash of its name, its inputs (the config
parts it depends on) and the keys of the stages before it, so two cells that agree on a stage's inputs
share its result (a grid over a late stage's settings computes the early stages once), and a re-run skips
every stage already done. A stage may end its cell early by returning ``{"stop": "reason"}`` (e.g. a
failed quality gate): the cell is done, and the reason is its outcome.

Example::

    study = Study.from_spec("my-study.yaml")
    study.run()
    Study.restore(study.directory).run()   # resumes; finished cells are not redone
"""

from __future__ import annotations

import shlex
import traceback
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from alignlab.core._errors import AlignlabError
from alignlab.core._journal import JOURNAL_FILE
from alignlab.core._progress import progress_bars, quiet_transformers, stage_bars
from alignlab.core._registry import get
from alignlab.core._spec import Cell, StudySpec, load_spec, parse_spec
from alignlab.core._stage import Recorder, Stage, StageContext, StudyKind, _Lock, stage_key  # noqa: F401  (Stage: re-exported)
from alignlab.core._store import Store, StoreDamaged

# Stage, StageContext and StudyKind live in _stage (what a study kind provides); they are importable from
# here too, as they always were, but listed in that module's __all__ only.
__all__ = ["Study", "run_exit_status"]

STORE_FILE = "results.sqlite"
SPEC_FILE = "spec.yaml"


class Study:
    """A study directory: its spec, results store, artifacts and reports."""

    def __init__(self, spec: StudySpec, directory: str | Path):
        self.spec = spec
        self.directory = Path(directory)
        self.kind: StudyKind = get("study", spec.kind).factory()

    # --- entry points ---------------------------------------------------
    @classmethod
    def from_spec(cls, path: str | Path, *, out: str | Path | None = None, default_kind: str | None = None) -> Study:
        """A study from a YAML spec; its folder defaults to ``studies/<name>``. ``default_kind`` is the kind
        of a spec without a ``study:`` field (see :func:`~alignlab.core.load_spec`)."""
        spec = load_spec(path, default_kind=default_kind)
        return cls(spec, Path(out) if out else Path("studies") / spec.name)

    @classmethod
    def from_data(cls, data: dict[str, Any], *, out: str | Path | None = None, where: str = "spec") -> Study:
        """A study from a spec already in memory (what a command builds from its options), validated as a
        YAML spec would be; its folder defaults to ``studies/<name>``. The folder then holds that spec as
        ``spec.yaml``, so ``alignlab run``, ``alignlab report`` and ``alignlab studies`` treat it like any
        other study, and running the same command again resumes it.
        """
        spec = parse_spec(data, where=where)
        return cls(spec, Path(out) if out else Path("studies") / spec.name)

    @staticmethod
    def can_restore(directory: str | Path) -> bool:
        # A folder whose store was lost but whose journal remains is still a study (it can be rebuilt).
        directory = Path(directory)
        return (directory / SPEC_FILE).is_file() and any((directory / f).is_file() for f in (STORE_FILE, JOURNAL_FILE))

    @classmethod
    def restore(cls, directory: str | Path, *, check: bool = True) -> Study:
        """Re-open a study folder (to resume it, or to report on it).

        ``check=False`` skips the study kind's checks (that its models are available, say), which a
        report, made perhaps offline on another machine, does not need.
        """
        directory = Path(directory)
        if not cls.can_restore(directory):
            raise AlignlabError(f"'{directory}' is not a study folder (no {SPEC_FILE} and {STORE_FILE}).")
        import yaml

        text = (directory / SPEC_FILE).read_text(encoding="utf-8")
        spec = parse_spec(yaml.safe_load(text), where=str(directory / SPEC_FILE), check=check)
        spec.text = text
        return cls(spec, directory)

    def store(self) -> Store:
        """The study's results store; raises :class:`StoreDamaged` (an :class:`AlignlabError`) if damaged."""
        return Store(self.directory / STORE_FILE)

    # --- running --------------------------------------------------------
    def prepare(self, console: Console | None = None) -> Store:
        """Write the spec and register its cells; a damaged store with a journal is rebuilt first."""
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / SPEC_FILE).write_text(self.spec.yaml(), encoding="utf-8")
        console = console or Console(stderr=True)
        try:
            store = self.store()
        except StoreDamaged as exc:
            if not exc.rebuildable:
                raise
            store, moved = Store.rebuild(exc.path)
            console.print(f"[yellow]The results store was damaged[/] ({exc.reason}); rebuilt it from {JOURNAL_FILE}"
                          + (f", the damaged file is kept as {moved.name}." if moved else "."), highlight=False)
        if restored := store.reconcile():
            console.print(f"[yellow]The results store lacked {restored} finished stage(s) or cell(s)[/] that "
                          f"{JOURNAL_FILE} holds (a lost write-ahead log?); restored them.", highlight=False)
        store.set_meta(kind=self.spec.kind, name=self.spec.name, description=self.spec.description,
                       factors={p: v for p, v in self.spec.factors.items()}, seeds=self.spec.seeds)
        store.sync_cells(self.spec.cells)
        return store

    def pending(self, store: Store, *, retry_failed: bool = True) -> list[Cell]:
        todo = {"pending"} | ({"failed"} if retry_failed else set())
        return [c for c in self.spec.cells if store.cell_status(c.id) in todo]

    def run(self, *, executor: str = "local", workers: int = 1, address: str | None = None, retries: int = 1,
            retry_failed: bool = True, show_progress: bool = True, report: bool = True) -> dict[str, int]:
        """Run every unfinished cell; returns counts by status. Re-running resumes.

        Args:
            executor: ``local`` (this machine; ``workers`` processes) or ``ray`` (a Ray cluster).
            workers: parallel cells for the local executor (1 runs them in this process).
            address: Ray cluster address (``ray`` executor); none starts a local cluster for the run.
            retries: times a cell whose worker dies is retried before it is recorded as failed.
            retry_failed: also re-run cells that failed in an earlier run.
            show_progress: rich progress bars (on a terminal).
            report: write the study kind's report at the end.
        """
        from alignlab.core._executors import get_executor

        run_cells = get_executor(executor, workers=workers, address=address, retries=retries)
        console = Console(stderr=True)
        with _Lock(self._mkdir()):
            store = self.prepare(console)
            cells = self.pending(store, retry_failed=retry_failed)
            done_before = len(self.spec.cells) - len(cells)
            console.print(
                f"[bold]{self.spec.name}[/]: {len(self.spec.cells)} cells ({done_before} already finished), "
                f"study folder {self.directory}, executor {executor}"
            )
            quiet_transformers()
            try:
                with progress_bars(show_progress, console) as bars:
                    overall = bars.add_task("cells", total=len(self.spec.cells), completed=done_before)

                    def finished(cell: Cell, status: str) -> None:
                        bars.advance(overall)
                        console.print(f"  cell {_short(cell)}: {status}, {_cell_note(store, cell.id)}")

                    run_cells(self, cells, store, bars, finished)
            except KeyboardInterrupt:
                console.print(f"[yellow]Interrupted.[/] Finished cells are kept; resume with: {self.resume_command()}")
                raise
            counts = _counts(store)
            failure = self.failure_summary(store)
            store.close()
        if report:
            for path in self.kind.report(self):
                console.print(f"Report: {path}")
        if failure:  # last, so it is what the user sees when the run ends
            console.print(f"[red]{failure}[/]", highlight=False)
        return counts

    def failure_summary(self, store: Store) -> str:
        """How many in-spec cells failed, the first one's error, and how to see every error; '' if none."""
        cells = store.cells()
        failed = [c for c in cells if c["status"] == "failed"]
        if not failed:
            return ""
        first = (failed[0]["error"] or "no error recorded").strip().splitlines()[-1]
        label = " ".join(f"{k}={v}" for k, v in failed[0]["factors"].items()) or failed[0]["cell_id"]
        folder = shlex.quote(str(self.directory))
        return (f"{len(failed)} of {len(cells)} cell(s) failed. The first ({label}): {first}. Each failed cell's error: "
                f"`alignlab report {folder}` (summary.md); full tracebacks are in {self.directory / STORE_FILE} "
                f"(`Store(path).cells()`). Retry them with: {self.resume_command()}")

    def _mkdir(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory.resolve()

    def stage_keys(self, cell: Cell) -> list[str]:
        """The content addresses of a cell's stages, computed without running anything."""
        keys: list[str] = []
        for stage in self.kind.stages(cell.config):
            keys.append(stage_key(stage.name, stage.inputs, list(keys)))
        return keys

    def resume_command(self) -> str:
        return f"alignlab run {shlex.quote(str(self.directory / SPEC_FILE))} --out {shlex.quote(str(self.directory))}"

    def run_cell(self, cell: Cell, store: Recorder, bars: Progress | None = None, *,
                 artifacts_root: Path | None = None) -> str:
        """Run one cell's stages, skipping those already done; record failures and go on.

        ``store`` is the study's :class:`Store` or a proxy to it (a Ray worker's); ``artifacts_root`` is
        where stage folders live when the study folder is not reachable from this machine.
        """
        store.start_cell(cell.id)
        results: dict[str, Any] = {}
        artifacts: dict[str, Path] = {}
        memory: dict[str, Any] = {}
        upstream: list[str] = []
        current = ""
        try:
            for stage in self.kind.stages(cell.config):
                current = stage.name
                key = stage_key(stage.name, stage.inputs, upstream)
                upstream.append(key)
                store.link_stage(cell.id, stage.name, key)
                folder = (artifacts_root or self.directory / "artifacts") / stage.name / key
                previous = store.stage(key)
                if previous and previous["status"] == "done":
                    result = previous["result"]
                    store.fetch_artifacts(stage.name, key, folder)
                else:
                    folder.mkdir(parents=True, exist_ok=True)
                    store.start_stage(key, stage.name)
                    ctx = StageContext(cell, key, folder, dict(results), dict(artifacts), memory, store,
                                       stage_bars(bars, f"{_short(cell)} · {stage.name}"))
                    try:
                        result = stage.run(ctx)
                    except BaseException as exc:
                        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                        store.finish_stage(key, status, error=_error_text(exc))
                        raise
                    store.publish_artifacts(stage.name, key, folder)  # before "done": a dead worker leaves it undone
                    store.finish_stage(key, "done", result=result)
                results[stage.name], artifacts[stage.name] = result, folder
                if isinstance(result, dict) and result.get("stop"):
                    store.finish_cell(cell.id, "done", outcome=str(result["stop"]))
                    return "done"
        except KeyboardInterrupt:
            store.finish_cell(cell.id, "pending", error="interrupted")
            raise
        except AlignlabError as exc:
            store.finish_cell(cell.id, "failed", error=f"{current}: {exc}")
            return "failed"
        except Exception as exc:  # a failing cell is recorded; the others go on
            store.finish_cell(cell.id, "failed", error=f"{current}: {_error_text(exc)}")
            return "failed"
        store.finish_cell(cell.id, "done", outcome="completed")
        return "done"


def run_exit_status(study: Study, counts: dict[str, int], console: Console | None = None) -> int:
    """What a CLI prints and exits with after :meth:`Study.run`: 0 when no cell failed, 1 when some did
    (:meth:`Study.run` has already said how many and how to see why). User errors found before any cell
    runs raise :class:`AlignlabError` instead, which the CLI turns into exit status 2."""
    (console or Console(stderr=True)).print(f"Done: {counts}. Study folder: {study.directory}", highlight=False)
    return 1 if counts.get("failed") else 0


def _short(cell: Cell) -> str:
    return " ".join(f"{k}={v}" for k, v in cell.factors.items()) or cell.id


def _cell_note(store: Store, cell_id: str) -> str:
    row = store.db.execute("SELECT outcome, error FROM cells WHERE cell_id = ?", (cell_id,)).fetchone()
    if row["error"]:
        return row["error"].strip().splitlines()[-1]
    return row["outcome"] or ""


def _error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-8)).strip()


def _counts(store: Store) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in store.cells():
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts

