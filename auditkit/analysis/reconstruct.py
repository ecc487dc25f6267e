"""Reconstruct what happened around a user, an agent, a session or a time window.

A reconstruction is one ordered timeline of the evaluated calls, the issuance and expiry
of the tokens they carried, the grant and membership changes that touched the
principals involved, and their lifecycle events. The blast radius at an instant compares
what the agent could have done then with what it did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditkit.analysis.findings import require_findings
from auditkit.analysis.scope import (
    MICROSECOND,
    ScopeTables,
    TimeRange,
    call_span,
    drop_temporary_tables,
    period_table,
)
from auditkit.errors import InputError, NotFoundError
from auditkit.evaluate.engine import split_statements, step_sql

if TYPE_CHECKING:
    from datetime import datetime

    import duckdb
    import pandas as pd

    from auditkit.settings import Settings

# Order of entries that share an instant: a change takes effect before a call stamped
# with the same instant (docs/semantics.md), a token is issued before it is used and
# expires after.
_RANK_CHANGE = 0
_RANK_TOKEN_ISSUED = 1
_RANK_CALL = 2
_RANK_TOKEN_EXPIRES = 3

_SELECTED_CALLS_SQL = """
CREATE OR REPLACE TEMP TABLE dr_selected_calls AS
SELECT f.*, c.token_issued_at, c.token_expires_at AS token_expiry
FROM findings AS f
JOIN calls AS c ON c.call_id = f.call_id
WHERE ($user IS NULL OR f.subject = $user)
    AND ($agent IS NULL OR f.actor = $agent)
    AND ($session IS NULL OR f.session_id = $session)
    AND ($start IS NULL OR f.ts >= $start)
    AND ($end IS NULL OR f.ts < $end)
"""

# The principals whose entitlements and lifecycle belong in the timeline.
_PRINCIPALS_SQL = """
CREATE OR REPLACE TEMP TABLE dr_timeline_principals AS
SELECT 'user' AS principal_type, $user AS principal_id WHERE $user IS NOT NULL
UNION
SELECT 'agent', $agent WHERE $agent IS NOT NULL
UNION
SELECT 'user', subject FROM dr_selected_calls WHERE $session IS NOT NULL
    AND subject IS NOT NULL
UNION
SELECT 'agent', actor FROM dr_selected_calls WHERE $session IS NOT NULL
    AND actor IS NOT NULL AND NOT flag_run_as_user
