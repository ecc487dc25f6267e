"""Stable codes for verdicts, reasons, flags, severities and input enumerations.

Dashboards and scheduled jobs key on these values, so a value never changes meaning;
new codes are added, old ones are never renamed.
"""

from __future__ import annotations

from enum import StrEnum


class PrincipalType(StrEnum):
    """Kind of principal that can hold or receive grants."""

    USER = "user"
    GROUP = "group"
    ROLE = "role"
    AGENT = "agent"


class Effect(StrEnum):
    """Effect of a grant: an explicit deny beats any allow.

    A ``boundary`` grant is a permissions boundary, as in AWS IAM. When a boundary
    reaches a principal, its allows count only where some boundary also matches.
    """

    ALLOW = "allow"
    DENY = "deny"
    BOUNDARY = "boundary"


class Outcome(StrEnum):
    """Decision the downstream system recorded for a call."""

    ALLOWED = "allowed"
    DENIED = "denied"
    ERROR = "error"


class RiskTier(StrEnum):
    """Risk tier of a tool in the catalog."""

    READ = "read"
    WRITE = "write"
    DELETE = "delete"
    ADMIN = "admin"
    EXPORT = "export"
    EXTERNAL = "external"


class LifecycleEventType(StrEnum):
    """Exact-time change of a principal."""

    CREATED = "created"
    DEACTIVATED = "deactivated"
    SUSPENDED = "suspended"
    REACTIVATED = "reactivated"
    ROLE_REMOVED = "role_removed"
    SCOPE_CHANGED = "scope_changed"
    MEMBERSHIP_ADDED = "membership_added"
    MEMBERSHIP_REMOVED = "membership_removed"


class Verdict(StrEnum):
    """Primary verdict of one call: the first in this order that applies wins."""

    STALE_AUTHORITY = "stale_authority"
    USER_OVER_SCOPE = "user_over_scope"
    AGENT_OVER_SCOPE = "agent_over_scope"
    INDETERMINATE = "indeterminate"
    WITHIN_SCOPE = "within_scope"


class SideResult(StrEnum):
    """Result of checking one side (user or agent) of a call."""

    HELD = "held"
    STALE = "stale"
    NOT_HELD = "not_held"
    UNDECIDED = "undecided"
    RUN_AS_USER = "run_as_user"


class ReasonCode(StrEnum):
    """Reason code behind the result of a side or of a call."""

    PERMISSION_HELD = "permission_held"
    PRINCIPAL_INACTIVE = "principal_inactive"
    EXPLICIT_DENY = "explicit_deny"
    NO_MATCHING_GRANT = "no_matching_grant"
    UNMAPPED_TOOL = "unmapped_tool"
    MISSING_ARGUMENT = "missing_argument"
    NO_SUBJECT = "no_subject"
    NO_ENTITLEMENT_COVERAGE = "no_entitlement_coverage"
    UNEVALUATED_CONDITION = "unevaluated_condition"
    OUTSIDE_BOUNDARY = "outside_boundary"
    # Drift and ceiling findings (the drift_findings table).
    UNUSED_GRANT = "unused_grant"
    SCOPE_GROWTH = "scope_growth"
    INTERSECTION_WIDENED = "intersection_widened"
    CEILING_BREACH = "ceiling_breach"


class Flag(StrEnum):
    """Flags that stack on any verdict."""

    RUN_AS_USER = "run_as_user"
    TOKEN_EXPIRED = "token_expired"  # noqa: S105 - a flag name, not a secret
    AUDIENCE_MISMATCH = "audience_mismatch"
    TOKEN_FORWARDED = "token_forwarded"  # noqa: S105 - a flag name, not a secret
    ENFORCEMENT_GAP = "enforcement_gap"


class Certainty(StrEnum):
    """Degree to which the inputs decide a verdict."""

    EXACT = "exact"
    BRACKETED = "bracketed"
    INDETERMINATE = "indeterminate"


class Severity(StrEnum):
    """Severity scale, lowest first."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Position on the scale: 0 for info up to 4 for critical."""
        return list(Severity).index(self)
