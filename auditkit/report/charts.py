"""Altair charts of the findings, the stale-authority windows and privilege drift.

Every function aggregates in DuckDB first and hands Altair at most a few thousand rows
(Altair raises ``MaxRowsError`` above 5,000). One function builds one chart, so a new
chart is one new function. Tooltips name the ids a reviewer searches for: call ids,
finding ids, window ids, grant ids, users and agents.

Timestamps reach Vega-Lite as ISO 8601 strings ending in ``Z`` and every time axis uses
a UTC scale, so a chart shows the same instants whatever the local time zone is.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import altair as alt
import duckdb
import pandas as pd
import vl_convert

from auditkit.analysis.drift import DriftReport, analyze_drift
from auditkit.models.codes import Severity, Verdict
from auditkit.report.period import VIOLATION_VERDICTS, Period, table_exists
from auditkit.safety import clean_text

if TYPE_CHECKING:
    from datetime import datetime

    from auditkit.analysis.scope import PeriodUnit

logger = logging.getLogger(__name__)

# Altair's default data transformer rejects more rows than this.
MAX_CHART_ROWS = 5000
# Users, agents and resource servers beyond this many are grouped as "(other …)".
TOP_PRINCIPALS = 25
# Agents shown in the severity heatmap before the rest are grouped.
TOP_AGENTS = 40
# Permissions (grant patterns) in the drift heatmap before the rest are grouped.
TOP_PERMISSIONS = 60
# Agents drawn as their own line in the creep trend before the rest are grouped.
TOP_TREND_AGENTS = 12
# Maximum number of stale-authority windows in the timeline, the longest first.
MAX_WINDOWS = 200
# Call or finding ids listed in one tooltip.
TOOLTIP_IDS = 3

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

VERDICT_COLORS = {
    Verdict.STALE_AUTHORITY.value: "#7b2cbf",
    Verdict.USER_OVER_SCOPE.value: "#c92a2a",
    Verdict.AGENT_OVER_SCOPE.value: "#e8590c",
    Verdict.INDETERMINATE.value: "#f2c12e",
    Verdict.WITHIN_SCOPE.value: "#adb5bd",
}

SEVERITY_ORDER = [severity.value for severity in Severity]

# Use of the grants behind one (agent, permission) cell of the drift heatmap.
GRANT_USE_COLORS = {
    "unused": "#c92a2a",
    "partly used": "#f08c00",
    "used": "#2b8a3e",
}


def findings_over_time(
    con: duckdb.DuckDBPyConnection,
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> alt.Chart:
    """Build a stacked bar chart of findings per day (or week or month) by verdict.

    Each bar segment is one (period, verdict, severity) group, so the tooltip gives the
    severity and the first call ids of the group. Periods longer than 190 days are
    drawn per week, longer than 1,330 days per month, which keeps the chart under
    5,000 rows.

    Parameters
    ----------
    con
        Connection to a workspace with a ``findings`` table.
    since, until
        Half-open reporting period; ``None`` leaves that end open.

    Returns
    -------
    altair.Chart
        The chart; its ``data`` contains the aggregated rows.
    """
    period = Period.of(since, until)
    where, params = period.where("ts")
    bucket = _time_bucket(con, where, params)
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    sql = f"""
        SELECT strftime(date_trunc(?, ts), '{ISO_FORMAT}') AS bucket,
               strftime(date_trunc(?, ts), '%Y-%m-%d') AS bucket_start,
               verdict,
               severity,
               count(*) AS findings,
               {_example_ids("call_id")} AS example_calls
        FROM findings
        WHERE {where}
        GROUP BY ALL
        ORDER BY bucket, verdict, severity
    """  # noqa: S608
    data = _frame(con, sql, [bucket, bucket, *params])
    data["verdict_rank"] = data["verdict"].map(_verdict_rank)

    chart = alt.Chart(
        data, title=f"Findings per {bucket} by verdict", width=720, height=260
    )
    bars: alt.Chart = chart.mark_bar().encode(
        x=alt.X(
            "bucket:T",
            timeUnit="utcyearmonthdate",
            title=f"{bucket} (UTC)",
            axis=alt.Axis(format="%Y-%m-%d"),
        ),
        y=alt.Y("sum(findings):Q", title="findings", stack="zero"),
        color=_verdict_color(),
        order=alt.Order("verdict_rank:Q"),
        tooltip=[
            alt.Tooltip("bucket_start:N", title=f"{bucket} starting"),
            alt.Tooltip("verdict:N"),
            alt.Tooltip("severity:N"),
            alt.Tooltip("findings:Q"),
            alt.Tooltip("example_calls:N", title="first call ids"),
        ],
    )
    return bars


def stale_windows_timeline(
    con: duckdb.DuckDBPyConnection,
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> alt.LayerChart:
    """Build a timeline of stale-authority windows, one row per user and agent.

    A bar runs from the revocation instant to the last call that relied on the
    revoked authority, and a dot marks that last call. Windows that overlap the period
    are drawn, the 200 longest first.

    Parameters
    ----------
    con
        Connection to a workspace with a ``stale_windows`` table.
    since, until
        Half-open reporting period; ``None`` leaves that end open.

    Returns
    -------
    altair.LayerChart
        Bars and end dots; ``chart_data`` returns the window rows.
    """
    period = Period.of(since, until)
    where, params = period.overlaps("revoked_at", "last_call_at")
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    sql = f"""
        SELECT window_id,
               coalesce(subject, '(no user)') || ' → ' || coalesce(actor, '(no agent)')
                   AS user_and_agent,
               strftime(revoked_at, '{ISO_FORMAT}') AS revoked_at,
               strftime(last_call_at, '{ISO_FORMAT}') AS last_call_at,
               revocation_source,
               first_call_id,
               last_call_id,
               calls,
               left(resources, 200) AS resources,
               round(duration_seconds / 3600.0, 2) AS hours
        FROM stale_windows
        WHERE {where}
        ORDER BY duration_seconds DESC, window_id
        LIMIT {MAX_WINDOWS}
    """  # noqa: S608
    if table_exists(con, "stale_windows"):
        data = _frame(con, sql, params)
    else:
        data = _frame(con, _EMPTY_WINDOWS, [])

    tooltip = [
        alt.Tooltip("window_id:N"),
        alt.Tooltip("user_and_agent:N", title="user → agent"),
        alt.Tooltip("revoked_at:N", title="revoked at (UTC)"),
        alt.Tooltip("last_call_at:N", title="last call at (UTC)"),
        alt.Tooltip("revocation_source:N", title="revoked by"),
        alt.Tooltip("first_call_id:N"),
        alt.Tooltip("last_call_id:N"),
        alt.Tooltip("calls:Q"),
        alt.Tooltip("hours:Q"),
        alt.Tooltip("resources:N"),
    ]
    y = alt.Y("user_and_agent:N", title=None, sort="-x")
    base = alt.Chart(data, title="Stale-authority windows (revocation → last call)")
    bars = base.mark_bar(color=VERDICT_COLORS["stale_authority"], opacity=0.6).encode(
        x=alt.X("revoked_at:T", title="time (UTC)", scale=alt.Scale(type="utc")),
        x2="last_call_at:T",
        y=y,
        tooltip=tooltip,
    )
    ends = base.mark_point(filled=True, color="#3c096c").encode(
        x="last_call_at:T", y=y, tooltip=tooltip
    )
    height = max(60, 18 * int(data["user_and_agent"].nunique()))

    return alt.LayerChart(layer=[bars, ends], width=720, height=height)


def delegation_flow(
    con: duckdb.DuckDBPyConnection,
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> alt.HConcatChart:
    """Build the flow from users through agents to resource servers as two heatmaps.

    The left heatmap counts calls per (user, agent), the right one per (agent,
    resource server); the colour and the number in each cell are the violations
    (stale authority, user over scope, agent over scope). The 25 users, agents and
    servers with the most violations are shown and the rest grouped as ``(other …)``.

    Parameters
    ----------
    con
        Connection to a workspace with a ``findings`` table.
    since, until
        Half-open reporting period; ``None`` leaves that end open.

    Returns
    -------
    altair.HConcatChart
        Two layered heatmaps sharing one data frame with a ``stage`` column.
    """
    period = Period.of(since, until)
    where, params = period.where("ts")
    sql = _flow_sql(where)
    data = _frame(con, sql, [list(VIOLATION_VERDICTS), *params])

    left = _flow_heatmap(data, "user → agent", "user", "agent")
    right = _flow_heatmap(data, "agent → resource server", "agent", "resource server")

    return alt.hconcat(left, right, title="Delegation flow: violations per hop")


def severity_by_agent(
    con: duckdb.DuckDBPyConnection,
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> alt.LayerChart:
    """Build a heatmap of findings per agent and severity.

    Agents are ordered by their highest severity, then by their count of medium or
    worse findings. The first 40 are shown, and the rest are grouped as
    ``(other agents)``.

    Parameters
    ----------
    con
        Connection to a workspace with a ``findings`` table.
    since, until
        Half-open reporting period; ``None`` leaves that end open.

    Returns
    -------
    altair.LayerChart
        Heatmap cells with their counts; ``chart_data`` returns the rows.
    """
    period = Period.of(since, until)
    where, params = period.where("ts")
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    sql = f"""
        WITH f AS (
            SELECT coalesce(nullif(actor, ''), '(no agent)') AS agent,
                   severity,
                   list_position(?, severity) AS severity_rank,
                   finding_id, ts, call_id
            FROM findings
            WHERE {where}
        ),
        top AS (
            SELECT agent FROM f GROUP BY agent
            ORDER BY max(severity_rank) DESC,
                     count(*) FILTER (WHERE severity_rank >= 3) DESC, agent
            LIMIT {TOP_AGENTS}
        )
        SELECT CASE WHEN agent IN (SELECT agent FROM top) THEN agent
                    ELSE '(other agents)' END AS agent,
               severity,
               count(*) AS findings,
               {_example_ids("finding_id")} AS example_findings
        FROM f
        GROUP BY ALL
        ORDER BY agent, severity
    """  # noqa: S608
    data = _frame(con, sql, [SEVERITY_ORDER, *params])
    agents = _agent_order(data)

    base = alt.Chart(data, title="Findings per agent and severity").encode(
        x=alt.X("severity:N", sort=SEVERITY_ORDER, title="severity"),
        y=alt.Y("agent:N", sort=agents, title="agent"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("findings:Q", scale=alt.Scale(scheme="orangered")),
        tooltip=[
            alt.Tooltip("agent:N"),
            alt.Tooltip("severity:N"),
            alt.Tooltip("findings:Q"),
            alt.Tooltip("example_findings:N", title="first finding ids"),
        ],
    )
    counts = base.mark_text(fontSize=10).encode(text="findings:Q")
    height = max(60, 20 * len(agents))

    return alt.LayerChart(layer=[cells, counts], width=360, height=height)


def drift_heatmap(
    source: duckdb.DuckDBPyConnection | DriftReport,
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> alt.Chart:
    """Build a heatmap of agents against the permissions their allow grants give.

    A permission is a grant's action and resource pattern. A cell is drawn for each
    (agent, permission) pair that some grant gives the agent, and its colour says
    whether allowed within-scope calls of the agent used those grants in the
    analysed periods: ``used``, ``unused``, or ``partly used`` when several grants
    share the cell and only some were used. An empty cell is a permission the agent
    was not granted. The 40 agents and 60 permissions with the most unused grants
    are shown, and the rest are grouped as ``(other agents)`` and
    ``(other permissions)``.

    Parameters
    ----------
    source
        A :class:`auditkit.analysis.drift.DriftReport`, or a connection to an
        evaluated workspace, which is analysed as one period from ``since`` to
        ``until``.
    since, until
        Half-open period; only drift periods that overlap it are counted, and
        ``None`` leaves that end open.

    Returns
    -------
    altair.Chart
        The heatmap; its ``data`` has one row per cell with ``granted_grants``,
        ``used_grants``, ``unused_grants``, ``calls`` and the grant ids.
    """
    period = Period.of(since, until)
    report = _drift_report(source, None, period)
    where, params = _period_overlap(period)
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    sql = f"""
        WITH per_grant AS (
            SELECT agent,
                   action || ' ' || resource AS permission,
                   grant_id,
                   bool_or(used) AS used,
                   sum(calls) AS calls,
                   any_value(changed_by ORDER BY changed_by) AS changed_by
            FROM drift_grants
            WHERE {where}
            GROUP BY ALL
        ),
        top_agents AS (
            SELECT agent, row_number() OVER (
                ORDER BY count(*) FILTER (WHERE NOT used) DESC, count(*) DESC, agent
            ) AS rank
            FROM per_grant GROUP BY agent
        ),
        top_permissions AS (
            SELECT permission, row_number() OVER (
                ORDER BY count(*) FILTER (WHERE NOT used) DESC, count(*) DESC,
                         permission
            ) AS rank
            FROM per_grant GROUP BY permission
        ),
        bucketed AS (
            SELECT CASE WHEN a.rank <= {TOP_AGENTS} THEN g.agent
                        ELSE '(other agents)' END AS agent,
                   CASE WHEN p.rank <= {TOP_PERMISSIONS} THEN g.permission
                        ELSE '(other permissions)' END AS permission,
                   least(a.rank, {TOP_AGENTS + 1}) AS agent_rank,
                   least(p.rank, {TOP_PERMISSIONS + 1}) AS permission_rank,
                   g.grant_id, g.used, g.calls, g.changed_by
            FROM per_grant AS g
            JOIN top_agents AS a ON a.agent = g.agent
            JOIN top_permissions AS p ON p.permission = g.permission
        )
        SELECT agent,
               permission,
               min(agent_rank) AS agent_rank,
               min(permission_rank) AS permission_rank,
               CASE WHEN bool_and(used) THEN 'used'
                    WHEN NOT bool_or(used) THEN 'unused'
                    ELSE 'partly used' END AS status,
               count(*) AS granted_grants,
               count(*) FILTER (WHERE used) AS used_grants,
               count(*) FILTER (WHERE NOT used) AS unused_grants,
               sum(calls)::BIGINT AS calls,
               {_first_ids("grant_id", "used, grant_id")} AS grant_ids,
               coalesce(string_agg(DISTINCT changed_by, ', ' ORDER BY changed_by), '')
                   AS authors
        FROM bucketed
        GROUP BY agent, permission
        ORDER BY agent_rank, permission_rank
    """  # noqa: S608
    data = _drift_frame(report, sql, params)

    return _grant_use_heatmap(data)


def creep_trend(
    source: duckdb.DuckDBPyConnection | DriftReport,
    *,
    period: PeriodUnit | str = "week",
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> alt.LayerChart:
    """Build a line chart of each agent's creep score across periods.

    The creep score (0 to 100, defined in ``docs/drift.md``) weighs unused scope,
    growth and ceiling breaches. The 12 agents with the highest score in any period
    get a line each. The rest are drawn as one ``(other agents)`` line with their
    maximum score and ratios per period and the sum of their counts.

    Parameters
    ----------
    source
        A :class:`auditkit.analysis.drift.DriftReport`, or a connection to an
        evaluated workspace, which is analysed per ``period``.
    period
        ``day``, ``week`` or ``month``; used only when ``source`` is a connection.
    since, until
        Half-open period; only drift periods that overlap it are drawn, and
        ``None`` leaves that end open.

    Returns
    -------
    altair.LayerChart
        Lines and points; ``chart_data`` returns one row per agent and period.
    """
    bounds = Period.of(since, until)
    report = _drift_report(source, period, bounds)
    where, params = _period_overlap(bounds)
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    sql = f"""
        WITH a AS (SELECT * FROM drift_agents WHERE {where}),
        top AS (
            SELECT agent FROM a GROUP BY agent
            ORDER BY max(creep_score) DESC, agent
            LIMIT {TOP_TREND_AGENTS}
        ),
        bucketed AS (
            SELECT CASE WHEN agent IN (SELECT agent FROM top) THEN agent
                        ELSE '(other agents)' END AS agent,
                   * EXCLUDE (agent)
            FROM a
        )
        SELECT strftime(period_start, '{ISO_FORMAT}') AS period_start,
               strftime(period_start, '%Y-%m-%d') AS period_label,
               agent,
               count(*) AS agents,
               max(creep_score) AS creep_score,
               CASE WHEN count(*) = 1 THEN max(creep_trend) END AS creep_trend,
               round(max(drift_ratio), 3) AS drift_ratio,
               round(max(growth_ratio), 3) AS growth_ratio,
               round(max(breach_ratio), 3) AS breach_ratio,
               sum(unused_grants)::BIGINT AS unused_grants,
               sum(grants_added)::BIGINT AS grants_added,
               sum(breached_users)::BIGINT AS breached_users
        FROM bucketed
        GROUP BY ALL
        ORDER BY period_start, agent
    """  # noqa: S608
    data = _drift_frame(report, sql, params)

    return _creep_lines(data)


def chart_to_svg(chart: alt.TopLevelMixin) -> str:
    """Render a chart to a standalone SVG string with vl-convert.

    vl-convert runs Vega in-process, so rendering needs no browser and no network.

    Vega writes each mark's tooltip into an ``aria-label``; this function also adds it
    as an SVG ``<title>``, which browsers show on hover without any script.
    """
    svg: str = vl_convert.vegalite_to_svg(chart.to_dict())
    return _add_hover_titles(svg)


def chart_data(chart: Any) -> pd.DataFrame | None:
    """Return the first data frame of a chart or of its layers and concatenated parts.

    Altair moves data shared by all layers up to the top chart, so the frame may sit
    on the chart itself or on one of its parts.
    """
    data = getattr(chart, "data", None)
    if isinstance(data, pd.DataFrame):
        return data

    for part in [*_parts(chart, "layer"), *_parts(chart, "hconcat")]:
        found = chart_data(part)
        if found is not None:
            return found
    return None


def _parts(chart: Any, attribute: str) -> list[Any]:
    parts = getattr(chart, attribute, None)
    return list(parts) if isinstance(parts, list) else []


# A self-closing SVG element whose attributes include an aria-label. Attribute values
# are matched inside their quotes, so a '>' inside a value does not end the tag.
_LABELLED_ELEMENT = re.compile(
    r'<(?P<tag>[a-z]+)(?P<attrs>(?:\s+[\w:-]+="[^"]*")*?'
    r'\s+aria-label="(?P<label>[^"]*)"(?:\s+[\w:-]+="[^"]*")*)\s*/>'
)


def _add_hover_titles(svg: str) -> str:
    # The label is already XML-escaped attribute text, which is also valid element text.
    return _LABELLED_ELEMENT.sub(
        r"<\g<tag>\g<attrs>><title>\g<label></title></\g<tag>>", svg
    )


_EMPTY_WINDOWS = """
    SELECT NULL::VARCHAR AS window_id, NULL::VARCHAR AS user_and_agent,
           NULL::VARCHAR AS revoked_at, NULL::VARCHAR AS last_call_at,
           NULL::VARCHAR AS revocation_source, NULL::VARCHAR AS first_call_id,
           NULL::VARCHAR AS last_call_id, NULL::BIGINT AS calls,
           NULL::VARCHAR AS resources, NULL::DOUBLE AS hours
    WHERE FALSE
