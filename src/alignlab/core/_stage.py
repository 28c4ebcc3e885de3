"""What a study kind hands the engine: stages, the context a running stage sees (with the recorder its
results go to), and the kind's protocol.

A stage is identified by a hash of its name, its inputs (the config parts it depends on) and the keys of
the stages before it (:func:`stage_key`), so two cells that agree on a stage's inputs share its result.
:class:`StudyKind` shows a whole kind in a few lines.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from alignlab.core._errors import AlignlabError
from alignlab.core._spec import Cell, StudySpec

if TYPE_CHECKING:
    from alignlab.core._study import Study

__all__ = ["Recorder", "Stage", "StageContext", "StudyKind", "stage_key"]


@dataclass
class Stage:
    """One resumable step of a cell. ``run`` returns a JSON-able result."""

    name: str
    inputs: Any
    run: Callable[[StageContext], Any]


class StudyKind(Protocol):
    """What an instrument provides to run studies through the engine.

    Example::

        @register("study", "my-study")
        class MyStudy:
            name = "my-study"
            config_class = MyCellConfig
            example_spec = "study: my-study\\nname: example\\n"
            init_command = "alignlab my-instrument init"   # optional; named in spec errors
            def check(self, spec): ...
            def stages(self, config): return [Stage("train", config.model_dump(), train)]
            def report(self, study): ...
    """

    name: str
    config_class: type[BaseModel]
    example_spec: str
    # Optional: the command that writes example_spec to a file, which a spec error names ("Run `...` for a
    # commented example"). A kind without it is taken to have `alignlab <kind> init`; None names none.
    # init_command: str | None
    # Optional: ``expand(raw: dict) -> dict`` rewrites the cell fields before the grid is built (e.g. a folder
    # into a list factor of its models); it raises AlignlabError naming the field. Without it, as written.

    def check(self, spec: StudySpec) -> None: ...

    def stages(self, config: BaseModel) -> list[Stage]: ...

    def report(self, study: Study) -> list[Path]: ...


class Recorder(Protocol):
    """What a running cell writes and reads: the :class:`Store` itself, or a proxy to the driver's store
    (a Ray worker on another machine). Artifact methods move stage folders when the study folder is not
    shared with the worker; for the local store they do nothing."""

    def start_cell(self, cell_id: str) -> None: ...
    def finish_cell(self, cell_id: str, status: str, *, outcome: str | None = None, error: str | None = None) -> None: ...
    def stage(self, key: str) -> dict[str, Any] | None: ...
    def link_stage(self, cell_id: str, name: str, key: str) -> None: ...
    def start_stage(self, key: str, name: str) -> None: ...
    def finish_stage(self, key: str, status: str, *, result: Any = None, error: str | None = None) -> None: ...
    def log_metric(self, key: str, step: int, name: str, value: float, lo: float | None = None, hi: float | None = None) -> None: ...
    def stage_metrics(self, key: str) -> list[dict[str, Any]]: ...
    def fetch_artifacts(self, name: str, key: str, folder: Path) -> None: ...
    def publish_artifacts(self, name: str, key: str, folder: Path) -> None: ...


@dataclass
class StageContext:
    """What a running stage sees: its cell, earlier results, its artifact folder, logging and progress."""

    cell: Cell
    key: str
    directory: Path  # this stage's artifact folder
    results: dict[str, Any]  # earlier stages' results, by name
    artifacts: dict[str, Path]  # earlier stages' artifact folders, by name
    memory: dict[str, Any]  # objects passed between stages of one cell in one process (may be empty)
    store: Recorder
    progress_factory: Callable[[str, int], Callable[[int], None]] = field(repr=False, default=lambda d, t: lambda k: None)

    @property
    def config(self) -> Any:
        return self.cell.config

    def log(self, step: int, name: str, value: float, lo: float | None = None, hi: float | None = None) -> None:
        """Record a metric at a step (with an optional interval)."""
        self.store.log_metric(self.key, step, name, float(value), lo, hi)

    def progress(self, description: str, total: int) -> Callable[[int], None]:
        """A progress bar for this stage; call the returned function with the units just done."""
        return self.progress_factory(description, total)


def stage_key(name: str, inputs: Any, upstream: list[str]) -> str:
    payload = json.dumps({"stage": name, "inputs": inputs, "after": upstream}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class _Lock:
    """One driver per study directory (a second ``run`` on the same folder would race the store)."""

    def __init__(self, directory: Path):
        self.path = directory / ".lock"

    def __enter__(self) -> _Lock:
        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise AlignlabError(f"The study in '{self.path.parent}' is being run by another process; wait for it or stop it.") from None
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
