"""Ceiling breaches: an agent configured beyond a user who invoked it.

In a period, an agent breaches the ceiling of a user who invoked it when its configured
scope covers a permission of the period's universe that the user held at no instant of
the period. The excess permission is what a compromised or misled agent could do for
that user and the user could not do alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditkit.analysis.scope import PeriodUnit, ScopeTables, period_table, resolve_span

if TYPE_CHECKING:
    from datetime import datetime

    import duckdb
    import pandas as pd

    from auditkit.settings import Settings

# Reads the tables of ScopeTables. One row per (period, agent, user, excess element).
BREACHES_SQL = """
WITH pairs AS (
    SELECT
        period_index,
        actor AS agent,
        subject AS user_id,
        count(*) AS calls,
        list(call_id ORDER BY ts, call_id) AS call_ids
    FROM dr_calls
    WHERE NOT flag_run_as_user AND subject IS NOT NULL
    GROUP BY ALL
),
excess AS (
    SELECT p.*, a.element_id
    FROM pairs AS p
    JOIN dr_window_scope AS a
        ON a.period_index = p.period_index
        AND a.root_type = 'agent'
        AND a.root_id = p.agent
        AND a.window_name = 'period'
    WHERE NOT EXISTS (
        SELECT 1
        FROM dr_window_scope AS s
        WHERE s.period_index = p.period_index
            AND s.root_type = 'user'
            AND s.root_id = p.user_id
            AND s.window_name = 'period'
            AND s.element_id = a.element_id
    )
),
sources AS (
    SELECT
        x.period_index,
        x.agent,
        x.element_id,
        list_sort(list_distinct(list(m.grant_id))) AS grant_ids,
        list_sort(list_distinct(flatten(list(m.link_ids)))) AS membership_ids
    FROM (SELECT DISTINCT period_index, agent, element_id FROM excess) AS x
    JOIN dr_periods AS p ON p.period_index = x.period_index
    JOIN dr_matches AS m
        ON m.period_index = x.period_index
        AND m.element_id = x.element_id
        AND m.root_type = 'agent'
        AND m.root_id = x.agent
        AND m.effect = 'allow'
        AND m.valid_from < p.period_end
        AND m.valid_to > p.period_start
    GROUP BY ALL
),
excess_calls AS (
    SELECT
        x.period_index,
        x.agent,
        x.user_id,
        x.element_id,
        list(c.call_id ORDER BY c.ts, c.call_id) AS excess_call_ids,
        bool_or(coalesce(c.outcome = 'allowed', FALSE)) AS excess_allowed
    FROM excess AS x
    JOIN dr_call_elements AS e
        ON e.period_index = x.period_index AND e.element_id = x.element_id
    JOIN dr_calls AS c
        ON c.call_id = e.call_id AND c.actor = x.agent AND c.subject = x.user_id
    GROUP BY ALL
)
SELECT
    p.period_start,
    p.period_end,
    x.agent,
    x.user_id AS "user",
    u.action,
    u.resource,
    u.element_kind,
    u.risk_tier,
    x.calls,
    array_to_string(x.call_ids, ',') AS call_ids,
    coalesce(len(c.excess_call_ids), 0) AS excess_calls,
    coalesce(array_to_string(c.excess_call_ids, ','), '') AS excess_call_ids,
    coalesce(c.excess_allowed, FALSE) AS excess_allowed,
    array_to_string(s.grant_ids, ',') AS agent_grants,
    array_to_string(s.membership_ids, ',') AS agent_memberships,
    (
        SELECT coalesce(
            string_agg(DISTINCT g.changed_by, ',' ORDER BY g.changed_by), ''
        )
        FROM grants AS g
        WHERE list_contains(s.grant_ids, g.grant_id)
    ) AS authors
FROM excess AS x
JOIN dr_periods AS p ON p.period_index = x.period_index
JOIN dr_universe AS u ON u.element_id = x.element_id
JOIN sources AS s
    ON s.period_index = x.period_index
    AND s.agent = x.agent
    AND s.element_id = x.element_id
LEFT JOIN excess_calls AS c
    ON c.period_index = x.period_index
    AND c.agent = x.agent
    AND c.user_id = x.user_id
    AND c.element_id = x.element_id
ORDER BY p.period_start, x.agent, x.user_id, u.action, u.resource
"""


def breaches_from(tables: ScopeTables) -> pd.DataFrame:
    """Return the ceiling breaches of prepared scope tables, one row per excess.

    See :func:`ceiling_breaches` for the columns.
    """
    return tables.con.execute(BREACHES_SQL).df()


def ceiling_breaches(
    con: duckdb.DuckDBPyConnection,
    period: PeriodUnit | str | None = "week",
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Find the periods where an agent's configured scope exceeds an invoking user's.

    Parameters
    ----------
    con
        Connection to an evaluated workspace.
    period
        ``day``, ``week`` or ``month``, or None for one period from ``start`` to
        ``end``.
    start, end
        Bounds of the analysis (UTC); missing bounds come from the evaluated calls.
    settings
        Read for ``case_sensitive_action_namespaces``.

    Returns
    -------
    pandas.DataFrame
        One row per period, agent, user and excess permission: ``period_start``,
        ``period_end``, ``agent``, ``user``, ``action``, ``resource``,
        ``element_kind`` (``template`` for a tool's generalised resource,
        ``resource`` for one seen in calls), ``risk_tier``, ``calls`` and
        ``call_ids`` (every call of the pair in the period), ``excess_calls`` and
        ``excess_call_ids`` (those that needed the excess permission),
        ``excess_allowed`` (one of them was allowed downstream), ``agent_grants``
        and ``agent_memberships`` (what gives the agent the permission) and
        ``authors`` (who provisioned those grants).
    """
    span = resolve_span(con, start, end)
    with ScopeTables(con, period_table(period, span), settings) as tables:
        return breaches_from(tables)
