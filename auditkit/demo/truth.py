"""Ground truth: the finding each call must get, from what was planted and the rules.

The planted incidents state the result of each side of a call (what the generator
built the organisation to produce); this module applies the verdict order, certainty,
flag and severity rules of ``docs/semantics.md`` to those sides and to the call's own
fields. It never evaluates entitlements itself.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditkit.models import (
    Certainty,
    Flag,
    Outcome,
    ReasonCode,
    RiskTier,
    Severity,
    SideResult,
    Verdict,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from auditkit.demo.records import CallRow, CatalogRow


@dataclass(frozen=True)
class Side:
    """The result of one side of a call and the reason behind it."""

    result: SideResult
    reason: ReasonCode = ReasonCode.PERMISSION_HELD


HELD = Side(SideResult.HELD)


@dataclass(frozen=True)
class Expectation:
    """What the organisation was built to produce for one call.

    ``undecided`` is a reason that makes both sides undecided (``unmapped_tool``,
    ``missing_argument`` or ``no_entitlement_coverage``); ``bracketed`` says that the
    call shares its instant with a change of something it needs.
    """

    user: Side = HELD
    agent: Side = HELD
    undecided: ReasonCode | None = None
    bracketed: bool = False


@dataclass(frozen=True)
class Truth:
    """The expected finding of one call: one row of ``ground_truth.csv``."""

    call_id: str
    verdict: Verdict
    reason: ReasonCode
    certainty: Certainty
    severity: Severity
    flags: tuple[Flag, ...]


_VIOLATIONS = (
    Verdict.STALE_AUTHORITY,
    Verdict.USER_OVER_SCOPE,
    Verdict.AGENT_OVER_SCOPE,
)
_TIER_SEVERITY = {
    RiskTier.READ: Severity.MEDIUM,
    RiskTier.WRITE: Severity.HIGH,
    RiskTier.EXPORT: Severity.HIGH,
    RiskTier.EXTERNAL: Severity.HIGH,
    RiskTier.DELETE: Severity.CRITICAL,
    RiskTier.ADMIN: Severity.CRITICAL,
}
_TOKEN_FLAGS = (Flag.TOKEN_EXPIRED, Flag.AUDIENCE_MISMATCH, Flag.TOKEN_FORWARDED)


class GroundTruth:
    """Computes the expected finding of every call of one generated folder."""

    def __init__(self, catalog: Iterable[CatalogRow], calls: Iterable[CallRow]) -> None:
        self._catalog = {entry.tool: entry for entry in catalog}
        self._forwarded = self._forwarded_tokens(calls)

    def resource_server(self, call: CallRow) -> str | None:
        """Return the server a call reached: its own, else the catalog's."""
        if call.resource_server is not None:
            return call.resource_server
        entry = self._catalog.get(call.tool)
        return entry.resource_server if entry else None

    def decide(self, call: CallRow, expectation: Expectation) -> Truth:
        """Return the expected finding of ``call`` given the planted sides."""
        run_as_user = call.actor is None or call.actor == call.subject
        if run_as_user:
            expectation = Expectation(
                user=expectation.user,
                agent=Side(SideResult.RUN_AS_USER),
                undecided=expectation.undecided,
                bracketed=expectation.bracketed,
            )

        verdict, reason = _verdict(expectation)
        flags = self._flags(call, verdict, run_as_user)
        return Truth(
            call_id=call.call_id,
            verdict=verdict,
            reason=reason,
            certainty=_certainty(verdict, expectation),
            severity=self._severity(call, verdict, flags),
            flags=flags,
        )

    def _flags(
        self, call: CallRow, verdict: Verdict, run_as_user: bool
    ) -> tuple[Flag, ...]:
        server = self.resource_server(call)
        expired = call.token_expires_at is not None and call.ts >= call.token_expires_at
        mismatch = (
            call.audience is not None and server is not None and call.audience != server
        )
        forwarded = call.token_id is not None and call.token_id in self._forwarded
        gap = verdict in _VIOLATIONS and call.outcome is Outcome.ALLOWED

        raised = {
            Flag.RUN_AS_USER: run_as_user,
            Flag.TOKEN_EXPIRED: expired,
            Flag.AUDIENCE_MISMATCH: mismatch,
            Flag.TOKEN_FORWARDED: forwarded,
            Flag.ENFORCEMENT_GAP: gap,
        }
        return tuple(flag for flag in Flag if raised[flag])

    def _severity(
        self, call: CallRow, verdict: Verdict, flags: tuple[Flag, ...]
    ) -> Severity:
        if verdict is Verdict.WITHIN_SCOPE:
            if any(flag in flags for flag in _TOKEN_FLAGS):
                return Severity.LOW
            return Severity.INFO
        if verdict is Verdict.INDETERMINATE:
            return Severity.LOW

        entry = self._catalog.get(call.tool)
        # A tool with no tier counts as write.
        tier = entry.risk_tier if entry else RiskTier.WRITE
        severity = _TIER_SEVERITY[tier]
        if call.outcome is Outcome.DENIED:
            severity = list(Severity)[severity.rank - 1]
        return severity

    def _forwarded_tokens(self, calls: Iterable[CallRow]) -> set[str]:
        servers: dict[str, set[str]] = defaultdict(set)
        for call in calls:
            server = self.resource_server(call)
            if call.token_id is not None and server is not None:
                servers[call.token_id].add(server)
        return {token for token, seen in servers.items() if len(seen) > 1}


def _verdict(expectation: Expectation) -> tuple[Verdict, ReasonCode]:
    if expectation.undecided is not None:
        return Verdict.INDETERMINATE, expectation.undecided

    user, agent = expectation.user, expectation.agent
    # The first that holds wins: decided violations before undecided sides.
    ordered = (
        (user.result is SideResult.STALE, Verdict.STALE_AUTHORITY, user.reason),
        (user.result is SideResult.NOT_HELD, Verdict.USER_OVER_SCOPE, user.reason),
        (agent.result is SideResult.NOT_HELD, Verdict.AGENT_OVER_SCOPE, agent.reason),
        (user.result is SideResult.UNDECIDED, Verdict.INDETERMINATE, user.reason),
        (agent.result is SideResult.UNDECIDED, Verdict.INDETERMINATE, agent.reason),
    )
    for applies, verdict, reason in ordered:
        if applies:
            return verdict, reason
    return Verdict.WITHIN_SCOPE, ReasonCode.PERMISSION_HELD


def _certainty(verdict: Verdict, expectation: Expectation) -> Certainty:
    if verdict is Verdict.INDETERMINATE:
        return Certainty.INDETERMINATE
    if expectation.bracketed:
        return Certainty.BRACKETED
    return Certainty.EXACT
