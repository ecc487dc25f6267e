"""``auditkit demo``: build the example organisation, load, evaluate and report it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from auditkit.cli.common import (
    DEFAULT_WORKSPACE,
    WorkspaceOption,
    reports_errors,
    safe_text,
    stdout,
)
from auditkit.cli.evaluate import print_summary

# The example's first day; generate() uses the same default.
DEMO_START = datetime(2026, 3, 2)
REVIEW_DAYS = 14

HELP = """Generate the example organisation, load it, evaluate it and write its report.

The example is deterministic for a seed: about ten agents acting for the users of
several departments over 30 days, with planted incidents of every verdict and flag
and a ground-truth file that lists the verdict each call must get. The report covers
the last 14 days and compares them with the 14 days before.

Example:

    auditkit demo --out auditkit-demo --workspace auditkit.duckdb
"""


@reports_errors
def demo_command(
    out: Annotated[
        Path, typer.Option(help="Folder for the generated input files and the report.")
    ] = Path("auditkit-demo"),
    seed: Annotated[int, typer.Option(help="Random seed of the organisation.")] = 7,
    days: Annotated[int, typer.Option(help="Days of activity.", min=23)] = 30,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Write the HTML report.")
    ] = True,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Build, load, evaluate and report the example organisation."""
    import auditkit
    from auditkit.demo import generate

    result = generate(out, seed=seed, days=days, start=DEMO_START)
    stdout.print(safe_text(f"example organisation written to {out}"))
    inputs = [
        result.catalog,
        result.grants,
        result.memberships,
        result.events,
        result.coverage,
        result.calls,
    ]
    with auditkit.open(workspace) as ws:
        for path in inputs:
            ws.load(path)
        summary = ws.evaluate()
        print_summary(summary)
        if report:
            # A fortnightly review of the last two weeks, so the report's period diff
            # compares it with the two weeks before.
            until = DEMO_START + timedelta(days=days)
            since = until - timedelta(days=REVIEW_DAYS)
            written = ws.report(out / "report", since=since, until=until)
            stdout.print(
                safe_text(f"report for {since:%Y-%m-%d} to {until:%Y-%m-%d}: ")
                + safe_text(str(written.html))
            )
    stdout.print(safe_text(f"ground truth: {result.ground_truth}"))


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("demo", help=HELP)(demo_command)
