"""Configured scope over time, expanded over a per-period permission universe.

Drift, ceiling breaches and the blast radius of a reconstruction all ask the same
question: which permissions did a principal's grants cover in a stretch of time? This
module prepares the temporary tables that compute it for a list of periods:

- ``dr_periods``: the periods, ``[period_start, period_end)``;
- ``dr_universe``: per period, the catalog tools' actions with their resource templates
  generalised (``ticket/{id}`` becomes ``ticket/*``) and every concrete action and
  resource a call of the period needed;
- ``dr_calls`` and ``dr_used``: the period's evaluated calls, and which elements the
  allowed within-scope calls of each agent used;
- ``dr_matches``: every grant as it reaches a user or agent, matched against the
  universe;
- ``dr_window_scope``: the configured scope of each user and agent over the whole period
  (``period``), the last microsecond before it (``before``) and the last microsecond of
  it (``end``).

The rules are written in ``docs/drift.md``.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from importlib import resources
from typing import TYPE_CHECKING

import pandas as pd

from auditkit.analysis.findings import require_findings
from auditkit.errors import InputError
from auditkit.evaluate.engine import split_statements, step_sql
from auditkit.settings import Settings

if TYPE_CHECKING:
    from types import TracebackType

    import duckdb

logger = logging.getLogger(__name__)

MICROSECOND = timedelta(microseconds=1)

# Preparation steps of this package, run in order after the engine's own steps that
# build membership paths, reached grants and inactive periods.
SCOPE_STEPS: tuple[str, ...] = (
    "01_universe.sql",
    "02_matches.sql",
    "03_window_scope.sql",
)

# Engine steps reused as they are: transitive membership paths and inactive periods.
_ENGINE_STEPS: tuple[str, ...] = ("03_membership_paths.sql", "05_inactive_periods.sql")

# From the engine's reached-grants step, only the statements that do not need the
# engine's table of call permissions.
_REACH_STEP = "04_reached_grants.sql"


class PeriodUnit(StrEnum):
    """Length of the consecutive periods of a drift analysis."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class TimeRange:
    """Half-open range ``[start, end)`` of naive UTC instants."""

    start: datetime
    end: datetime


def period_table(unit: PeriodUnit | str | None, span: TimeRange) -> pd.DataFrame:
    """Split ``span`` into consecutive calendar periods.

    Days start at midnight UTC, weeks on Monday and months on the first day. With
    ``unit`` None the whole span is one period.

    Examples
    --------
    >>> span = TimeRange(datetime(2026, 3, 1, 10), datetime(2026, 3, 3))
    >>> frame = period_table("day", span)
    >>> [str(start) for start in frame["period_start"]]
    ['2026-03-01 00:00:00', '2026-03-02 00:00:00']
    """
    if span.end <= span.start:
        reason = f"end ({span.end.isoformat()}) is not after start ({span.start})"
        raise InputError(reason, field="end", hint="give an end after the start")

    if unit is None:
        bounds = [(span.start, span.end)]
    else:
        bounds = _calendar_periods(PeriodUnit(unit), span)
    frame = pd.DataFrame(bounds, columns=["period_start", "period_end"])
    frame.insert(0, "period_index", range(len(frame)))
    return frame.astype(
        {"period_start": "datetime64[us]", "period_end": "datetime64[us]"}
    )


def _calendar_periods(
    unit: PeriodUnit, span: TimeRange
) -> list[tuple[datetime, datetime]]:
    start = _floor(span.start, unit)
    bounds: list[tuple[datetime, datetime]] = []
    while start < span.end:
        end = _next(start, unit)
        bounds.append((start, end))
        start = end
    return bounds


def _floor(instant: datetime, unit: PeriodUnit) -> datetime:
    day = instant.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit is PeriodUnit.WEEK:
        return day - timedelta(days=day.weekday())
    if unit is PeriodUnit.MONTH:
        return day.replace(day=1)
    return day


def _next(start: datetime, unit: PeriodUnit) -> datetime:
    if unit is PeriodUnit.DAY:
        return start + timedelta(days=1)
    if unit is PeriodUnit.WEEK:
        return start + timedelta(days=7)
    days = calendar.monthrange(start.year, start.month)[1]
    return start + timedelta(days=days)


