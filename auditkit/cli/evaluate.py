"""``auditkit evaluate``: recompute every call's verdict."""

from __future__ import annotations

import typer

from auditkit.cli.common import (
    DEFAULT_WORKSPACE,
    WorkspaceOption,
    print_table,
    reports_errors,
)
from auditkit.evaluate import EvaluationSummary
from auditkit.models import Verdict

HELP = """Evaluate every loaded call and print the count of each verdict.

Writes the findings and stale_windows tables of the workspace.

Example:

    auditkit evaluate --workspace audit.duckdb
"""


def print_summary(summary: EvaluationSummary) -> None:
    """Print the verdict counts of an evaluation, in verdict order."""
    rows = [
        [verdict.value, summary.verdicts.get(verdict.value, 0)] for verdict in Verdict
    ]
    rows.append(["stale-authority windows", summary.stale_windows])
    print_table(f"{summary.calls} calls evaluated", ["verdict", "calls"], rows)


@reports_errors
def evaluate_command(workspace: WorkspaceOption = DEFAULT_WORKSPACE) -> None:
    """Evaluate every loaded call."""
    import auditkit

    with auditkit.open(workspace) as ws:
        summary = ws.evaluate()
    print_summary(summary)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("evaluate", help=HELP)(evaluate_command)
