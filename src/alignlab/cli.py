"""The ``alignlab`` command: a thin layer over the instruments' Python APIs.

Each instrument defines its own Typer sub-app in ``alignlab/<instrument>/cli.py``; this module mounts
them and turns user errors (:class:`~alignlab.core.AlignlabError`) into one clear paragraph and exit
status 2, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

# typer >= 0.20 ships its own copy of click; its exceptions are what its parser raises.
from typer._click import exceptions as click_errors

from alignlab import __version__
from alignlab.backdoor.cli import app as backdoor_app
from alignlab.core._cli import (
    Address,
    Executor,
    Retries,
    RetryFailed,
    Workers,
    check_options,
    out_option,
    report_study,
    run_study,
)
from alignlab.core._errors import AlignlabError
from alignlab.forecast.cli import app as forecast_app
from alignlab.hacking.cli import app as hacking_app
from alignlab.scaling.cli import app as scaling_app

app = typer.Typer(
    name="alignlab",
    help="Test claims about ML model behaviour under many conditions and seeds, with honest statistics.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)


app.add_typer(backdoor_app, name="backdoor")
app.add_typer(hacking_app, name="hacking")
app.add_typer(forecast_app, name="forecast")
app.add_typer(scaling_app, name="scaling")


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()


@app.command()
@check_options
def run(
    spec: Annotated[Path, typer.Argument(help="A study spec (YAML) of any kind: its 'study:' field picks the instrument.")],
    out: Annotated[Path | None, out_option("Study folder (default: studies/<spec name>). Re-running resumes it.")] = None,
    executor: Executor = "local",
    workers: Workers = 1,
    address: Address = None,
    retries: Retries = 1,
    retry_failed: RetryFailed = True,
) -> None:
    """Run (or resume) a study of any kind. Exits 1 if any cell failed, 2 on a bad spec."""
    run_study(spec, out, executor=executor, workers=workers, address=address, retries=retries,
              retry_failed=retry_failed)


@app.command()
def report(study_dir: Path = typer.Argument(..., help="A study folder (holds spec.yaml and results.sqlite).")) -> None:
    """Write report.html and summary.md for a study folder (also while it is still running)."""
    report_study(study_dir)


@app.command()
def studies(
    folder: Path = typer.Argument(Path("studies"), help="Folder to search for study folders."),
    repair: Path | None = typer.Option(None, "--repair", metavar="DIR",
                                       help="Rebuild the damaged results store of the study folder DIR from its journal."),
) -> None:
    """List the studies under a folder and their state (a damaged store is listed as damaged)."""
    from alignlab.core._studies import list_studies, repair_study

    if repair is not None:
        Console(stderr=True).print(repair_study(repair), highlight=False)
        return
    rows = list_studies(folder)
    if not rows:
        typer.echo(f"No studies under {folder}.")
        return
    table = Table("study", "kind", "state", "cells", "done", "failed", "pending", "updated", "folder")
    for row in rows:
        table.add_row(row["name"], row["kind"], row["state"], str(row["cells"]), str(row["done"]), str(row["failed"]),
                      str(row["pending"]), row["updated"], str(row["folder"]))
    Console().print(table)
    for row in rows:
        if row["state"] == "damaged":  # why, and the fix, below the table (a cell would wrap it unreadably)
            fix = f" Repair: {row['fix']}" if row.get("fix") else " No journal to rebuild it from."
            Console(stderr=True).print(f"[red]{row['folder']}: damaged store[/] ({row['reason']}).{fix}", highlight=False)


def _usage_error(exc: click_errors.UsageError) -> str:
    """A click usage error (an unknown option, a value of the wrong type) as one paragraph, like our own errors."""
    message = exc.format_message().strip().rstrip(".")
    path = exc.ctx.command_path if exc.ctx is not None else "alignlab"
    return f"{message}. See `{path} --help` for the options."


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script.

    Click runs outside its standalone mode so that its usage errors reach us: they are printed in the
    project's one-paragraph form (not click's boxed panel) with exit status 2, like every other user error.
    """
    errors = Console(stderr=True)
    try:
        code = app(args=argv, standalone_mode=False, prog_name="alignlab")
    except AlignlabError as exc:
        errors.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except click_errors.NoArgsIsHelpError as exc:  # `alignlab forecast` alone: the help, as before
        from typer import rich_utils

        rich_utils.rich_format_error(exc)
        sys.exit(exc.exit_code)
    except click_errors.UsageError as exc:
        errors.print(f"[bold red]Error:[/] {_usage_error(exc)}", highlight=False, soft_wrap=True, markup=True)
        sys.exit(2)
    except click_errors.ClickException as exc:  # a bad file given to a click.File option, say
        errors.print(f"[bold red]Error:[/] {exc.format_message()}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        errors.print("Aborted.")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