def call_span(con: duckdb.DuckDBPyConnection) -> TimeRange:
    """Return the range from the first evaluated call to just after the last one.

    Raises
    ------
    InputError
        When the workspace contains no evaluated call, so no range can be derived.
    """
    require_findings(con)
    rows = con.execute("SELECT min(ts), max(ts) FROM findings").fetchall()
    row = rows[0]
    if row[0] is None:
        reason = "the workspace contains no evaluated calls to take a time range from"
        raise InputError(
            reason, field="start", hint="give explicit start and end times"
        )
    return TimeRange(row[0], row[1] + MICROSECOND)


def resolve_span(
    con: duckdb.DuckDBPyConnection,
    start: datetime | None,
    end: datetime | None,
) -> TimeRange:
    """Return ``[start, end)``, taking a missing bound from the evaluated calls."""
    if start is not None and end is not None:
        return TimeRange(start, end)
    calls = call_span(con)
    return TimeRange(start or calls.start, end or calls.end)


class ScopeTables:
    """The temporary scope tables of one analysis, dropped when the context ends.

    Examples
    --------
    >>> import duckdb
    >>> from auditkit.evaluate import evaluate
    >>> from auditkit.workspace.schema import all_ddl
    >>> con = duckdb.connect()
    >>> for statement in all_ddl():
    ...     _ = con.execute(statement)
    >>> _ = evaluate(con)
    >>> span = TimeRange(datetime(2026, 3, 1), datetime(2026, 3, 2))
    >>> with ScopeTables(con, period_table(None, span)) as tables:
    ...     tables.con.execute("SELECT count(*) FROM dr_universe").fetchall()
    [(0,)]
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        periods: pd.DataFrame,
        settings: Settings | None = None,
    ) -> None:
        self.con = con
        self.periods = periods
        self.settings = settings or Settings()

    def __enter__(self) -> ScopeTables:
        """Build the tables."""
        require_findings(self.con)
        self._load_periods()
        for name in _ENGINE_STEPS:
            self._run(split_statements(step_sql(name)))
        self._run(_reach_statements())
        for name in SCOPE_STEPS:
            self._run(split_statements(_scope_sql(name)))
        logger.debug("prepared scope tables for %d periods", len(self.periods))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Drop the tables."""
        drop_temporary_tables(self.con)

    def rerun_window_scope(self) -> None:
        """Recompute ``dr_window_scope`` after rows were added to ``dr_windows``."""
        self._run(split_statements(_scope_sql("03_window_scope.sql")))

    def _load_periods(self) -> None:
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE dr_periods "
            "(period_index BIGINT, period_start TIMESTAMP, period_end TIMESTAMP)"
        )
        rows = [
            (int(index), start.to_pydatetime(), end.to_pydatetime())
            for index, start, end in self.periods[
                ["period_index", "period_start", "period_end"]
            ].itertuples(index=False)
        ]
        self.con.executemany("INSERT INTO dr_periods VALUES (?, ?, ?)", rows)

    def _run(self, statements: list[str]) -> None:
        namespaces = list(self.settings.case_sensitive_action_namespaces)
        for statement in statements:
            params = None
            if "$case_sensitive_namespaces" in statement:
                params = {"case_sensitive_namespaces": namespaces}
            self.con.execute(statement, params)


def _scope_sql(name: str) -> str:
    return resources.files("auditkit.analysis").joinpath("sql", name).read_text("utf-8")


def _reach_statements() -> list[str]:
    statements = split_statements(step_sql(_REACH_STEP))
    return [text for text in statements if "ak_permissions" not in text]


def drop_temporary_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the temporary ``ak_`` and ``dr_`` tables an analysis created."""
    names = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary "
        "AND (starts_with(table_name, 'ak_') OR starts_with(table_name, 'dr_'))"
    ).fetchall()
    for (name,) in names:
        con.execute(f'DROP TABLE IF EXISTS temp."{name}"')
