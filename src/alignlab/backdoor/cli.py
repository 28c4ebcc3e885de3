"""``alignlab backdoor …``: run, demo and init backdoor-persistence studies."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import typer
from rich.console import Console

from alignlab.core._errors import AlignlabError

app = typer.Typer(help="Backdoor persistence: plant a backdoor, apply safety training, measure what persists.",
                  no_args_is_help=True)
console = Console(stderr=True)

RunOut = typer.Option(None, "--out", "-o", help="Study folder (default: studies/<spec name>). Re-running resumes it.")
Executor = typer.Option("local", "--executor", help="Where cells run: local (this machine) or ray (a Ray cluster).")
Workers = typer.Option(1, "--workers", help="Cells run in parallel by the local executor (worker processes).")
Address = typer.Option(None, "--address", help="Ray cluster address (--executor ray); none starts a local cluster.")
Retries = typer.Option(1, "--retries", help="Retries for a cell whose worker dies, before it is recorded as failed.")


def _run(spec: Path, out: Path | None, executor: str, workers: int, address: str | None, retries: int,
         retry_failed: bool) -> None:
    from alignlab.core._study import Study

    study = Study.from_spec(spec, out=out)
    counts = study.run(executor=executor, workers=workers, address=address, retries=retries, retry_failed=retry_failed)
    console.print(f"Done: {counts}. Study folder: {study.directory}")


@app.command()
def run(
    spec: Path = typer.Argument(..., help="Study spec (YAML); `alignlab backdoor init` writes an example."),
    out: Path | None = RunOut,
    executor: str = Executor,
    workers: int = Workers,
    address: str | None = Address,
    retries: int = Retries,
    retry_failed: bool = typer.Option(True, help="Re-run cells that failed in an earlier run."),
) -> None:
    """Run a study spec; finished cells and stages are skipped, so re-running resumes."""
    _run(spec, out, executor, workers, address, retries, retry_failed)


@app.command()
def demo(
    out: Path = typer.Option(Path("studies/demo"), "--out", "-o", help="Study folder."),
    executor: str = Executor,
    workers: int = Workers,
    address: str | None = Address,
) -> None:
    """The default study: SmolLM2-135M, LoRA, normal vs distilled backdoor, HHH SFT safety training."""
    spec = files("alignlab.backdoor").joinpath("specs", "demo.yaml")
    _run(Path(str(spec)), out, executor, workers, address, 1, True)


@app.command()
def init(
    path: Path = typer.Argument(Path("backdoor-study.yaml"), help="Where to write the example spec."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented example spec to start from."""
    if path.exists() and not force:
        raise AlignlabError(f"'{path}' already exists; pass --force to overwrite it or choose another path.")
    path.write_text(files("alignlab.backdoor").joinpath("specs", "example.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    console.print(f"Wrote {path}. Edit it, then run: alignlab backdoor run {path}")
