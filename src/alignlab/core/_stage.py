"""What a study kind hands the engine: stages, the context a running stage sees, and the kind's protocol.

A stage is identified by a hash of its name, its inputs (the config parts it depends on) and the keys of
the stages before it (:func:`stage_key`), so two cells that agree on a stage's inputs share its result.

Example::

    @register("study", "my-study")
    class MyStudy:
        name = "my-study"
        config_class = MyCellConfig
        example_spec = "study: my-study\\nname: example\\n"
        init_command = "alignlab my-instrument init"
        def check(self, spec): ...
        def stages(self, config): return [Stage("train", config.model_dump(), train)]
        def report(self, study): ...
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
from alignlab.core._store import Recorder

if TYPE_CHECKING:
    from alignlab.core._study import Study

__all__ = ["Stage", "StageContext", "StudyKind", "stage_key"]


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

    def check(self, spec: StudySpec) -> None: ...

    def stages(self, config: BaseModel) -> list[Stage]: ...

    def report(self, study: Study) -> list[Path]: ...


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
