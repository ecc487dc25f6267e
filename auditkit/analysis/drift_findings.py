"""Write drift and ceiling findings to the workspace table ``drift_findings``.

The columns, reason codes and severities are documented in ``docs/drift.md``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from auditkit.analysis.drift import DriftAnalysis
from auditkit.analysis.scope import PeriodUnit, period_table, resolve_span
from auditkit.models import ReasonCode

if TYPE_CHECKING:
    from datetime import datetime

    import duckdb
    import pandas as pd

    from auditkit.settings import Settings

logger = logging.getLogger(__name__)

# Tier ranks in dr_grant_usage: 1 read, 2 write, 3 export, 4 external, 5 delete,
# 6 admin. Grants that reach export and above are raised one severity step.
_SENSITIVE_TIER_RANK = 3

_FINDINGS_SQL = """
WITH widened AS (
    -- Elements that joined a pair's intersection during the period while the user's
    -- own scope stayed the same, with the agent grants that hold them at its end.
    SELECT
        e.period_index,
        e.agent,
        e.user_id,
        e.element_id,
        list_sort(list_distinct(list(m.grant_id))) AS grant_ids
    FROM dr_pair_elements AS e
    JOIN dr_periods AS p ON p.period_index = e.period_index
    JOIN dr_matches AS m
        ON m.period_index = e.period_index
        AND m.root_type = 'agent'
        AND m.root_id = e.agent
        AND m.element_id = e.element_id
        AND m.effect = 'allow'
        AND m.valid_from < p.period_end
        AND m.valid_to >= p.period_end
    LEFT JOIN dr_user_changes AS c
        ON c.period_index = e.period_index AND c.user_id = e.user_id
    WHERE e.at_end AND NOT e.before_period AND coalesce(c.changed_permissions, 0) = 0
    GROUP BY ALL
),
raw AS (
    SELECT
        'drift' AS kind,
        $unused_grant AS reason,
        u.agent,
        NULL AS user_id,
        u.action,
        u.resource,
        u.period_index,
        CASE WHEN u.tier_rank >= $sensitive_rank THEN 'medium' ELSE 'low' END
            AS severity,
        list_sort([u.grant_id] || u.membership_ids) AS evidence,
        coalesce(u.changed_by, '') AS author,
        u.grant_id AS subject_key
    FROM dr_grant_usage AS u
    WHERE NOT u.used
    UNION ALL
    SELECT
        'drift',
        $scope_growth,
        g.agent,
        NULL,
        g.action,
        g.resource,
        g.period_index,
        CASE WHEN u.tier_rank >= $sensitive_rank THEN 'medium' ELSE 'low' END,
        list_sort(list_distinct(
            [g.grant_id] || string_split(g.causes, ',')
            || CASE WHEN g.memberships = '' THEN []
                ELSE string_split(g.memberships, ',') END
        )),
        g.author,
        g.grant_id || '@' || CAST(g.changed_at AS VARCHAR)
    FROM dr_growth AS g
    LEFT JOIN dr_grant_usage AS u
        ON u.period_index = g.period_index
        AND u.agent = g.agent
        AND u.grant_id = g.grant_id
    WHERE g.change = 'added'
    UNION ALL
    SELECT
        'drift',
        $intersection_widened,
        w.agent,
        w.user_id,
        v.action,
        v.resource,
        w.period_index,
        CASE WHEN list_position(
            ['read', 'write', 'export', 'external', 'delete', 'admin'], v.risk_tier
        ) >= $sensitive_rank THEN 'high' ELSE 'medium' END,
        w.grant_ids,
        (
            SELECT coalesce(
                string_agg(DISTINCT g.changed_by, ',' ORDER BY g.changed_by), ''
            )
            FROM grants AS g
            WHERE list_contains(w.grant_ids, g.grant_id)
        ),
        v.action || ' ' || v.resource
    FROM widened AS w
    JOIN dr_universe AS v ON v.element_id = w.element_id
    UNION ALL
    SELECT
        'ceiling',
        $ceiling_breach,
        b.agent,
        b."user",
        b.action,
        b.resource,
        p.period_index,
        CASE WHEN b.excess_allowed THEN 'critical' ELSE 'high' END,
        list_sort(list_distinct(
            string_split(b.agent_grants, ',')
            || CASE WHEN b.agent_memberships = '' THEN []
                ELSE string_split(b.agent_memberships, ',') END
            || CASE WHEN b.excess_call_ids = '' THEN []
                ELSE string_split(b.excess_call_ids, ',') END
        )),
        b.authors,
        b.action || ' ' || b.resource
    FROM dr_breaches AS b
    JOIN dr_periods AS p ON p.period_start = b.period_start
)
SELECT
    substr(sha256(concat_ws(
        '|', r.reason, r.agent, coalesce(r.user_id, ''), r.subject_key,
        CAST(p.period_start AS VARCHAR), CAST(p.period_end AS VARCHAR)
    )), 1, 16) AS finding_id,
    r.kind,
    r.reason,
    r.severity,
    r.agent,
    r.user_id AS "user",
    r.action || ' ' || r.resource AS permission,
    r.action,
    r.resource,
    p.period_start,
    p.period_end,
    array_to_string(r.evidence, ',') AS evidence,
    r.author
FROM raw AS r
JOIN dr_periods AS p ON p.period_index = r.period_index
ORDER BY p.period_start, r.kind, r.reason, r.agent, r.user_id, permission, finding_id
"""


def _params() -> dict[str, object]:
    return {
        "unused_grant": ReasonCode.UNUSED_GRANT.value,
        "scope_growth": ReasonCode.SCOPE_GROWTH.value,
        "intersection_widened": ReasonCode.INTERSECTION_WIDENED.value,
        "ceiling_breach": ReasonCode.CEILING_BREACH.value,
        "sensitive_rank": _SENSITIVE_TIER_RANK,
    }


def findings_from(analysis: DriftAnalysis) -> pd.DataFrame:
    """Return the drift and ceiling findings of a prepared analysis."""
    return analysis.con.execute(_FINDINGS_SQL, _params()).df()


def write_drift_findings(
    con: duckdb.DuckDBPyConnection,
    period: PeriodUnit | str | None = "week",
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Compute drift and ceiling findings and replace the ``drift_findings`` table.

    Parameters
    ----------
    con
        Connection to an evaluated workspace.
    period, start, end, settings
        As for :func:`auditkit.analysis.drift.analyze_drift`.

    Returns
    -------
    pandas.DataFrame
        The rows written, in the table's column order.
    """
    span = resolve_span(con, start, end)
    with DriftAnalysis(con, period_table(period, span), settings) as analysis:
        save_findings(analysis)
        frame = analysis.con.execute(
            "SELECT * FROM drift_findings ORDER BY period_start, kind, reason, agent, "
            '"user", permission, finding_id'
        ).df()
    logger.info("wrote %d drift findings", len(frame))
    return frame


def save_findings(analysis: DriftAnalysis) -> None:
    """Replace the ``drift_findings`` table with the findings of ``analysis``."""
    analysis.con.execute("BEGIN TRANSACTION")
    try:
        analysis.con.execute(
            f"CREATE OR REPLACE TABLE drift_findings AS {_FINDINGS_SQL}",
            _params(),
        )
        analysis.con.execute("COMMIT")
    except BaseException:
        analysis.con.execute("ROLLBACK")
        raise
