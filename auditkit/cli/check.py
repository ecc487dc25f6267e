"""``auditkit check``: verify that a workspace file is consistent."""

from __future__ import annotations

import typer

from auditkit.cli.common import (
    DEFAULT_WORKSPACE,
    EXIT_ERROR,
    WorkspaceOption,
    reports_errors,
    safe_text,
    stdout,
)

HELP = """Check that the workspace is consistent: every table exists with its
columns, every stored and quarantined row belongs to a load in the load log, the
load log's row counts match the rows stored, and no record id is stored twice.

The file is opened read-only and nothing is changed. The exit status is 1 when a
problem is found, so a script can stop before it reads a damaged workspace.

Example:

    auditkit check --workspace audit.duckdb
"""


@reports_errors
def check_command(workspace: WorkspaceOption = DEFAULT_WORKSPACE) -> None:
    """Check that the workspace is consistent."""
    from auditkit.workspace.integrity import check_workspace_file

    report = check_workspace_file(workspace)
    stdout.print(safe_text(report.to_text()))
    if not report.ok:
        raise typer.Exit(EXIT_ERROR)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("check", help=HELP)(check_command)
