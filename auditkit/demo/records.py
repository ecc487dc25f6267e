"""Plain records of the example organisation, shaped like the canonical input models.

The field order of each record is the field order of its model in
``auditkit.models.inputs``, so the writer can take CSV headers from the records. All
datetimes are naive and hold UTC instants, as the canonical models store them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditkit.models import (
        Effect,
        LifecycleEventType,
        Outcome,
        PrincipalType,
        RiskTier,
    )


def format_instant(value: datetime) -> str:
    """Format a naive UTC datetime as ISO 8601 with a ``Z`` suffix.

    The fraction is written only when the instant has microseconds.

    Examples
    --------
    >>> format_instant(datetime(2026, 3, 2, 9, 30))
    '2026-03-02T09:30:00Z'
    >>> format_instant(datetime(2026, 3, 2, 9, 30, 0, 1))
    '2026-03-02T09:30:00.000001Z'
    """
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Clock:
    """Instants of the example period, given as day offsets from its start."""

    start: datetime
    days: int

    @property
    def end(self) -> datetime:
        """End of the period (exclusive)."""
        return self.start + timedelta(days=self.days)

    def at(self, day: int, time_of_day: str) -> datetime:
        """Return the instant ``day`` days after the start at ``HH:MM:SS[.ffffff]``."""
        parsed = datetime.strptime(
            time_of_day, "%H:%M:%S.%f" if "." in time_of_day else "%H:%M:%S"
        )
        offset = timedelta(
            hours=parsed.hour,
            minutes=parsed.minute,
            seconds=parsed.second,
            microseconds=parsed.microsecond,
        )
        return self.start + timedelta(days=day) + offset


@dataclass(frozen=True)
class GrantRow:
    """One allow or deny grant interval (see ``auditkit.models.Grant``)."""

    grant_id: str
    principal_type: PrincipalType
    principal_id: str
    effect: Effect
    action: str
    resource: str
    valid_from: datetime
    valid_to: datetime | None = None
    condition: str | None = None
    seq: int | None = None
    changed_by: str | None = None

    def in_force(self, instant: datetime) -> bool:
        """Return whether the grant's half-open interval covers ``instant``."""
        return self.valid_from <= instant and (
            self.valid_to is None or instant < self.valid_to
        )


@dataclass(frozen=True)
class MembershipRow:
    """One membership interval (see ``auditkit.models.Membership``)."""

    membership_id: str
    member_type: PrincipalType
    member_id: str
    parent_type: PrincipalType
    parent_id: str
    valid_from: datetime
    valid_to: datetime | None = None
    seq: int | None = None
    changed_by: str | None = None

    def in_force(self, instant: datetime) -> bool:
        """Return whether the membership's half-open interval covers ``instant``."""
        return self.valid_from <= instant and (
            self.valid_to is None or instant < self.valid_to
        )


@dataclass(frozen=True)
class EventRow:
    """One lifecycle event (see ``auditkit.models.LifecycleEvent``)."""

    event_id: str
    ts: datetime
    principal_type: PrincipalType
    principal_id: str
    event_type: LifecycleEventType
    changed_by: str | None = None
    detail: str | None = None
    seq: int | None = None


@dataclass(frozen=True)
class CatalogRow:
    """One tool of the catalog (see ``auditkit.models.CatalogEntry``)."""

    tool: str
    action: str
    resource_template: str
    risk_tier: RiskTier
    resource_server: str | None = None


@dataclass(frozen=True)
class CoverageRow:
    """One span of complete entitlement data (see ``auditkit.models.Coverage``)."""

    coverage_id: str
    valid_from: datetime
    valid_to: datetime | None = None
    source: str | None = None


@dataclass(frozen=True)
class Token:
    """An access token as the calls that carry it record it."""

    token_id: str
    issued_at: datetime
    expires_at: datetime
    audience: str


@dataclass(frozen=True)
class CallRow:
    """One tool call (see ``auditkit.models.ToolCall``)."""

    call_id: str
    ts: datetime
    tool: str
    subject: str | None = None
    actor: str | None = None
    actor_chain: tuple[str, ...] | None = None
    arguments: dict[str, Any] | None = field(default=None, hash=False)
    action: str | None = None
    resource: str | None = None
    token_id: str | None = None
    token_issued_at: datetime | None = None
    token_expires_at: datetime | None = None
    audience: str | None = None
    resource_server: str | None = None
    outcome: Outcome | None = None
    session_id: str | None = None
    session_started_at: datetime | None = None
