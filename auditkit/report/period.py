"""The reporting period and the SQL that restricts the findings table to it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from auditkit.errors import InputError
from auditkit.models.timestamps import parse_instant

if TYPE_CHECKING:
    import duckdb

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

VIOLATION_VERDICTS = ("stale_authority", "user_over_scope", "agent_over_scope")
REPORTED_VERDICTS = (*VIOLATION_VERDICTS, "indeterminate")


@dataclass(frozen=True)
class Period:
    """Half-open reporting period ``[since, until)`` of UTC instants; ``None`` is open.

    Examples
    --------
    >>> Period.of("2026-03-01T00:00:00Z", None).where("ts")
    ('ts >= ?', [datetime.datetime(2026, 3, 1, 0, 0)])
    """

    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def of(cls, since: datetime | str | None, until: datetime | str | None) -> Period:
        """Build a period from datetimes or ISO 8601 strings.

        A value without a time zone is read as UTC, because the workspace stores UTC
        instants, and a date alone (``2026-03-01``) means midnight UTC of that day.
        Raises :class:`auditkit.errors.InputError` when a bound is not a valid instant
        or ``until`` is not after ``since``.
        """
        start = _instant(since, "since")
        end = _instant(until, "until")
        if start is not None and end is not None and end <= start:
            reason = (
                f"until ({end.isoformat()}) is not after since ({start.isoformat()})"
            )
            raise InputError(reason, field="until", hint="give an until after since")

        return cls(start, end)

    def where(self, column: str) -> tuple[str, list[Any]]:
        """Return a SQL condition on ``column`` (a trusted name) and its parameters."""
        conditions: list[str] = []
        params: list[Any] = []
        if self.since is not None:
            conditions.append(f"{column} >= ?")
            params.append(self.since)
        if self.until is not None:
            conditions.append(f"{column} < ?")
            params.append(self.until)

        return " AND ".join(conditions) or "TRUE", params

    def overlaps(self, start: str, end: str) -> tuple[str, list[Any]]:
        """Return a SQL condition that the interval ``[start, end]`` meets the period.

        ``start`` and ``end`` are trusted column names.
        """
        conditions: list[str] = []
        params: list[Any] = []
        if self.since is not None:
            conditions.append(f"{end} >= ?")
            params.append(self.since)
        if self.until is not None:
            conditions.append(f"{start} < ?")
            params.append(self.until)

        return " AND ".join(conditions) or "TRUE", params

    def as_json(self) -> dict[str, str | None]:
        """Return the bounds as ISO 8601 UTC strings (``None`` for an open end)."""
        return {"since": _iso(self.since), "until": _iso(self.until)}


def _instant(value: datetime | str | None, field: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str) and _DATE_ONLY.match(value.strip()):
        value = f"{value.strip()}T00:00:00Z"
    try:
        return parse_instant(value, default_zone=UTC)
    except ValueError as error:
        hint = (
            "give a date such as 2026-03-01 or an instant such as 2026-03-01T08:00:00Z"
        )
        raise InputError(str(error), field=field, hint=hint) from error


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Return whether the main schema of ``con`` has a table or view called ``name``."""
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = 'main' "
        "AND table_name = ?",
        [name],
    ).fetchone()
    return row is not None and row[0] > 0