"""

_TIMELINE_SQL = """
WITH holders AS (
    SELECT principal_type, principal_id FROM dr_timeline_principals
    UNION
    SELECT p.parent_type, p.parent_id
    FROM ak_paths AS p
    JOIN dr_timeline_principals AS t
        ON t.principal_type = p.root_type AND t.principal_id = p.root_id
),
touched_memberships AS (
    SELECT DISTINCT unnest(p.link_ids) AS membership_id
    FROM ak_paths AS p
    JOIN dr_timeline_principals AS t
        ON t.principal_type = p.root_type AND t.principal_id = p.root_id
),
touched_grants AS (
    SELECT g.*
    FROM grants AS g
    JOIN holders AS h
        ON h.principal_type = g.principal_type AND h.principal_id = g.principal_id
),
tokens AS (
    SELECT
        token_id,
        min(token_issued_at) AS issued_at,
        max(token_expiry) AS expires_at,
        min(subject) AS subject,
        min(actor) AS actor
    FROM dr_selected_calls
    WHERE token_id IS NOT NULL
    GROUP BY token_id
),
entries AS (
    SELECT
        ts,
        $rank_call AS rank,
        'call' AS kind,
        call_id AS item_id,
        subject AS "user",
        actor AS agent,
        concat_ws(' ', tool, coalesce(action, '?'), coalesce(resource, '?'))
            AS detail,
        verdict,
        severity,
        outcome,
        NULL AS author,
        token_id,
        session_id,
        source_file,
        source_line
    FROM dr_selected_calls
    UNION ALL
    SELECT issued_at, $rank_token_issued, 'token_issued', token_id, subject, actor,
        'token issued', NULL, NULL, NULL, NULL, token_id, NULL, NULL, NULL
    FROM tokens
    WHERE issued_at IS NOT NULL AND ($end IS NULL OR issued_at < $end)
    UNION ALL
    SELECT expires_at, $rank_token_expires, 'token_expires', token_id, subject, actor,
        'token expires', NULL, NULL, NULL, NULL, token_id, NULL, NULL, NULL
    FROM tokens
    WHERE expires_at IS NOT NULL
        AND ($start IS NULL OR expires_at >= $start)
        AND ($end IS NULL OR expires_at < $end)
    UNION ALL
    SELECT valid_from, $rank_change, 'grant_start', grant_id,
        CASE WHEN principal_type = 'user' THEN principal_id END,
        CASE WHEN principal_type = 'agent' THEN principal_id END,
        principal_type || ':' || principal_id || ' ' || effect || ' ' || action
            || ' ' || resource,
        NULL, NULL, NULL, changed_by, NULL, NULL, source_file, source_line
    FROM touched_grants
    UNION ALL
    SELECT valid_to, $rank_change, 'grant_end', grant_id,
        CASE WHEN principal_type = 'user' THEN principal_id END,
        CASE WHEN principal_type = 'agent' THEN principal_id END,
        principal_type || ':' || principal_id || ' ' || effect || ' ' || action
            || ' ' || resource,
        NULL, NULL, NULL, changed_by, NULL, NULL, source_file, source_line
    FROM touched_grants
    WHERE valid_to IS NOT NULL
    UNION ALL
    SELECT m.valid_from, $rank_change, 'membership_start', m.membership_id,
        CASE WHEN m.member_type = 'user' THEN m.member_id END,
        CASE WHEN m.member_type = 'agent' THEN m.member_id END,
        m.member_type || ':' || m.member_id || ' in ' || m.parent_type || ':'
            || m.parent_id,
        NULL, NULL, NULL, m.changed_by, NULL, NULL, m.source_file, m.source_line
    FROM memberships AS m
    JOIN touched_memberships AS t ON t.membership_id = m.membership_id
    UNION ALL
    SELECT m.valid_to, $rank_change, 'membership_end', m.membership_id,
        CASE WHEN m.member_type = 'user' THEN m.member_id END,
        CASE WHEN m.member_type = 'agent' THEN m.member_id END,
        m.member_type || ':' || m.member_id || ' in ' || m.parent_type || ':'
            || m.parent_id,
        NULL, NULL, NULL, m.changed_by, NULL, NULL, m.source_file, m.source_line
    FROM memberships AS m
    JOIN touched_memberships AS t ON t.membership_id = m.membership_id
    WHERE m.valid_to IS NOT NULL
    UNION ALL
    SELECT e.ts, $rank_change, 'event', e.event_id,
        CASE WHEN e.principal_type = 'user' THEN e.principal_id END,
        CASE WHEN e.principal_type = 'agent' THEN e.principal_id END,
        e.principal_type || ':' || e.principal_id || ' ' || e.event_type
            || coalesce(' ' || e.detail, ''),
        NULL, NULL, NULL, e.changed_by, NULL, NULL, e.source_file, e.source_line
    FROM events AS e
    JOIN dr_timeline_principals AS t
        ON t.principal_type = e.principal_type AND t.principal_id = e.principal_id
)
SELECT * EXCLUDE (rank)
FROM entries
WHERE kind IN ('call', 'token_issued')
    OR (($start IS NULL OR ts >= $start) AND ($end IS NULL OR ts < $end))
