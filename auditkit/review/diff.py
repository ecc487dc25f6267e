"""Compare two reporting periods: new, persisting and resolved incidents, and exposure.

Finding ids are per call, so the same problem seen again in a later period has new ids.
The diff therefore compares **incidents**: groups of findings that share the key
``(verdict, reason, subject, actor, action, resource)``. An incident is

- **new** when its key occurs in the current period and not in the previous one;
- **persisting** when its key occurs in both;
- **resolved** when its key occurs in the previous period and not in the current one.

Only findings that need review count: the violation verdicts and ``indeterminate``.
A missing subject or actor is part of the key and equals another missing one.

Stale-authority exposure of a period counts the ``stale_windows`` that overlap it
(revocation instant to last relying call) and the sum of their durations, the same
rule as the report's summary. Drift counts the rows of ``drift_findings`` (written by
``auditkit drift``) whose ``period_start`` lies in the period; it is ``None`` when the
workspace has no such table.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import altair as alt
import pandas as pd

from auditkit.errors import InputError
from auditkit.report.period import REPORTED_VERDICTS, Period, table_exists
from auditkit.report.summary import SEVERITY_ORDER
from auditkit.safety import clean_text

if TYPE_CHECKING:
    import duckdb

DIFF_KEY: tuple[str, ...] = (
    "verdict",
    "reason",
    "subject",
    "actor",
    "action",
    "resource",
)
STATUSES: tuple[str, ...] = ("new", "persisting", "resolved")

# Incidents per status written into the summary JSON and the HTML section.
MAX_LISTED_INCIDENTS = 200

# One period's incidents; {key} and {where} are filled with trusted text.
_GROUPED_SQL = """
    SELECT {key}, count(*) AS calls,
        arg_max(severity, list_position($severities, severity)) AS severity,
        list(finding_id ORDER BY ts, finding_id) AS finding_ids
    FROM findings WHERE {where} AND list_contains($verdicts, verdict)
    GROUP BY {key}
