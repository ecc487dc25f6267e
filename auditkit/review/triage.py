"""Triage decisions on findings, kept as an append-only log in the workspace.

Each decision is one row of ``triage_log``; nothing is ever updated or deleted, so the
history of a finding stays reviewable. The current state of a finding is its latest
row. The log is keyed by ``finding_id``, which depends only on the call id, so
decisions survive every re-evaluation (``evaluate`` replaces ``findings`` but never
touches ``triage_log``).
"""

from __future__ import annotations

import getpass
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from auditkit.errors import InputError, NotFoundError
from auditkit.report.period import table_exists

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

logger = logging.getLogger(__name__)

TRIAGE_LOG_DDL = """
CREATE TABLE IF NOT EXISTS triage_log (
    seq BIGINT NOT NULL,
    finding_id VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    reviewer VARCHAR NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    comment VARCHAR
)
"""

# Comments are free text from reviewers; a bound keeps the log and reports readable.
MAX_COMMENT_LENGTH = 4000

_COLUMNS = "finding_id, state, reviewer, changed_at, comment"


class TriageState(StrEnum):
    """Review state of a finding; a finding without a decision is ``open``."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED_RISK = "accepted_risk"
    FALSE_POSITIVE = "false_positive"
    REMEDIATED = "remediated"


@dataclass(frozen=True)
class TriageChange:
    """One recorded triage decision."""

    finding_id: str
    state: TriageState
    reviewer: str
    changed_at: datetime
    comment: str | None


def ensure_triage_log(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``triage_log`` table when the workspace does not have it yet."""
    con.execute(TRIAGE_LOG_DDL)


def default_reviewer() -> str:
    """Return the login name of the current user, or ``"unknown"`` when none is set."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def set_triage(
    con: duckdb.DuckDBPyConnection,
    finding_id: str,
    state: TriageState | str,
    *,
    reviewer: str | None = None,
    comment: str | None = None,
    changed_at: datetime | None = None,
) -> TriageChange:
    """Append a triage decision for one finding.

    Parameters
    ----------
    con
        Connection to an evaluated workspace (it has a ``findings`` table).
    finding_id
        Id of the finding, as in the ``finding_id`` column.
    state
        ``open``, ``acknowledged``, ``accepted_risk``, ``false_positive`` or
        ``remediated``.
    reviewer
        Who decided; defaults to the login name of the current user.
    comment
        Free text kept with the decision.
    changed_at
        Time of the decision (UTC); defaults to now.

    Returns
    -------
    TriageChange
        The row that was appended.

    Raises
    ------
    InputError
        If ``state`` is not a triage state, or the reviewer is empty.
    NotFoundError
        If the workspace has no findings or no finding has this id.

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TABLE findings AS SELECT 'f1' AS finding_id")
    >>> change = set_triage(con, "f1", "acknowledged", reviewer="dana")
    >>> current_triage(con)[["finding_id", "state", "reviewer"]].to_dict("records")
    [{'finding_id': 'f1', 'state': 'acknowledged', 'reviewer': 'dana'}]
    """
    checked_state = parse_state(state)
    reviewer_name = (reviewer if reviewer is not None else default_reviewer()).strip()
    if not reviewer_name:
        raise InputError("reviewer is empty", field="reviewer", hint="give a name")
    if comment is not None and len(comment) > MAX_COMMENT_LENGTH:
        reason = (
            f"comment has {len(comment)} characters, more than {MAX_COMMENT_LENGTH}"
        )
        raise InputError(reason, field="comment", hint="shorten the comment")
    _require_finding(con, finding_id)

    when = _utc(changed_at or datetime.now(UTC))
    ensure_triage_log(con)
    con.execute(
        "INSERT INTO triage_log "
        "SELECT coalesce(max(seq), 0) + 1, ?, ?, ?, ?, ? FROM triage_log",
        [finding_id, checked_state.value, reviewer_name, when, comment],
    )
    logger.info(
        "finding %s set to %s by %s", finding_id, checked_state.value, reviewer_name
    )
    return TriageChange(finding_id, checked_state, reviewer_name, when, comment)


def triage_history(con: duckdb.DuckDBPyConnection, finding_id: str) -> pd.DataFrame:
    """Return every decision on one finding, oldest first.

    Columns: ``finding_id``, ``state``, ``reviewer``, ``changed_at``, ``comment``.
    An empty frame when the finding has never been triaged.
    """
    ensure_triage_log(con)
    return con.execute(
        f"SELECT {_COLUMNS} FROM triage_log WHERE finding_id = ? ORDER BY seq",  # noqa: S608
        [finding_id],
    ).df()


def current_triage(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Return the latest decision of every triaged finding, one row per finding.

    Columns as in :func:`triage_history`. Findings never triaged are absent; their
    state is ``open``.
    """
    ensure_triage_log(con)
    return con.execute(
        f"SELECT {_COLUMNS} FROM triage_log "  # noqa: S608
        "QUALIFY row_number() OVER (PARTITION BY finding_id ORDER BY seq DESC) = 1 "
        "ORDER BY finding_id"
    ).df()


def parse_state(state: TriageState | str) -> TriageState:
    """Convert ``state`` to a :class:`TriageState`; raise InputError if unknown."""
    try:
        return TriageState(str(state).strip().lower())
    except ValueError as error:
        choices = ", ".join(item.value for item in TriageState)
        raise InputError(
            f"unknown triage state {state!r}",
            field="state",
            hint=f"use one of {choices}",
        ) from error


def _require_finding(con: duckdb.DuckDBPyConnection, finding_id: str) -> None:
    if not table_exists(con, "findings"):
        message = "the workspace has no findings; run 'auditkit evaluate' first"
        raise NotFoundError(message)
    row = con.execute(
        "SELECT count(*) FROM findings WHERE finding_id = ?", [finding_id]
    ).fetchone()
    if row is None or row[0] == 0:
        message = (
            f"finding {finding_id!r} not found; list finding ids with "
            "'auditkit findings --output-format csv'"
        )
        raise NotFoundError(message)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)
