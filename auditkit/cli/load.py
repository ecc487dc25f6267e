"""``auditkit load``: read input files into the workspace."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn

from auditkit.cli.common import (
    DEFAULT_WORKSPACE,
    WorkspaceOption,
    print_table,
    reports_errors,
    stderr,
)
from auditkit.models import InputKind


class ErrorMode(StrEnum):
    """What a load does with a record that fails validation."""

    QUARANTINE = "quarantine"
    RAISE = "raise"
    COLLECT = "collect"


HELP = """Load input files or folders into the workspace.

The kind of each file comes from its name (calls*, grants*, memberships*, events*,
catalog*, coverage*) unless --kind is given. Bad records are quarantined with their
file and line; the good ones load. A load is atomic, and loading the same file twice
adds nothing.

Example:

    auditkit load ./logs/calls.jsonl ./iam/ --workspace audit.duckdb
"""


@reports_errors
def load_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to load.")],
    kind: Annotated[
        InputKind | None, typer.Option(help="Kind of every file, instead of its name.")
    ] = None,
    source_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Source format (canonical, otel, mcp, cloudtrail, gcp, ...).",
        ),
    ] = None,
    errors: Annotated[
        ErrorMode,
        typer.Option(
            help="quarantine: load good records and keep bad ones aside; raise: stop "
            "at the first bad record; collect: report every bad record, load nothing."
        ),
    ] = ErrorMode.QUARANTINE,
    default_timezone: Annotated[
        str | None,
        typer.Option(help="IANA zone of timestamps written without an offset."),
    ] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Load input files or folders into the workspace."""
    import auditkit

    settings = {"default_timezone": default_timezone} if default_timezone else {}
    rows = []
    with auditkit.open(workspace, **settings) as ws, _progress() as progress:
        for path in paths:
            task = progress.add_task(str(path), total=None)

            def advance(done: int, total: int, task_id: TaskID = task) -> None:
                progress.update(task_id, completed=done, total=total)

            result = ws.load(
                path,
                kind=kind,
                format=source_format,
                errors=errors.value,
                progress=advance,
            )
            rows.append(
                [
                    path,
                    result.rows_accepted,
                    result.rows_quarantined,
                    result.rows_duplicate,
                    len(result.skipped_files),
                ]
            )
    print_table(
        f"loaded into {workspace}",
        ["path", "accepted", "quarantined", "duplicate", "skipped files"],
        rows,
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        console=stderr,
        transient=True,
    )


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("load", help=HELP)(load_command)
