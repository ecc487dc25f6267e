"""Filter the findings table with parameterised SQL."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from auditkit.errors import WorkspaceError
from auditkit.models import Flag, Severity, Verdict

if TYPE_CHECKING:
    from datetime import datetime

    import duckdb
    import pandas as pd

_SEVERITY_RANK_SQL = (
    "list_position(['info', 'low', 'medium', 'high', 'critical'], severity) - 1"
)


@dataclass(frozen=True)
class FindingFilter:
    """Conditions on findings; every condition set must hold.

    ``since`` is inclusive and ``until`` exclusive, both UTC. ``min_severity`` keeps
    findings at or above that severity.
    """

    verdict: tuple[Verdict, ...] = ()
    flag: tuple[Flag, ...] = ()
    user: str | None = None
    agent: str | None = None
    tool: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_severity: Severity | None = None

    def is_empty(self) -> bool:
        """Return whether no condition is set."""
        return all(not getattr(self, item.name) for item in fields(self))


def _conditions(spec: FindingFilter) -> tuple[list[str], list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if spec.verdict:
        clauses.append("list_contains(?, verdict)")
        params.append([str(verdict) for verdict in spec.verdict])
    for flag in spec.flag:
        # Flag names come from the Flag enum, never from the caller's text.
        clauses.append(f"flag_{Flag(flag).value}")
    for column, value in (
        ("subject", spec.user),
        ("actor", spec.agent),
        ("tool", spec.tool),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if spec.since is not None:
        clauses.append("ts >= ?")
        params.append(spec.since)
    if spec.until is not None:
        clauses.append("ts < ?")
        params.append(spec.until)
    if spec.min_severity is not None:
        clauses.append(f"{_SEVERITY_RANK_SQL} >= ?")
        params.append(Severity(spec.min_severity).rank)
    return clauses, params


def select_findings(
    con: duckdb.DuckDBPyConnection, spec: FindingFilter | None = None
) -> pd.DataFrame:
    """Return the findings that match ``spec``, ordered by time and call id.

    Raises
    ------
    WorkspaceError
        When the workspace has not been evaluated yet.
    """
    require_findings(con)
    clauses, params = _conditions(spec or FindingFilter())
    where = " AND ".join(clauses) if clauses else "TRUE"
    query = f"SELECT * FROM findings WHERE {where} ORDER BY ts, call_id"  # noqa: S608 - clauses are fixed text; values are parameters
    return con.execute(query, params).df()


def require_findings(con: duckdb.DuckDBPyConnection) -> None:
    """Raise WorkspaceError when the findings table does not exist yet."""
    tables = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'findings' "
        "AND NOT temporary"
    ).fetchall()
    if tables[0][0] == 0:
        message = "the workspace has no findings yet; run 'auditkit evaluate' first"
        raise WorkspaceError(message)
