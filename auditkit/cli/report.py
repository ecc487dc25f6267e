"""``auditkit report``: write the review report folder for a period."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditkit.cli.common import (
    DEFAULT_WORKSPACE,
    EXIT_FINDINGS,
    WorkspaceOption,
    reports_errors,
    require_workspace,
    safe_text,
    stderr,
    stdout,
)
from auditkit.models import Severity

HELP = """Write a standalone report folder for a period: report.html (works offline),
findings.csv, findings.parquet, summary.json, findings.ocsf.jsonl and manifest.json.

--since is inclusive and --until exclusive (ISO 8601; a date means midnight UTC).
With --fail-on, the exit status is 3 when a finding of that severity or higher
exists in the period, for schedulers.

Example:

    auditkit report --out reports/2026-w10 --since 2026-03-02 --until 2026-03-09 \\
        --fail-on high
"""


@reports_errors
def report_command(
    out: Annotated[Path, typer.Option(help="Folder to write the report into.")] = Path(
        "auditkit-report"
    ),
    since: Annotated[str | None, typer.Option(help="Start time, inclusive.")] = None,
    until: Annotated[str | None, typer.Option(help="End time, exclusive.")] = None,
    fail_on: Annotated[
        Severity | None,
        typer.Option(help="Exit with status 3 when findings at or above this exist."),
    ] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Write the report folder for a period."""
    import auditkit
    from auditkit.report.summary import fail_on as findings_at_or_above

    require_workspace(workspace)
    with auditkit.open(workspace) as ws:
        result = ws.report(out, since=since, until=until)
        breached = fail_on is not None and findings_at_or_above(
            ws.connection, fail_on, since=since, until=until
        )
    stdout.print(safe_text(f"report: {result.html}"))
    stdout.print(safe_text(f"{result.findings} findings in the period"))
    if breached:
        stderr.print(safe_text(f"findings at or above {fail_on} exist"))
        raise typer.Exit(EXIT_FINDINGS)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("report", help=HELP)(report_command)
