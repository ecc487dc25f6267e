"""``auditkit triage``: record or show the review decision on one finding."""

from __future__ import annotations

from typing import Annotated

import typer

from auditkit.cli.common import (
    DEFAULT_WORKSPACE,
    WorkspaceOption,
    print_table,
    reports_errors,
    require_workspace,
    safe_text,
    stdout,
)
from auditkit.review.triage import TriageState, set_triage, triage_history

HELP = """Record a triage decision on a finding, or show its history.

With --state, appends a decision to the workspace's triage log; the history is kept
and the latest decision is the finding's current state. Without --state, prints the
history. Decisions survive re-evaluation, because finding ids depend only on call ids.

States: open, acknowledged, accepted_risk, false_positive, remediated.

Examples:

    auditkit triage 3f2a9c01d4e5b6a7 --state acknowledged --comment "offboarding ticket"

    auditkit triage 3f2a9c01d4e5b6a7
"""


@reports_errors
def triage_command(
    finding_id: Annotated[str, typer.Argument(help="Id of the finding (finding_id).")],
    state: Annotated[
        TriageState | None,
        typer.Option(help="New state; omit to show the history."),
    ] = None,
    comment: Annotated[
        str | None, typer.Option(help="Comment kept with the decision.")
    ] = None,
    reviewer: Annotated[
        str | None,
        typer.Option(help="Who decides; defaults to the login name of the user."),
    ] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Record or show the triage of one finding."""
    import auditkit

    require_workspace(workspace)
    with auditkit.open(workspace) as ws:
        if state is not None:
            change = set_triage(
                ws.connection, finding_id, state, reviewer=reviewer, comment=comment
            )
            stdout.print(
                safe_text(
                    f"finding {change.finding_id}: {change.state.value} "
                    f"(by {change.reviewer})"
                )
            )
            return
        history = triage_history(ws.connection, finding_id)

    if history.empty:
        stdout.print(safe_text(f"finding {finding_id}: open (never triaged)"))
        return
    columns = ["changed_at", "state", "reviewer", "comment"]
    rows = history[columns].astype(object).values.tolist()
    print_table(f"triage history of {finding_id}", columns, rows)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("triage", help=HELP)(triage_command)
