"""``auditkit drift``: per-agent privilege drift over consecutive periods."""

from __future__ import annotations

from typing import Annotated

import typer

from auditkit.analysis.drift import DriftAnalysis
from auditkit.analysis.drift_findings import save_findings
from auditkit.analysis.scope import PeriodUnit, period_table, resolve_span
from auditkit.cli.common import (
    DEFAULT_WORKSPACE,
    WorkspaceOption,
    print_table,
    reports_errors,
    require_workspace,
    safe_text,
    stdout,
    time_option,
)

HELP = """Measure privilege drift per agent: granted and used scope, unused grants,
scope growth, ceiling breaches and a creep score from 0 to 100 (formulas in
docs/drift.md). Writes the drift_findings table of the workspace.

Times are ISO 8601 with an offset; --from is inclusive and --to exclusive. Without
them the analysis spans the evaluated calls.

Example:

    auditkit drift --period week --workspace audit.duckdb
"""

COLUMNS = [
    "period_start",
    "agent",
    "granted_permissions",
    "used_permissions",
    "drift_ratio",
    "unused_grants",
    "grants_added",
    "breached_users",
    "creep_score",
    "creep_trend",
]


@reports_errors
def drift_command(
    period: Annotated[
        PeriodUnit, typer.Option(help="Length of each period: day, week or month.")
    ] = PeriodUnit.WEEK,
    start: Annotated[
        str | None, typer.Option("--from", help="Start time, inclusive.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="End time, exclusive.")
    ] = None,
    agent: Annotated[str | None, typer.Option(help="Show only this agent.")] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Print per-agent drift and write the drift findings."""
    import auditkit

    require_workspace(workspace)
    with auditkit.open(workspace) as ws:
        con = ws.connection
        span = resolve_span(con, time_option(start, "--from"), time_option(end, "--to"))
        with DriftAnalysis(con, period_table(period, span), ws.settings) as analysis:
            agents = analysis.agents()
            save_findings(analysis)
        counts = con.execute(
            "SELECT reason, count(*) FROM drift_findings "
            "GROUP BY reason ORDER BY reason"
        ).fetchall()

    if agent is not None:
        agents = agents[agents["agent"] == agent]
    rows = agents[COLUMNS].astype(object).values.tolist()
    print_table(f"drift per agent and {period.value}", COLUMNS, rows)
    summary = ", ".join(f"{reason} {count}" for reason, count in counts) or "none"
    stdout.print(safe_text(f"drift findings written: {summary}"))


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("drift", help=HELP)(drift_command)
