"""``auditkit reconstruct``: the timeline of a user, an agent, a session or a window."""

from __future__ import annotations

from typing import Annotated

import typer

from auditkit.analysis.reconstruct import (
    ReconstructionScope,
    blast_radius,
    reconstruct,
)
from auditkit.cli.common import (
    DEFAULT_WORKSPACE,
    WorkspaceOption,
    fail,
    print_table,
    reports_errors,
    require_workspace,
    time_option,
)

HELP = """Reconstruct what happened: calls with their verdicts, token issuance and
expiry, grant and membership changes touching the principals (with author) and
lifecycle events, in time order. With --at and --agent, also print the blast radius:
what the agent could have done at that instant against what it did in the window.

Times are ISO 8601 with an offset; --from is inclusive and --to exclusive.

Example:

    auditkit reconstruct --user priya.raman --from 2026-03-05 --to 2026-03-06
"""

TIMELINE_COLUMNS = [
    "ts",
    "kind",
    "item_id",
    "user",
    "agent",
    "detail",
    "verdict",
    "severity",
    "author",
    "token_id",
]

BLAST_COLUMNS = [
    "action",
    "resource",
    "agent_holds",
    "user_holds",
    "could_do",
    "calls",
    "call_ids",
]


@reports_errors
def reconstruct_command(
    user: Annotated[str | None, typer.Option(help="User (subject) id.")] = None,
    agent: Annotated[str | None, typer.Option(help="Agent (actor) id.")] = None,
    session: Annotated[str | None, typer.Option(help="Session or trace id.")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Start time, inclusive.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="End time, exclusive.")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(help="Instant of the blast radius; needs --agent."),
    ] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Print the timeline of a user, an agent, a session or a time window."""
    import auditkit

    scope = ReconstructionScope(
        user=user,
        agent=agent,
        session=session,
        start=time_option(start, "--from"),
        end=time_option(end, "--to"),
    )
    instant = time_option(at, "--at")
    if instant is not None and agent is None:
        fail("--at needs the agent whose blast radius to compute", hint="add --agent")

    require_workspace(workspace)
    with auditkit.open(workspace) as ws:
        timeline = reconstruct(ws.connection, scope)
        radius = None
        if instant is not None and agent is not None:
            radius = blast_radius(
                ws.connection,
                instant,
                agent=agent,
                user=user,
                start=scope.start,
                end=scope.end,
                settings=ws.settings,
            )

    rows = timeline[TIMELINE_COLUMNS].astype(object).values.tolist()
    print_table(f"timeline: {len(timeline)} entries", TIMELINE_COLUMNS, rows)
    if radius is not None:
        rows = radius[BLAST_COLUMNS].astype(object).values.tolist()
        print_table(f"blast radius at {instant}", BLAST_COLUMNS, rows)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("reconstruct", help=HELP)(reconstruct_command)
