"""``auditkit exceptions``: check an exceptions file against the findings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from auditkit.cli.common import (
    DEFAULT_WORKSPACE,
    WorkspaceOption,
    fail,
    print_table,
    reports_errors,
    require_workspace,
)
from auditkit.review.exceptions import apply_exceptions, load_exceptions

HELP = """Validate an exceptions YAML file and count the findings each one matches.

An exception whose expiry date is before --as-of matches nothing and is listed as
expired. Matching findings stay in every report, marked with the exception id.

Example:

    auditkit exceptions exceptions.yaml --as-of 2026-03-31
"""


def _as_of(text: str | None) -> date:
    if text is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--as-of: invalid date {text!r}", hint="write it as YYYY-MM-DD")


@reports_errors
def exceptions_command(
    path: Annotated[Path, typer.Argument(help="Exceptions YAML file.")],
    as_of: Annotated[
        str | None, typer.Option(help="Day to check on (YYYY-MM-DD, UTC); today.")
    ] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Check an exceptions file."""
    import auditkit

    rules = load_exceptions(path)
    day = _as_of(as_of)
    require_workspace(workspace)
    with auditkit.open(workspace) as ws:
        result = apply_exceptions(ws.connection, rules, day)

    expired = {rule.id for rule in result.expired}
    rows = [
        [
            rule.id,
            rule.owner,
            rule.expires.isoformat(),
            "expired" if rule.id in expired else "in force",
            result.matches.get(rule.id, 0),
        ]
        for rule in rules
    ]
    columns = ["id", "owner", "expires", "status", "matching findings"]
    print_table(f"{len(rules)} exceptions on {day.isoformat()}", columns, rows)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("exceptions", help=HELP)(exceptions_command)
