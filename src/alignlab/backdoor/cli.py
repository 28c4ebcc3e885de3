"""``alignlab backdoor …``: run, demo and init backdoor-persistence studies."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer

from alignlab.core._cli import (
    Address,
    Executor,
    Force,
    Retries,
    RetryFailed,
    Workers,
    check_options,
    out_option,
    run_study,
    write_example,
)

app = typer.Typer(help="Backdoor persistence: plant a backdoor, apply safety training, measure what persists.",
                  no_args_is_help=True)


@app.command()
@check_options
def run(
    spec: Annotated[Path, typer.Argument(
        help="Study spec (YAML; its 'study: backdoor' line may be left out); `alignlab backdoor init` writes an example.")],
    out: Annotated[Path | None, out_option("Study folder (default: studies/<spec name>). Re-running resumes it.")] = None,
    executor: Executor = "local",
    workers: Workers = 1,
    address: Address = None,
    retries: Retries = 1,
    retry_failed: RetryFailed = True,
) -> None:
    """Run a study spec; finished cells and stages are skipped, so re-running resumes."""
    run_study(spec, out, kind="backdoor", default_kind="backdoor", executor=executor, workers=workers, address=address,
              retries=retries, retry_failed=retry_failed)  # `study: backdoor` may be left out


@app.command()
@check_options
def demo(
    out: Annotated[Path, out_option("Study folder.")] = Path("studies/demo"),
    executor: Executor = "local",
    workers: Workers = 1,
    address: Address = None,
) -> None:
    """The default study: SmolLM2-135M, LoRA, normal vs distilled backdoor, HHH SFT safety training."""
    spec = files("alignlab.backdoor").joinpath("specs", "demo.yaml")
    run_study(Path(str(spec)), out, executor=executor, workers=workers, address=address)


@app.command()
@check_options
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the example spec.")] = Path("backdoor-study.yaml"),
    force: Force = False,
) -> None:
    """Write a commented example spec to start from."""
    text = files("alignlab.backdoor").joinpath("specs", "example.yaml").read_text(encoding="utf-8")
    write_example(path, text, force=force, run_command="alignlab backdoor run")


# `alignlab backdoor scan`: the scanner lives in its own sub-package; its command is mounted here.
from alignlab.backdoor.scan.cli import scan_command  # noqa: E402  (after the app it joins)

app.command("scan")(scan_command)
