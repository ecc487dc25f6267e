"""``auditkit explain``: show the chain of evidence behind one call's verdict."""

from __future__ import annotations

from typing import Annotated

import typer

from auditkit.cli.common import (
    DEFAULT_WORKSPACE,
    WorkspaceOption,
    reports_errors,
    require_workspace,
    safe_text,
    stdout,
)

HELP = """Explain one call: its verdict, the grants, memberships and events that
decided it, and the three accountable parties (who invoked the agent, who provisioned
its scope, which system enforced the call).

Example:

    auditkit explain call-000123
"""


@reports_errors
def explain_command(
    call_id: Annotated[str, typer.Argument(help="Id of the call to explain.")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Explain one call's verdict."""
    import auditkit

    require_workspace(workspace)
    with auditkit.open(workspace) as ws:
        explanation = ws.explain(call_id)
    stdout.print(safe_text(explanation.to_text()))


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("explain", help=HELP)(explain_command)
