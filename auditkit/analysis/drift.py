"""Privilege drift per agent and period: granted, used and unused scope, growth, creep.

Every figure is defined in ``docs/drift.md``. The work is done in DuckDB over the
temporary tables of :class:`auditkit.analysis.scope.ScopeTables`; this module contains
the queries and returns pandas DataFrames.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from auditkit.analysis.ceiling import BREACHES_SQL, breaches_from
from auditkit.analysis.scope import PeriodUnit, ScopeTables, period_table, resolve_span
from auditkit.evaluate.engine import split_statements

if TYPE_CHECKING:
    from datetime import datetime
    from types import TracebackType

    import duckdb
    import pandas as pd

    from auditkit.settings import Settings

# Weights of the creep score; they sum to 1, so the score runs from 0 to 100.
DRIFT_WEIGHT = 0.5
GROWTH_WEIGHT = 0.2
BREACH_WEIGHT = 0.3

_AGENTS_SQL = """
WITH agents AS (
    SELECT period_index, root_id AS agent
    FROM dr_principals
    WHERE root_type = 'agent'
),
granted AS (
    SELECT period_index, root_id AS agent, element_id
    FROM dr_window_scope
    WHERE root_type = 'agent' AND window_name = 'period'
),
used AS (
    SELECT DISTINCT period_index, actor AS agent, element_id
    FROM dr_used
),
permissions AS (
    SELECT
        a.period_index,
        a.agent,
        count(g.element_id) AS granted_permissions,
        count(u.element_id) AS used_permissions
    FROM agents AS a
    LEFT JOIN granted AS g ON g.period_index = a.period_index AND g.agent = a.agent
    LEFT JOIN used AS u
        ON u.period_index = g.period_index
        AND u.agent = g.agent
        AND u.element_id = g.element_id
    GROUP BY a.period_index, a.agent
),
ends AS (
    SELECT
        period_index,
        root_id AS agent,
        element_id,
        bool_or(window_name = 'before') AS held_before,
        bool_or(window_name = 'end') AS held_at_end
    FROM dr_window_scope
    WHERE root_type = 'agent' AND window_name IN ('before', 'end')
    GROUP BY ALL
),
growth AS (
    SELECT
        period_index,
        agent,
        count(*) FILTER (WHERE held_before) AS permissions_before,
        count(*) FILTER (WHERE held_at_end) AS permissions_at_end,
        count(*) FILTER (WHERE held_at_end AND NOT held_before) AS permissions_added,
        count(*) FILTER (WHERE held_before AND NOT held_at_end) AS permissions_removed
    FROM ends
    GROUP BY ALL
),
grant_counts AS (
    SELECT
        period_index,
        agent,
        count(*) AS granted_grants,
        count(*) FILTER (WHERE NOT used) AS unused_grants
    FROM dr_grant_usage
    GROUP BY ALL
),
changes AS (
    SELECT
        period_index,
        agent,
        count(*) FILTER (WHERE change = 'added') AS grants_added,
        count(*) FILTER (WHERE change = 'removed') AS grants_removed
    FROM dr_growth
    GROUP BY ALL
),
calls AS (
    SELECT
        period_index,
        actor AS agent,
        count(*) AS calls,
        count(*) FILTER (WHERE allowed_use) AS allowed_within_scope_calls,
        count(DISTINCT subject) AS invoking_users
    FROM dr_calls
    WHERE NOT flag_run_as_user
    GROUP BY ALL
),
breached AS (
    SELECT p.period_index, b.agent, count(DISTINCT b."user") AS breached_users
    FROM dr_breaches AS b
    JOIN dr_periods AS p ON p.period_start = b.period_start
    GROUP BY ALL
),
ratios AS (
    SELECT
        p.period_start,
        p.period_end,
        m.agent,
        m.granted_permissions,
        m.used_permissions,
        m.granted_permissions - m.used_permissions AS unused_permissions,
        coalesce(
            (m.granted_permissions - m.used_permissions)
                / nullif(m.granted_permissions, 0),
            0.0
        ) AS drift_ratio,
        coalesce(k.granted_grants, 0) AS granted_grants,
        coalesce(k.unused_grants, 0) AS unused_grants,
        coalesce(k.unused_grants / nullif(k.granted_grants, 0), 0.0)
            AS grant_drift_ratio,
        coalesce(g.permissions_before, 0) AS permissions_before,
        coalesce(g.permissions_at_end, 0) AS permissions_at_end,
        coalesce(g.permissions_added, 0) AS permissions_added,
        coalesce(g.permissions_removed, 0) AS permissions_removed,
        coalesce(g.permissions_added / nullif(g.permissions_at_end, 0), 0.0)
            AS growth_ratio,
        coalesce(h.grants_added, 0) AS grants_added,
        coalesce(h.grants_removed, 0) AS grants_removed,
        coalesce(c.calls, 0) AS calls,
        coalesce(c.allowed_within_scope_calls, 0) AS allowed_within_scope_calls,
        coalesce(c.invoking_users, 0) AS invoking_users,
        coalesce(b.breached_users, 0) AS breached_users,
        coalesce(b.breached_users / nullif(c.invoking_users, 0), 0.0) AS breach_ratio,
        m.period_index
    FROM permissions AS m
    JOIN dr_periods AS p ON p.period_index = m.period_index
    LEFT JOIN grant_counts AS k ON k.period_index = m.period_index AND k.agent = m.agent
    LEFT JOIN growth AS g ON g.period_index = m.period_index AND g.agent = m.agent
    LEFT JOIN changes AS h ON h.period_index = m.period_index AND h.agent = m.agent
    LEFT JOIN calls AS c ON c.period_index = m.period_index AND c.agent = m.agent
    LEFT JOIN breached AS b ON b.period_index = m.period_index AND b.agent = m.agent
),
scored AS (
    SELECT
        *,
        round(
            100 * (
                $drift_weight * drift_ratio
                + $growth_weight * growth_ratio
                + $breach_weight * breach_ratio
            ),
            1
        ) AS creep_score
    FROM ratios
)
SELECT
    * EXCLUDE (period_index),
    CASE
        WHEN lag(period_index) OVER agent_periods = period_index - 1
            THEN round(creep_score - lag(creep_score) OVER agent_periods, 1)
    END AS creep_trend
