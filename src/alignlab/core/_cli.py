"""Shared pieces of the instrument CLIs: option checks, common options, output paths and user files.

Every command checks its options before it does any work, in one of two ways that report alike — one
paragraph naming the option as the user typed it (``--origins must be at least 10 (got 5)``), raised as
:class:`~alignlab.core.AlignlabError`, which the root command prints and turns into exit status 2:

- :func:`build_config` builds a component's pydantic config from options (``SuttonConfig`` from ``--sets``);
- :func:`check_options` decorates a command whose options carry pydantic constraints in their annotation.

Example::

    @app.command()
    @check_options
    def collusion(h: Annotated[int, typer.Option(help="Chain length."), Field(ge=1)] = 26): ...

Floats must be finite everywhere: ``nan`` and ``inf`` are never a sensible option value.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import annotated_types
import typer
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from typer.models import ArgumentInfo, OptionInfo

from alignlab.core._errors import AlignlabError

__all__ = [
    "MAX_WORKERS",
    "Address",
    "Executor",
    "Force",
    "Json",
    "Retries",
    "RetryFailed",
    "Seed",
    "Workers",
    "build_config",
    "check_options",
    "option_error",
    "out_option",
    "output_dir",
    "output_file",
    "report_study",
    "run_study",
    "user_file",
    "write_example",
]

M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])

# One cap for every --workers (instrument configs with a worker count use it too): more processes than
# that only thrash a machine.
MAX_WORKERS = 64

# --- options shared by several commands (same name and help in every instrument) ---------------------------
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout (messages go to stderr).")]
# numpy and torch seed generators take 0 to 2**32 - 1 (numpy rejects negative seeds with a bare ValueError).
Seed = Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same result."),
                 Field(ge=0, le=2**32 - 1)]
Workers = Annotated[int, typer.Option("--workers", help=f"Worker processes run in parallel (1 to {MAX_WORKERS})."),
                    Field(ge=1, le=MAX_WORKERS)]
Executor = Annotated[Literal["local", "ray"], typer.Option(
    "--executor", help="Where cells run: local (this machine) or ray (a Ray cluster).")]
Address = Annotated[str | None, typer.Option(
    "--address", help="Ray cluster address (--executor ray); none starts a local cluster.")]
Retries = Annotated[int, typer.Option(
    "--retries", help="Retries for a cell whose worker dies, before it is recorded as failed."), Field(ge=0, le=100)]
RetryFailed = Annotated[bool, typer.Option(help="Re-run cells that failed in an earlier run.")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")]


def out_option(help: str) -> Any:  # noqa: A002 - typer's own keyword
    """The ``--out``/``-o`` option with a command's own help (what goes there differs by command)."""
    return typer.Option("--out", "-o", help=help)


# --- option errors ------------------------------------------------------------------------------------------
_PHRASES = {
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be greater than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "finite_number": "must be a finite number",
    "literal_error": "must be {expected}",
    "extra_forbidden": "is not a known option",
}


def option_error(exc: ValidationError, names: Mapping[str, str] | str) -> AlignlabError:
    """An :class:`AlignlabError` for a pydantic error, naming each failing option as the user typed it.

    Args:
        exc: the validation error.
        names: field name → option (``{"n_windows": "--origins"}``; unnamed fields become ``--field-name``),
            or one option name for a single value.
    """
    parts = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        if isinstance(names, str):
            option = names
        else:
            option = names.get(loc[0], f"--{loc[0].replace('_', '-')}") if loc else "option"
        option += "".join(f"[{p}]" for p in loc[1:]) if not isinstance(names, str) else ""
        phrase = _PHRASES.get(error["type"])
        text = phrase.format(**error.get("ctx", {})) if phrase else error["msg"][:1].lower() + error["msg"][1:]
        parts.append(f"{option} {text} (got {error['input']!r})")
    return AlignlabError("; ".join(parts) + ".")


