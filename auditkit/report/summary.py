"""Counts of a period's findings, and the severity gate behind ``--fail-on``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auditkit.errors import InputError
from auditkit.models.codes import Flag, Severity, Verdict
from auditkit.report.period import VIOLATION_VERDICTS, Period, table_exists
from auditkit.safety import clean_text

if TYPE_CHECKING:
    from datetime import datetime

    import duckdb

SEVERITY_ORDER = [severity.value for severity in Severity]


def fail_on(
    con: duckdb.DuckDBPyConnection,
    severity: Severity | str,
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> bool:
    """Return whether any finding in the period has ``severity`` or a higher one.

    Parameters
    ----------
    con
        Connection to a workspace with a ``findings`` table.
    severity
        Threshold: ``info``, ``low``, ``medium``, ``high`` or ``critical``.
    since, until
        Half-open reporting period; ``None`` leaves that end open.

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TABLE findings (ts TIMESTAMP, severity VARCHAR)")
    >>> _ = con.execute("INSERT INTO findings VALUES ('2026-03-01 10:00', 'high')")
    >>> fail_on(con, "high"), fail_on(con, "critical")
    (True, False)
    """
    threshold = _severity(severity)
    period = Period.of(since, until)
    where, params = period.where("ts")
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    row = con.execute(
        f"SELECT count(*) FROM findings WHERE {where} "  # noqa: S608
        "AND list_position(?, severity) >= ?",
        [*params, SEVERITY_ORDER, SEVERITY_ORDER.index(threshold.value) + 1],
    ).fetchone()
    return row is not None and row[0] > 0


def summarize(con: duckdb.DuckDBPyConnection, period: Period) -> dict[str, Any]:
    """Return the period's counts per verdict, severity and flag, windows and inputs.

    Every verdict, severity and flag is listed, with 0 where none occurred, so the
    keys do not depend on the data. The result contains no generation time.
    """
    counts = _finding_counts(con, period)
    return {
        "period": {**period.as_json(), **_observed_range(con, period)},
        "findings": counts["findings"],
        "violations": counts["violations"],
        "by_verdict": {verdict.value: counts[verdict.value] for verdict in Verdict},
        "by_severity": {name: counts[f"severity_{name}"] for name in SEVERITY_ORDER},
        "by_flag": {flag.value: counts[f"flag_{flag.value}"] for flag in Flag},
        "stale_windows": _window_counts(con, period),
        "inputs": input_files(con),
    }


def input_files(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Return the loaded input files from ``load_log`` without their load times.

    Sorted by file, kind and hash; an empty list when the workspace has no load log.
    """
    if not table_exists(con, "load_log"):
        return []
    rows = con.execute(
        "SELECT source_file, kind, sha256, rows_accepted, rows_quarantined, "
        "rows_duplicate FROM load_log ORDER BY source_file, kind, sha256, load_id"
    ).fetchall()
    keys = ("source_file", "kind", "sha256", "rows_accepted", "rows_quarantined")
    return [
        {
            **dict(zip(keys, row[:5], strict=True)),
            "source_file": clean_text(row[0]),
            "rows_duplicate": row[5],
        }
        for row in rows
    ]


def _severity(value: Severity | str) -> Severity:
    try:
        return Severity(str(value).lower())
    except ValueError as error:
        choices = ", ".join(SEVERITY_ORDER)
        raise InputError(
            f"unknown severity {value!r}",
            field="severity",
            hint=f"use one of {choices}",
        ) from error


def _finding_counts(con: duckdb.DuckDBPyConnection, period: Period) -> dict[str, int]:
    where, params = period.where("ts")
    measures = ["count(*) AS findings"]
    measures.append("count(*) FILTER (WHERE list_contains(?, verdict)) AS violations")
    measures += [
        f"count(*) FILTER (WHERE verdict = '{verdict.value}') AS {verdict.value}"
        for verdict in Verdict
    ]
    measures += [
        f"count(*) FILTER (WHERE severity = '{name}') AS severity_{name}"
        for name in SEVERITY_ORDER
    ]
    measures += [
        f"count(*) FILTER (WHERE flag_{flag.value}) AS flag_{flag.value}"
        for flag in Flag
    ]
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    relation = con.execute(
        f"SELECT {', '.join(measures)} FROM findings WHERE {where}",  # noqa: S608
        [list(VIOLATION_VERDICTS), *params],
    )
    names = [column[0] for column in relation.description]
    row = relation.fetchone()
    values = row if row is not None else [0] * len(names)
    return {name: int(value or 0) for name, value in zip(names, values, strict=True)}


def _observed_range(con: duckdb.DuckDBPyConnection, period: Period) -> dict[str, Any]:
    where, params = period.where("ts")
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    row = con.execute(
        "SELECT strftime(min(ts), '%Y-%m-%dT%H:%M:%S.%fZ'), "  # noqa: S608
        f"strftime(max(ts), '%Y-%m-%dT%H:%M:%S.%fZ') FROM findings WHERE {where}",
        params,
    ).fetchone()
    first, last = row if row is not None else (None, None)
    return {"first_call_at": first, "last_call_at": last}


def _window_counts(con: duckdb.DuckDBPyConnection, period: Period) -> dict[str, Any]:
    if not table_exists(con, "stale_windows"):
        return {"count": 0, "relying_calls": 0, "longest_seconds": None}
    where, params = period.overlaps("revoked_at", "last_call_at")
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    row = con.execute(
        "SELECT count(*), coalesce(sum(calls), 0), max(duration_seconds) "  # noqa: S608
        f"FROM stale_windows WHERE {where}",
        params,
    ).fetchone()
    count, calls, longest = row if row is not None else (0, 0, None)
    return {"count": count, "relying_calls": int(calls), "longest_seconds": longest}