FROM scored
WINDOW agent_periods AS (PARTITION BY agent ORDER BY period_index)
ORDER BY period_start, agent
"""

_GRANTS_SQL = """
SELECT
    p.period_start,
    p.period_end,
    u.agent,
    u.grant_id,
    u.action,
    u.resource,
    u.conditional,
    CASE
        WHEN len(u.membership_ids) = 0 THEN 'direct'
        ELSE array_to_string(u.membership_ids, ',')
    END AS via,
    u.changed_by,
    u.permissions,
    u.calls,
    u.used
FROM dr_grant_usage AS u
JOIN dr_periods AS p ON p.period_index = u.period_index
ORDER BY p.period_start, u.agent, u.grant_id
"""

_GROWTH_SQL = """
SELECT
    p.period_start,
    p.period_end,
    g.agent,
    g.grant_id,
    g.change,
    g.changed_at,
    g.action,
    g.resource,
    g.causes,
    g.memberships,
    g.author
FROM dr_growth AS g
JOIN dr_periods AS p ON p.period_index = g.period_index
ORDER BY g.changed_at, g.agent, g.grant_id, g.change
"""

_INTERSECTIONS_SQL = """
WITH pairs AS (
    SELECT period_index, actor AS agent, subject AS user_id, count(*) AS calls
    FROM dr_calls
    WHERE NOT flag_run_as_user AND subject IS NOT NULL
    GROUP BY ALL
),
counts AS (
    SELECT
        period_index,
        agent,
        user_id,
        count(*) FILTER (WHERE in_period) AS intersection,
        count(*) FILTER (WHERE in_period AND used) AS used_permissions,
        count(*) FILTER (WHERE before_period) AS intersection_before,
        count(*) FILTER (WHERE at_end) AS intersection_at_end,
        count(*) FILTER (WHERE at_end AND NOT before_period) AS widened_by,
        count(*) FILTER (WHERE before_period AND NOT at_end) AS narrowed_by
    FROM dr_pair_elements
    GROUP BY ALL
)
SELECT
    d.period_start,
    d.period_end,
    p.agent,
    p.user_id AS "user",
    p.calls,
    coalesce(c.intersection, 0) AS intersection,
    coalesce(c.used_permissions, 0) AS used_permissions,
    coalesce(c.intersection - c.used_permissions, 0) AS unused_permissions,
    coalesce(c.intersection_before, 0) AS intersection_before,
    coalesce(c.intersection_at_end, 0) AS intersection_at_end,
    coalesce(c.widened_by, 0) AS widened_by,
    coalesce(c.narrowed_by, 0) AS narrowed_by,
    coalesce(u.changed_permissions, 0) AS user_changed_permissions,
    coalesce(c.widened_by, 0) > 0 AND coalesce(u.changed_permissions, 0) = 0
        AS widened_by_agent,
    coalesce(c.intersection - c.used_permissions, 0) > 0 AS wider_than_use