ORDER BY ts, rank, kind, item_id
"""

_BLAST_RADIUS_SQL = """
WITH agent_scope AS (
    SELECT s.element_id, list_sort(list_distinct(list(m.grant_id))) AS grant_ids
    FROM dr_window_scope AS s
    JOIN dr_matches AS m
        ON m.element_id = s.element_id
        AND m.root_type = 'agent'
        AND m.root_id = $agent
        AND m.effect = 'allow'
        AND m.valid_from <= $at
        AND m.valid_to > $at
    WHERE s.root_type = 'agent' AND s.root_id = $agent AND s.window_name = 'at'
    GROUP BY s.element_id
),
user_scope AS (
    SELECT element_id
    FROM dr_window_scope
    WHERE root_type = 'user' AND root_id = $user AND window_name = 'at'
),
done AS (
    SELECT
        e.element_id,
        count(DISTINCT c.call_id) AS calls,
        list(DISTINCT c.call_id ORDER BY c.call_id) AS call_ids
    FROM dr_calls AS c
    JOIN dr_call_elements AS e ON e.call_id = c.call_id
    WHERE c.actor = $agent AND ($user IS NULL OR c.subject = $user)
    GROUP BY e.element_id
),
inactive AS (
    SELECT
        bool_or(principal_type = 'agent') AS agent_inactive,
        bool_or(principal_type = 'user') AS user_inactive
    FROM ak_inactive
    WHERE ((principal_type = 'agent' AND principal_id = $agent)
        OR (principal_type = 'user' AND principal_id = $user))
        AND valid_from <= $at AND valid_to > $at
)
SELECT
    u.action,
    u.resource,
    u.element_kind,
    u.risk_tier,
    a.element_id IS NOT NULL AS agent_holds,
    CASE WHEN $user IS NULL THEN NULL ELSE s.element_id IS NOT NULL END AS user_holds,
    a.element_id IS NOT NULL
        AND ($user IS NULL OR s.element_id IS NOT NULL)
        AND NOT coalesce(i.agent_inactive, FALSE)
        AND NOT coalesce(i.user_inactive, FALSE) AS could_do,
    coalesce(d.calls, 0) AS calls,
    coalesce(array_to_string(d.call_ids, ','), '') AS call_ids,
    coalesce(array_to_string(a.grant_ids, ','), '') AS agent_grants