"""


def _example_ids(column: str) -> str:
    return (
        f"array_to_string(list_slice(list({column} ORDER BY ts, call_id), "
        f"1, {TOOLTIP_IDS}), ', ')"
    )


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> pd.DataFrame:
    data = con.execute(sql, params).df()
    if len(data) > MAX_CHART_ROWS:
        logger.warning(
            "chart query returned %d rows; drawing the first %d",
            len(data),
            MAX_CHART_ROWS,
        )
        data = data.head(MAX_CHART_ROWS)

    for column in data.columns:
        if data[column].dtype == object or pd.api.types.is_string_dtype(data[column]):
            data[column] = data[column].map(_clean_cell)
    return data


def _clean_cell(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    return value


def _time_bucket(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> str:
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    sql = f"SELECT date_diff('day', min(ts), max(ts)) FROM findings WHERE {where}"  # noqa: S608
    row = con.execute(sql, params).fetchone()
    span_days = row[0] if row is not None and row[0] is not None else 0
    if span_days <= 190:
        return "day"
    if span_days <= 1330:
        return "week"
    return "month"


def _verdict_rank(verdict: str) -> int:
    order = list(VERDICT_COLORS)
    return order.index(verdict) if verdict in order else len(order)


def _verdict_color() -> alt.Color:
    return alt.Color(
        "verdict:N",
        title="verdict",
        scale=alt.Scale(
            domain=list(VERDICT_COLORS), range=list(VERDICT_COLORS.values())
        ),
    )


def _flow_sql(where: str) -> str:
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    return f"""
        WITH f AS (
            SELECT coalesce(nullif(subject, ''), '(no user)') AS user_id,
                   coalesce(nullif(actor, ''), '(no agent)') AS agent_id,
                   coalesce(nullif(resource_server, ''), '(no server)') AS server_id,
                   list_contains(?, verdict) AS violating,
                   call_id, ts
            FROM findings
            WHERE {where}
        ),
        {_top_cte("top_users", "user_id")},
        {_top_cte("top_agents", "agent_id")},
        {_top_cte("top_servers", "server_id")},
        g AS (
            SELECT CASE WHEN user_id IN (SELECT v FROM top_users) THEN user_id
                        ELSE '(other users)' END AS user_id,
                   CASE WHEN agent_id IN (SELECT v FROM top_agents) THEN agent_id
                        ELSE '(other agents)' END AS agent_id,
                   CASE WHEN server_id IN (SELECT v FROM top_servers) THEN server_id
                        ELSE '(other servers)' END AS server_id,
                   violating, call_id, ts
            FROM f
        )
        SELECT 'user → agent' AS stage, user_id AS source, agent_id AS target,
               {_flow_measures()}
        FROM g GROUP BY ALL
        UNION ALL
        SELECT 'agent → resource server' AS stage, agent_id AS source,
               server_id AS target, {_flow_measures()}
        FROM g GROUP BY ALL
        ORDER BY stage, source, target
    """  # noqa: S608


def _top_cte(name: str, column: str) -> str:
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    return f"""{name} AS (
            SELECT {column} AS v FROM f GROUP BY {column}
            ORDER BY count(*) FILTER (WHERE violating) DESC, count(*) DESC, {column}
            LIMIT {TOP_PRINCIPALS}
        )"""  # noqa: S608


def _flow_measures() -> str:
    return f"""count(*) AS calls,
               count(*) FILTER (WHERE violating) AS violations,
               array_to_string(list_slice(
                   list(call_id ORDER BY ts, call_id) FILTER (WHERE violating),
                   1, {TOOLTIP_IDS}), ', ') AS example_violations"""


def _flow_heatmap(
    data: pd.DataFrame, stage: str, source_title: str, target_title: str
) -> alt.LayerChart:
    base = (
        alt.Chart(data, title=stage)
        .transform_filter(alt.datum.stage == stage)
        .encode(
            x=alt.X("target:N", title=target_title),
            y=alt.Y("source:N", title=source_title),
        )
    )
    cells = base.mark_rect().encode(
        color=alt.Color("violations:Q", scale=alt.Scale(scheme="reds")),
        tooltip=[
            alt.Tooltip("source:N", title=source_title),
            alt.Tooltip("target:N", title=target_title),
            alt.Tooltip("calls:Q"),
            alt.Tooltip("violations:Q"),
            alt.Tooltip("example_violations:N", title="first violating call ids"),
        ],
    )
    counts = base.mark_text(fontSize=10).encode(text="violations:Q")
    return alt.LayerChart(layer=[cells, counts])


def _agent_order(data: pd.DataFrame) -> list[str]:
    ranks = {severity: rank for rank, severity in enumerate(SEVERITY_ORDER)}
    worst: dict[str, tuple[int, int]] = {}
    for agent, severity, findings in data[["agent", "severity", "findings"]].itertuples(
        index=False
    ):
        rank = ranks.get(severity, -1)
        top_rank, serious = worst.get(agent, (-1, 0))
        serious += int(findings) if rank >= 2 else 0
        worst[agent] = (max(top_rank, rank), serious)

    return sorted(worst, key=lambda agent: (-worst[agent][0], -worst[agent][1], agent))


def _drift_report(
    source: duckdb.DuckDBPyConnection | DriftReport,
    period: PeriodUnit | str | None,
    bounds: Period,
) -> DriftReport:
    if isinstance(source, DriftReport):
        return source
    return analyze_drift(source, period, start=bounds.since, end=bounds.until)


def _period_overlap(bounds: Period) -> tuple[str, list[Any]]:
    # Drift periods are half-open too, so one that ends at `since` is left out.
    conditions: list[str] = []
    params: list[Any] = []
    if bounds.since is not None:
        conditions.append("period_end > ?")
        params.append(bounds.since)
    if bounds.until is not None:
        conditions.append("period_start < ?")
        params.append(bounds.until)

    return " AND ".join(conditions) or "TRUE", params


def _drift_frame(report: DriftReport, sql: str, params: list[Any]) -> pd.DataFrame:
    # A private in-memory database aggregates the report's frames, so the caller's
    # workspace connection gets no registered views.
    scratch = duckdb.connect(":memory:")
    try:
        scratch.register("drift_grants", report.grants)
        scratch.register("drift_agents", report.agents)
        return _frame(scratch, sql, params)
    finally:
        scratch.close()


def _first_ids(column: str, order: str) -> str:
    return (
        f"array_to_string(list_slice(list({column} ORDER BY {order}), "
        f"1, {TOOLTIP_IDS}), ', ')"
    )


def _grant_use_heatmap(data: pd.DataFrame) -> alt.Chart:
    agents = _ranked(data, "agent", "agent_rank")
    permissions = _ranked(data, "permission", "permission_rank")
    color = alt.Color(
        "status:N",
        title="grant use",
        scale=alt.Scale(
            domain=list(GRANT_USE_COLORS), range=list(GRANT_USE_COLORS.values())
        ),
    )
    chart = alt.Chart(
        data,
        title="Granted permissions per agent: used and unused",
        width=max(120, 14 * len(permissions)),
        height=max(60, 20 * len(agents)),
    )
    cells: alt.Chart = chart.mark_rect().encode(
        x=alt.X(
            "permission:N",
            sort=permissions,
            title="permission (grant action and resource)",
            axis=alt.Axis(labelAngle=-60, labelLimit=240),
        ),
        y=alt.Y("agent:N", sort=agents, title="agent"),
        color=color,
        tooltip=[
            alt.Tooltip("agent:N"),
            alt.Tooltip("permission:N"),
            alt.Tooltip("status:N", title="grant use"),
            alt.Tooltip("granted_grants:Q", title="grants"),
            alt.Tooltip("unused_grants:Q", title="unused grants"),
            alt.Tooltip("calls:Q", title="allowed within-scope calls"),
            alt.Tooltip("grant_ids:N", title="first grant ids (unused first)"),
            alt.Tooltip("authors:N", title="granted by"),
        ],
    )
    return cells


def _creep_lines(data: pd.DataFrame) -> alt.LayerChart:
    tooltip = [
        alt.Tooltip("agent:N"),
        alt.Tooltip("period_label:N", title="period starting"),
        alt.Tooltip("creep_score:Q", title="creep score"),
        alt.Tooltip("creep_trend:Q", title="change from previous period"),
        alt.Tooltip("drift_ratio:Q", title="drift ratio"),
        alt.Tooltip("growth_ratio:Q", title="growth ratio"),
        alt.Tooltip("breach_ratio:Q", title="breach ratio"),
        alt.Tooltip("unused_grants:Q", title="unused grants"),
        alt.Tooltip("grants_added:Q", title="grants added"),
        alt.Tooltip("breached_users:Q", title="breached users"),
    ]
    base = alt.Chart(data, title="Creep score per agent and period").encode(
        x=alt.X(
            "period_start:T",
            title="period start (UTC)",
            scale=alt.Scale(type="utc"),
            axis=alt.Axis(format="%Y-%m-%d"),
        ),
        y=alt.Y("creep_score:Q", title="creep score", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("agent:N", title="agent"),
    )
    lines = base.mark_line()
    points = base.mark_point(filled=True).encode(tooltip=tooltip)

    return alt.LayerChart(layer=[lines, points], width=720, height=280)


def _ranked(data: pd.DataFrame, column: str, rank: str) -> list[str]:
    ordered = data.sort_values([rank, column])[column]
    return list(dict.fromkeys(ordered.tolist()))