FROM pairs AS p
JOIN dr_periods AS d ON d.period_index = p.period_index
LEFT JOIN counts AS c
    ON c.period_index = p.period_index
    AND c.agent = p.agent
    AND c.user_id = p.user_id
LEFT JOIN dr_user_changes AS u
    ON u.period_index = p.period_index AND u.user_id = p.user_id
ORDER BY d.period_start, p.agent, p.user_id
"""


@dataclass(frozen=True)
class DriftReport:
    """The results of one drift analysis, each a DataFrame described in docs/drift.md.

    Attributes
    ----------
    agents
        One row per agent and period: scope counts, ratios, creep score and trend.
    grants
        One row per agent, period and allow grant that reached the agent: whether an
        allowed within-scope call used it.
    growth
        Grants that started or stopped reaching an agent inside a period, with author.
    intersections
        One row per invoking (user, agent) pair and period: the effective intersection
        and how it changed.
    breaches
        Ceiling breaches, one row per excess permission (see
        :func:`auditkit.analysis.ceiling.ceiling_breaches`).
    """

    agents: pd.DataFrame
    grants: pd.DataFrame
    growth: pd.DataFrame
    intersections: pd.DataFrame
    breaches: pd.DataFrame


class DriftAnalysis(ScopeTables):
    """Scope tables plus the drift tables built from them, for several queries."""

    def __enter__(self) -> DriftAnalysis:
        """Build the scope, drift and breach tables."""
        super().__enter__()
        self._run(split_statements(_drift_sql()))
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE dr_breaches AS {BREACHES_SQL}")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Drop the tables."""
        super().__exit__(kind, error, traceback)

    def agents(self) -> pd.DataFrame:
        """Return the drift of every agent in every period."""
        weights = {
            "drift_weight": DRIFT_WEIGHT,
            "growth_weight": GROWTH_WEIGHT,
            "breach_weight": BREACH_WEIGHT,
        }
        return self.con.execute(_AGENTS_SQL, weights).df()

    def grants(self) -> pd.DataFrame:
        """Return the use of every allow grant that reached an agent, per period."""
        return self.con.execute(_GRANTS_SQL).df()

    def growth(self) -> pd.DataFrame:
        """Return the grants added to or removed from an agent inside each period."""
        return self.con.execute(_GROWTH_SQL).df()

    def intersections(self) -> pd.DataFrame:
        """Return the intersection drift of every invoking (user, agent) pair."""
        return self.con.execute(_INTERSECTIONS_SQL).df()

    def breaches(self) -> pd.DataFrame:
        """Return the ceiling breaches, one row per excess permission."""
        return breaches_from(self)

    def report(self) -> DriftReport:
        """Return every result of the analysis."""
        return DriftReport(
            agents=self.agents(),
            grants=self.grants(),
            growth=self.growth(),
            intersections=self.intersections(),
            breaches=self.breaches(),
        )


def _drift_sql() -> str:
    path = resources.files("auditkit.analysis").joinpath("sql", "04_drift.sql")
    return path.read_text("utf-8")


def analyze_drift(
    con: duckdb.DuckDBPyConnection,
    period: PeriodUnit | str | None = "week",
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    settings: Settings | None = None,
) -> DriftReport:
    """Measure privilege drift per agent over consecutive periods.

    Parameters
    ----------
    con
        Connection to an evaluated workspace (the ``findings`` table must exist).
    period
        ``day``, ``week`` (from Monday) or ``month``, or None for one period from
        ``start`` to ``end``.
    start, end
        Bounds of the analysis, naive UTC; missing bounds come from the first and
        last evaluated call. Calendar periods cover them whole.
    settings
        Read for ``case_sensitive_action_namespaces``.

    Returns
    -------
    DriftReport
        The per-agent, per-grant, growth, intersection and ceiling results.
    """
    span = resolve_span(con, start, end)
    with DriftAnalysis(con, period_table(period, span), settings) as analysis:
        return analysis.report()
