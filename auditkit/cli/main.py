"""Entry point of the ``auditkit`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from auditkit import __version__
from auditkit.cli import (
    agentdojo,
    check,
    demo,
    drift,
    evaluate,
    exceptions,
    explain,
    findings,
    load,
    reconstruct,
    report,
    triage,
)
from auditkit.cli.common import configure_logging, stdout

app = typer.Typer(
    name="auditkit",
    help=(
        "Audit what AI agents did on behalf of users: load agent logs and "
        "entitlements into a DuckDB workspace, recompute each call's permission "
        "intersection and report the violations."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

# Command order as shown in --help follows the pipeline.
for module in (
    demo,
    load,
    check,
    evaluate,
    findings,
    explain,
    report,
    reconstruct,
    drift,
    triage,
    exceptions,
    agentdojo,
):
    module.register(app)


def _print_version(value: bool) -> None:
    if value:
        stdout.print(f"auditkit {__version__}")
        raise typer.Exit


@app.callback()
def main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress and SQL steps.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Show the version.",
        ),
    ] = False,
) -> None:
    """Audit what AI agents did on behalf of users."""
    configure_logging(verbose)
