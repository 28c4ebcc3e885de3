"""The ``alignlab`` command: a thin layer over the instruments' Python APIs.

Each instrument defines its own Typer sub-app in ``alignlab/<instrument>/cli.py``; this module mounts
them and turns user errors (:class:`~alignlab.core.AlignlabError`) into one clear paragraph and exit
status 2, never a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from alignlab import __version__
from alignlab.core._errors import AlignlabError

app = typer.Typer(
    name="alignlab",
    help="Test claims about ML model behaviour under many conditions and seeds, with honest statistics.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    try:
        app(args=argv, standalone_mode=True)
    except AlignlabError as exc:
        Console(stderr=True).print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