def _finite(option: str, value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise AlignlabError(f"{option} must be a finite number (got {value}).")


def build_config(model: type[M], names: Mapping[str, str] | None = None, /, **values: Any) -> M:
    """``model(**values)``, with errors naming the options (``names``: field → option, as in :func:`option_error`).

    Example::

        build_config(StocksConfig, {"n_windows": "--origins"}, n_windows=origins)
    """
    names = dict(names or {})
    for field, value in values.items():
        _finite(names.get(field, f"--{field.replace('_', '-')}"), value)
    try:
        return model(**values)
    except ValidationError as exc:
        raise option_error(exc, names) from None


def _label(name: str, info: Any) -> str:
    """The option as the user types it: the first ``--long`` name, or the argument's metavar."""
    if isinstance(info, ArgumentInfo):
        return info.metavar or name  # as the help's Arguments panel names it
    if isinstance(info, OptionInfo):
        # In Annotated[..., typer.Option("--x")] the first name lands in ``default``.
        for decl in (info.default, *info.param_decls):
            if isinstance(decl, str) and decl.startswith("--"):
                return decl.split("/")[0]
    return f"--{name.replace('_', '-')}"


def check_options(command: F) -> F:
    """Decorate a Typer command: before it runs, check each option against the pydantic constraints in its
    annotation (``Annotated[int, typer.Option(...), Field(ge=1)]``) and that floats are finite."""
    hints = get_type_hints(command, include_extras=True)
    checks: dict[str, tuple[str, TypeAdapter | None]] = {}
    for name, hint in hints.items():
        if name == "return":
            continue
        base, *meta = get_args(hint) if get_origin(hint) is Annotated else (hint,)
        info = next((m for m in meta if isinstance(m, (OptionInfo, ArgumentInfo))), None)
        constraints = [m for m in meta if isinstance(m, (FieldInfo, annotated_types.BaseMetadata))]
        checks[name] = (_label(name, info), TypeAdapter(Annotated[(base, *constraints)]) if constraints else None)

    signature = inspect.signature(command)

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for name, value in signature.bind(*args, **kwargs).arguments.items():
            option, adapter = checks.get(name, (name, None))
            _finite(option, value)
            if adapter is not None:
                try:
                    adapter.validate_python(value)
                except ValidationError as exc:
                    raise option_error(exc, option) from None
        return command(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


# --- output paths -------------------------------------------------------------------------------------------
def _blocking_file(path: Path) -> Path | None:
    """The existing non-folder that ``path`` would have to be created under, if any."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def _named(option: str, path: Path) -> str:
    return f"{option} {path}" if option else str(path)


def output_dir(path: str | Path, option: str = "--out") -> Path:
    """Create the folder ``path`` (and its parents) for a command's output, or raise :class:`AlignlabError`
    when it is a file, lies under a file, or cannot be created or written (``/proc/x``, read-only disks).

    ``option`` names where the path came from in messages (``""``: a positional argument).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise AlignlabError(f"{_named(option, path)} is a file, not a folder; give a folder (it is created if missing).")
    blocker = _blocking_file(path)
    if blocker is not None:
        raise AlignlabError(f"{_named(option, path)} cannot be created: {blocker} is a file, not a folder.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        # Creating and removing a file is the only sure test: as root, os.access says yes to /proc.
        probe = path / f".alignlab-write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise AlignlabError(f"{_named(option, path)}: cannot write there ({exc.strerror or exc}).") from None
    return path


def output_file(path: str | Path, option: str = "--out", *, suffixes: tuple[str, ...] = ()) -> Path:
    """Check that ``path`` can be written as a file, creating its folder; errors name ``option``.

    Args:
        path: the file a command will write (an existing file is kept as it is).
        option: where the path came from, for messages (``""``: a positional argument).
        suffixes: allowed endings (lower case, e.g. ``(".csv", ".parquet")``); empty: any.
    """
    path = Path(path)
    if path.is_dir():
        raise AlignlabError(f"{_named(option, path)} is a folder; give the path of a file to write.")
    if suffixes and path.suffix.lower() not in suffixes:
        raise AlignlabError(f"{option or 'the file'} must end in {' or '.join(suffixes)} (got {path}).")
    blocker = _blocking_file(path)
    if blocker is not None:
        raise AlignlabError(f"{_named(option, path)} cannot be written: {blocker} is a file, not a folder.")
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8"):  # appending: an existing file is not truncated by the test
            pass
        if not existed:
            path.unlink()
    except OSError as exc:
        raise AlignlabError(f"{_named(option, path)}: cannot write it ({exc.strerror or exc}).") from None
    return path


# --- user files ---------------------------------------------------------------------------------------------
@contextmanager
def user_file(path: str | Path, expected: str = "a text file") -> Iterator[None]:
    """Turn a failure to read the user's file ``path`` inside the block (not UTF-8, unreadable, a corrupt
    gzip) into an :class:`AlignlabError` naming it. Only wrap code that reads that one file: any other
    error there would be blamed on it."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise AlignlabError(f"{path}: not UTF-8 text (byte {exc.start} cannot be decoded); expected {expected}.") from None
    except (OSError, EOFError, zlib.error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise AlignlabError(f"{path}: cannot read it ({reason}); expected {expected}.") from None


# --- init commands ------------------------------------------------------------------------------------------
def write_example(path: str | Path, text: str, *, force: bool = False, run_command: str = "alignlab run") -> Path:
    """What every instrument's ``init`` command does: write a commented example spec to ``path`` (never over
    an existing file unless ``force``), then say on stderr how to run it (``run_command PATH``)."""
    from rich.console import Console

    path = Path(path)
    if path.exists() and not path.is_dir() and not force:
        raise AlignlabError(f"'{path}' already exists; pass --force to overwrite it or choose another path.")
    output_file(path, "")
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    Console(stderr=True).print(f"Wrote {path}. Edit it, then run: {run_command} {path}", highlight=False)
    return path


# --- the study commands every instrument shares (`run`, `report`) ---------------------------------------------
def run_study(spec: str | Path, out: Path | None = None, *, kind: str | None = None, default_kind: str | None = None,
              executor: str = "local", workers: int = 1, address: str | None = None, retries: int = 1,
              retry_failed: bool = True) -> None:
    """What ``alignlab run`` and each instrument's ``run`` do: load the spec, run (or resume) the study and
    exit 1 if a cell failed. ``kind`` makes an instrument's command refuse another kind's spec (pointing at
    ``alignlab run``); ``default_kind`` lets a spec leave ``study:`` out."""
    from rich.console import Console

    from alignlab.core._study import Study, run_exit_status

    with user_file(spec, "a YAML study spec"):
        study = Study.from_spec(spec, out=out, default_kind=default_kind)
    if kind is not None and study.spec.kind != kind:
        raise AlignlabError(f"{spec}: field 'study' is '{study.spec.kind}', not '{kind}'; run it with "
                            f"`alignlab run {spec}`.")
    output_dir(study.directory)  # checked once the spec is known good, so a bad spec leaves nothing behind
    counts = study.run(executor=executor, workers=workers, address=address, retries=retries, retry_failed=retry_failed)
    code = run_exit_status(study, counts, Console(stderr=True))
    if code:
        raise typer.Exit(code)


def report_study(study_dir: str | Path, *, kind: str | None = None) -> None:
    """What ``alignlab report`` and each instrument's ``report`` do: rewrite a study folder's report.html and
    summary.md (also mid-study) and print their paths; ``kind`` refuses another kind's folder."""
    from alignlab.core._study import Study

    study = Study.restore(study_dir, check=False)  # a report needs the store, not the models
    if kind is not None and study.spec.kind != kind:
        raise AlignlabError(f"'{study_dir}' holds a '{study.spec.kind}' study, not a {kind} one; use "
                            f"`alignlab report {study_dir}`.")
    study.store().close()  # checked here, so a damaged store is one clear error whatever the report reads
    for path in study.kind.report(study):
        typer.echo(path)