"""

PeriodLike = Period | tuple[datetime | str | None, datetime | str | None]


@dataclass(frozen=True)
class PeriodDiff:
    """Incidents of two periods compared by key, and how exposure moved.

    ``new``, ``persisting`` and ``resolved`` hold one row per incident: the key
    columns, ``severity`` (the highest in either period), ``previous_calls``,
    ``current_calls``, ``previous_finding_ids`` and ``current_finding_ids``.
    ``exposure`` contains one row per period (``previous``, ``current``) with
    ``stale_windows``, ``stale_seconds``, ``stale_calls`` and ``drift_findings``.
    """

    previous: Period
    current: Period
    new: pd.DataFrame = field(repr=False)
    persisting: pd.DataFrame = field(repr=False)
    resolved: pd.DataFrame = field(repr=False)
    exposure: pd.DataFrame = field(repr=False)

    def counts(self) -> dict[str, int]:
        """Return the number of incidents per status."""
        return {status: len(self.incidents(status)) for status in STATUSES}

    def incidents(self, status: str) -> pd.DataFrame:
        """Return the incidents of one status: new, persisting or resolved."""
        frames = {
            "new": self.new,
            "persisting": self.persisting,
            "resolved": self.resolved,
        }
        return frames[status]

    def to_dict(self) -> dict[str, Any]:
        """Return the diff as JSON data for the summary file.

        Log-derived text is cleaned of control characters and secrets. Each status
        lists at most ``MAX_LISTED_INCIDENTS`` incidents, most calls first, and reports
        how many it left out.
        """
        exposure = {
            str(row["period"]): {
                "stale_windows": int(row["stale_windows"]),
                "stale_seconds": float(row["stale_seconds"]),
                "stale_calls": int(row["stale_calls"]),
                "drift_findings": _optional_int(row["drift_findings"]),
            }
            for row in self.exposure.to_dict("records")
        }
        return {
            "previous": self.previous.as_json(),
            "current": self.current.as_json(),
            "key": list(DIFF_KEY),
            "counts": self.counts(),
            "exposure": exposure,
            "incidents": {
                status: _incident_records(self.incidents(status)) for status in STATUSES
            },
        }


def previous_period(current: Period) -> Period:
    """Return the period of equal length that ends where ``current`` starts.

    Examples
    --------
    >>> week = Period.of("2026-03-08T00:00:00Z", "2026-03-15T00:00:00Z")
    >>> previous_period(week).as_json()  # doctest: +NORMALIZE_WHITESPACE
    {'since': '2026-03-01T00:00:00.000000Z',
     'until': '2026-03-08T00:00:00.000000Z'}
    """
    if current.since is None or current.until is None:
        raise InputError(
            "the current period has an open end, so it has no length",
            field="since" if current.since is None else "until",
            hint="give both since and until",
        )
    length = current.until - current.since
    return Period(current.since - length, current.since)


def diff_periods(
    con: duckdb.DuckDBPyConnection, previous: PeriodLike, current: PeriodLike
) -> PeriodDiff:
    """Compare the incidents and the exposure of two periods.

    Parameters
    ----------
    con
        Connection to an evaluated workspace.
    previous, current
        Half-open periods ``[since, until)``, as :class:`Period` or ``(since, until)``
        pairs of datetimes or ISO 8601 strings. The previous period must end at or
        before the start of the current one.

    Raises
    ------
    InputError
        If the periods overlap or are open where they meet.
    """
    before = _period(previous)
    after = _period(current)
    _check_order(before, after)

    incidents = _incidents(con, before, after)
    exposure = pd.DataFrame(
        [
            {"period": "previous", **_exposure(con, before)},
            {"period": "current", **_exposure(con, after)},
        ]
    )
    by_status = {
        status: incidents[incidents["status"] == status]
        .drop(columns="status")
        .reset_index(drop=True)
        for status in STATUSES
    }
    return PeriodDiff(before, after, exposure=exposure, **by_status)


def diff_chart(diff: PeriodDiff) -> alt.HConcatChart:
    """Chart the two periods side by side from aggregated counts only.

    Left: calls needing review per verdict in each period. Middle: incidents per
    status. Right: stale-authority exposure in hours per period.
    """
    by_verdict = _calls_by_verdict(diff)
    statuses = pd.DataFrame(
        {"status": list(STATUSES), "incidents": list(diff.counts().values())}
    )
    exposure = diff.exposure.assign(stale_hours=diff.exposure["stale_seconds"] / 3600)
    period_order = ["previous", "current"]

    verdicts = (
        alt.Chart(by_verdict)
        .mark_bar()
        .encode(
            x=alt.X("verdict:N", title="verdict", sort=list(REPORTED_VERDICTS)),
            xOffset=alt.XOffset("period:N", sort=period_order),
            y=alt.Y("calls:Q", title="calls"),
            color=alt.Color("period:N", sort=period_order, title="period"),
            tooltip=["period:N", "verdict:N", "calls:Q"],
        )
        .properties(width=260, height=200, title="Calls by verdict")
    )
    status = (
        alt.Chart(statuses)
        .mark_bar()
        .encode(
            x=alt.X("status:N", sort=list(STATUSES), title="incident status"),
            y=alt.Y("incidents:Q", title="incidents"),
            tooltip=["status:N", "incidents:Q"],
        )
        .properties(width=160, height=200, title="Incidents")
    )
    stale = (
        alt.Chart(exposure[["period", "stale_hours", "stale_windows"]])
        .mark_bar()
        .encode(
            x=alt.X("period:N", sort=period_order, title="period"),
            y=alt.Y("stale_hours:Q", title="stale-authority hours"),
            color=alt.Color("period:N", sort=period_order, legend=None),
            tooltip=["period:N", "stale_windows:Q", "stale_hours:Q"],
        )
        .properties(width=120, height=200, title="Stale exposure")
    )
    return alt.hconcat(verdicts, status, stale)


def render_diff_html(diff: PeriodDiff, *, limit: int = 50) -> str:
    """Return an HTML fragment (a ``<section>``) describing the diff.

    Every value is HTML-escaped after secrets and control characters are removed,
    so the fragment can be inserted into a page as is.
    """
    counts = diff.counts()
    rows = [
        '<section id="period-diff">',
        "<h2>Change since the previous period</h2>",
        f'<p class="note">Previous: {_period_text(diff.previous)}. '
        f"Current: {_period_text(diff.current)}. Incidents compare by "
        f"({_escape(', '.join(DIFF_KEY))}).</p>",
        "<table><tr><th>status</th><th>incidents</th></tr>",
        *(
            f'<tr><td>{status}</td><td class="num">{counts[status]}</td></tr>'
            for status in STATUSES
        ),
        "</table>",
        _exposure_table(diff.exposure),
    ]
    for status in STATUSES:
        rows.append(_incident_table(status, diff.incidents(status), limit))
    rows.append("</section>")
    return "\n".join(rows)


def _period(value: PeriodLike) -> Period:
    if isinstance(value, Period):
        return value
    since, until = value
    return Period.of(since, until)


def _check_order(previous: Period, current: Period) -> None:
    if previous.until is None or current.since is None:
        raise InputError(
            "the previous period must end and the current one start at a given instant",
            field="until" if previous.until is None else "since",
            hint="give the previous period's until and the current period's since",
        )
    if previous.until > current.since:
        reason = (
            f"the previous period ends at {previous.until.isoformat()}, after the "
            f"current one starts at {current.since.isoformat()}"
        )
        raise InputError(reason, field="until", hint="use periods that do not overlap")


def _incidents(
    con: duckdb.DuckDBPyConnection, previous: Period, current: Period
) -> pd.DataFrame:
    if not table_exists(con, "findings"):
        return _empty_incidents()

    previous_where, previous_params = previous.where("ts")
    current_where, current_params = current.where("ts")
    key = ", ".join(DIFF_KEY)
    joined = " AND ".join(
        f"p.{name} IS NOT DISTINCT FROM c.{name}" for name in DIFF_KEY
    )
    chosen = ", ".join(f"coalesce(c.{name}, p.{name}) AS {name}" for name in DIFF_KEY)
    grouped = _GROUPED_SQL.replace("{key}", key)

    # S608: the SQL joins fixed text and column names; values are parameters.
    sql = f"""
        WITH p AS ({grouped.replace("{where}", _numbered(previous_where, "p"))}),
             c AS ({grouped.replace("{where}", _numbered(current_where, "c"))})
        SELECT {chosen},
            CASE WHEN p.verdict IS NULL THEN 'new'
                 WHEN c.verdict IS NULL THEN 'resolved'
                 ELSE 'persisting' END AS status,
            CASE WHEN list_position($severities, c.severity)
                      >= coalesce(list_position($severities, p.severity), 0)
                 THEN c.severity ELSE p.severity END AS severity,
            coalesce(p.calls, 0) AS previous_calls,
            coalesce(c.calls, 0) AS current_calls,
            coalesce(p.finding_ids, []) AS previous_finding_ids,
            coalesce(c.finding_ids, []) AS current_finding_ids
        FROM p FULL OUTER JOIN c ON {joined}
        ORDER BY greatest(coalesce(c.calls, 0), coalesce(p.calls, 0)) DESC, {key}
    """  # noqa: S608

    params = {
        "severities": SEVERITY_ORDER,
        "verdicts": list(REPORTED_VERDICTS),
        **_named(previous_params, "p"),
        **_named(current_params, "c"),
    }
    return con.execute(sql, params).df()


def _numbered(where: str, prefix: str) -> str:
    # Period.where writes positional "?" markers. Naming them lets one query use both.
    parts = where.split("?")
    text = parts[0]
    for index, part in enumerate(parts[1:]):
        text += f"${prefix}{index}{part}"
    return text


def _named(params: list[Any], prefix: str) -> dict[str, Any]:
    return {f"{prefix}{index}": value for index, value in enumerate(params)}


def _empty_incidents() -> pd.DataFrame:
    columns = [
        *DIFF_KEY,
        "status",
        "severity",
        "previous_calls",
        "current_calls",
        "previous_finding_ids",
        "current_finding_ids",
    ]
    return pd.DataFrame({name: pd.Series([], dtype=object) for name in columns})


def _exposure(con: duckdb.DuckDBPyConnection, period: Period) -> dict[str, Any]:
    windows, seconds, calls = 0, 0.0, 0
    if table_exists(con, "stale_windows"):
        where, params = period.overlaps("revoked_at", "last_call_at")
        # S608: the SQL joins fixed text and trusted names; values are parameters.
        row = con.execute(
            "SELECT count(*), coalesce(sum(duration_seconds), 0), "  # noqa: S608
            f"coalesce(sum(calls), 0) FROM stale_windows WHERE {where}",
            params,
        ).fetchone()
        if row is not None:
            windows, seconds, calls = int(row[0]), float(row[1]), int(row[2])
    return {
        "stale_windows": windows,
        "stale_seconds": seconds,
        "stale_calls": calls,
        "drift_findings": _drift_count(con, period),
    }


def _drift_count(con: duckdb.DuckDBPyConnection, period: Period) -> int | None:
    # A drift finding belongs to the review period in which its own period starts.
    if not table_exists(con, "drift_findings"):
        return None
    where, params = period.where("period_start")
    # S608: the SQL joins fixed text; values are parameters.
    row = con.execute(
        f"SELECT count(*) FROM drift_findings WHERE {where}",  # noqa: S608
        params,
    ).fetchone()
    return int(row[0]) if row is not None else 0


def _calls_by_verdict(diff: PeriodDiff) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    frames = [diff.new, diff.persisting, diff.resolved]
    for period, column in (
        ("previous", "previous_calls"),
        ("current", "current_calls"),
    ):
        for verdict in REPORTED_VERDICTS:
            calls = sum(
                int(frame.loc[frame["verdict"] == verdict, column].sum())
                for frame in frames
            )
            rows.append({"period": period, "verdict": verdict, "calls": calls})
    return pd.DataFrame(rows)


def _incident_records(frame: pd.DataFrame) -> dict[str, Any]:
    shown = frame.head(MAX_LISTED_INCIDENTS)
    items = []
    for row in shown.to_dict("records"):
        item = {name: _clean(row[name]) for name in (*DIFF_KEY, "severity")}
        item["previous_calls"] = int(row["previous_calls"])
        item["current_calls"] = int(row["current_calls"])
        item["previous_finding_ids"] = [
            str(value) for value in row["previous_finding_ids"]
        ]
        item["current_finding_ids"] = [
            str(value) for value in row["current_finding_ids"]
        ]
        items.append(item)
    return {"count": len(frame), "omitted": len(frame) - len(shown), "items": items}


def _clean(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return clean_text(str(value))


def _optional_int(value: Any) -> int | None:
    if value is None or pd.isna(value):
        return None
    return int(value)


def _escape(value: Any) -> str:
    cleaned = _clean(value)
    return html.escape("" if cleaned is None else str(cleaned))


def _period_text(period: Period) -> str:
    bounds = period.as_json()
    since = bounds["since"] or "start of data"
    until = bounds["until"] or "end of data"
    return f"{_escape(since)} to {_escape(until)}"


def _exposure_table(exposure: pd.DataFrame) -> str:
    rows = [
        "<table><tr><th>period</th><th>stale-authority windows</th>"
        "<th>stale hours</th><th>relying calls</th><th>drift findings</th></tr>"
    ]
    for row in exposure.to_dict("records"):
        drift = _optional_int(row["drift_findings"])
        rows.append(
            f"<tr><td>{_escape(row['period'])}</td>"
            f'<td class="num">{int(row["stale_windows"])}</td>'
            f'<td class="num">{float(row["stale_seconds"]) / 3600:.2f}</td>'
            f'<td class="num">{int(row["stale_calls"])}</td>'
            f'<td class="num">{"n/a" if drift is None else drift}</td></tr>'
        )
    rows.append("</table>")
    return "\n".join(rows)


def _incident_table(status: str, frame: pd.DataFrame, limit: int) -> str:
    title = f"<h3>{status.capitalize()} incidents ({len(frame)})</h3>"
    if frame.empty:
        return f'{title}\n<p class="empty">None.</p>'
    header = "".join(
        f"<th>{name}</th>"
        for name in (*DIFF_KEY, "severity", "previous calls", "current calls")
    )
    rows = [title, f"<table><tr>{header}</tr>"]
    for row in frame.head(limit).to_dict("records"):
        cells = "".join(
            f'<td class="mono">{_escape(row[name])}</td>'
            for name in (*DIFF_KEY, "severity")
        )
        rows.append(
            f'<tr>{cells}<td class="num">{int(row["previous_calls"])}</td>'
            f'<td class="num">{int(row["current_calls"])}</td></tr>'
        )
    rows.append("</table>")
    if len(frame) > limit:
        rows.append(f'<p class="note">First {limit} of {len(frame)} shown.</p>')
    return "\n".join(rows)