FROM dr_universe AS u
LEFT JOIN agent_scope AS a ON a.element_id = u.element_id
LEFT JOIN user_scope AS s ON s.element_id = u.element_id
LEFT JOIN done AS d ON d.element_id = u.element_id
CROSS JOIN inactive AS i
WHERE a.element_id IS NOT NULL OR s.element_id IS NOT NULL OR d.element_id IS NOT NULL
ORDER BY could_do DESC, calls DESC, u.action, u.resource
"""


@dataclass(frozen=True)
class ReconstructionScope:
    """Principals, session and time window of a reconstruction.

    Set at least one field. ``start`` is inclusive and ``end`` exclusive, both naive
    UTC, and None leaves that side open.
    """

    user: str | None = None
    agent: str | None = None
    session: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def params(self) -> dict[str, object]:
        """Return the query parameters of the scope."""
        return {
            "user": self.user,
            "agent": self.agent,
            "session": self.session,
            "start": self.start,
            "end": self.end,
        }


def reconstruct(
    con: duckdb.DuckDBPyConnection, scope: ReconstructionScope
) -> pd.DataFrame:
    """Return the ordered timeline of a user, an agent, a session or a time window.

    Parameters
    ----------
    con
        Connection to an evaluated workspace.
    scope
        The principals, session and time window to reconstruct.

    Returns
    -------
    pandas.DataFrame
        One row per entry, ordered by ``ts``: ``kind`` (``call``, ``token_issued``,
        ``token_expires``, ``grant_start``, ``grant_end``, ``membership_start``,
        ``membership_end``, ``event``), ``item_id``, ``user``, ``agent``, ``detail``,
        ``verdict``, ``severity`` and ``outcome`` (calls only), ``author`` (the
        record's ``changed_by``), ``token_id``, ``session_id``, ``source_file`` and
        ``source_line``. A token's issuance is listed even when it precedes
        ``start``, because it is the delegation start of calls in the window.

    Raises
    ------
    InputError
        When the scope names no user, agent, session or time bound.
    """
    _check_scope(scope)
    require_findings(con)
    params = scope.params()
    try:
        for statement in split_statements(step_sql("03_membership_paths.sql")):
            con.execute(statement)
        con.execute(_SELECTED_CALLS_SQL, params)
        con.execute(_PRINCIPALS_SQL, _used(_PRINCIPALS_SQL, params))
        ranks = {
            "rank_call": _RANK_CALL,
            "rank_token_issued": _RANK_TOKEN_ISSUED,
            "rank_token_expires": _RANK_TOKEN_EXPIRES,
            "rank_change": _RANK_CHANGE,
        }
        query_params = _used(_TIMELINE_SQL, params | ranks)
        return con.execute(_TIMELINE_SQL, query_params).df()
    finally:
        drop_temporary_tables(con)


def _check_scope(scope: ReconstructionScope) -> None:
    if any(value is not None for value in scope.params().values()):
        return
    reason = "a reconstruction needs a user, an agent, a session or a time window"
    raise InputError(
        reason, field="scope", hint="set --user, --agent, --session or --from"
    )


def _used(sql: str, params: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in params.items() if f"${key}" in sql}


def blast_radius(
    con: duckdb.DuckDBPyConnection,
    at: datetime,
    *,
    agent: str,
    user: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Compare what an agent could have done at ``at`` with what it did.

    The universe is the catalog's generalised tools and the concrete permissions of
    the calls in ``[start, end)`` (by default every evaluated call).

    Parameters
    ----------
    con
        Connection to an evaluated workspace.
    at
        The instant, naive UTC.
    agent, user
        The agent, and the user it acted for; without a user the agent's own
        configured scope is the bound.
    start, end
        The window whose calls count as what the agent did.
    settings
        Read for ``case_sensitive_action_namespaces``.

    Returns
    -------
    pandas.DataFrame
        One row per permission the agent or the user held at ``at`` or the agent
        used in the window: ``action``, ``resource``, ``element_kind``,
        ``risk_tier``, ``agent_holds``, ``user_holds``, ``could_do`` (both hold it
        and both are active at ``at``), ``calls`` and ``call_ids`` (the agent's
        calls for the user in the window that needed it) and ``agent_grants``.
    """
    span = _blast_span(con, at, start, end)
    periods = period_table(None, span)
    with ScopeTables(con, periods, settings) as tables:
        if not _principal_known(con, agent):
            message = f"agent {agent!r} has no grants, memberships or calls"
            raise NotFoundError(message)
        _add_instant_windows(tables, at, agent, user)
        params = {"agent": agent, "user": user, "at": at}
        return con.execute(_BLAST_RADIUS_SQL, params).df()


def _blast_span(
    con: duckdb.DuckDBPyConnection,
    at: datetime,
    start: datetime | None,
    end: datetime | None,
) -> TimeRange:
    calls = call_span(con)
    first = min(start or calls.start, at)
    last = max(end or calls.end, at + MICROSECOND)
    return TimeRange(first, last)


def _principal_known(con: duckdb.DuckDBPyConnection, agent: str) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM dr_principals WHERE root_type = 'agent' AND root_id = ?",
        [agent],
    ).fetchall()
    return bool(rows[0][0])


def _add_instant_windows(
    tables: ScopeTables, at: datetime, agent: str, user: str | None
) -> None:
    windows = [("agent", agent)] + ([("user", user)] if user is not None else [])
    for root_type, root_id in windows:
        tables.con.execute(
            "INSERT INTO dr_windows SELECT 0, ?, ?, 'at', ?, ?",
            [root_type, root_id, at, at + MICROSECOND],
        )
    tables.rerun_window_scope()
