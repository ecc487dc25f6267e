"""Verdicts and certainty on a world given only as daily snapshots and exact events.

Each case runs on the engine and on the reference evaluator; both must give the
values worked out by hand from docs/semantics.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from auditkit.entitlements.snapshots import Snapshot, snapshot_intervals
from tests.reference.engine import engine_evaluation
from tests.reference.evaluator import Evaluation, FindingRow, World, evaluate_world

DAY = [datetime(2026, 3, day) for day in range(1, 5)]
HOUR = timedelta(hours=1)

CATALOG = [
    {
        "tool": "read_doc",
        "action": "svc:Read",
        "resource_template": "doc/{id}",
        "risk_tier": "read",
    }
]


def grant(holder: str, action: str = "svc:*") -> dict[str, Any]:
    principal_type, principal_id = holder.split(":")
    return {
        "principal_type": principal_type,
        "principal_id": principal_id,
        "effect": "allow",
        "action": action,
        "resource": "doc/*",
    }


def member(child: str, parent: str) -> dict[str, Any]:
    member_type, member_id = child.split(":")
    parent_type, parent_id = parent.split(":")
    return {
        "member_type": member_type,
        "member_id": member_id,
        "parent_type": parent_type,
        "parent_id": parent_id,
    }


ALICE_DIRECT = grant("user:alice")
ALICE_IN_ENG = member("user:alice", "group:eng")
ENG_READ = grant("group:eng", "svc:Read")
BOB_DIRECT = grant("user:bob")
HELPER_ALL = grant("agent:helper", "*")

# Alice is deactivated at noon on day 2; her grant and membership are gone on day 3.
# Bob's grant is gone on day 3 with no event saying when.
SERIES = [
    Snapshot(DAY[0], (ALICE_DIRECT, ENG_READ, BOB_DIRECT, HELPER_ALL), (ALICE_IN_ENG,)),
    Snapshot(DAY[1], (ALICE_DIRECT, ENG_READ, BOB_DIRECT, HELPER_ALL), (ALICE_IN_ENG,)),
    Snapshot(DAY[2], (ENG_READ, HELPER_ALL)),
    Snapshot(DAY[3], (ENG_READ, HELPER_ALL)),
]
DEACTIVATION = {
    "event_id": "okta-1",
    "ts": DAY[1] + 12 * HOUR,
    "principal_type": "user",
    "principal_id": "alice",
    "event_type": "deactivated",
}


def call(call_id: str, subject: str, ts: datetime, started: datetime) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "ts": ts,
        "tool": "read_doc",
        "subject": subject,
        "actor": "helper",
        "arguments": {"id": "a"},
        "session_started_at": started,
    }


CALLS = [
    call("alice-after-event", "alice", DAY[1] + 18 * HOUR, DAY[1] + 6 * HOUR),
    call("alice-before-event", "alice", DAY[1] + 9 * HOUR, DAY[1] + 6 * HOUR),
    call("bob-in-window", "bob", DAY[1] + 18 * HOUR, DAY[1] + 6 * HOUR),
    call("bob-at-snapshot", "bob", DAY[2], DAY[1] + 6 * HOUR),
    call("bob-after-window", "bob", DAY[2] + 6 * HOUR, DAY[1] + 6 * HOUR),
    call("before-first", "bob", DAY[0] - HOUR, DAY[0] - 2 * HOUR),
    call("within-staleness", "alice", DAY[3] + 20 * HOUR, DAY[3] + 19 * HOUR),
    call("beyond-staleness", "alice", DAY[4 - 1] + 25 * HOUR, DAY[3] + 24 * HOUR),
]


def snapshot_world(events: list[dict[str, Any]]) -> World:
    built = snapshot_intervals(SERIES, staleness=timedelta(days=1), events=events)
    return World.of(
        calls=CALLS,
        grants=built.grants,
        memberships=built.memberships,
        events=events,
        catalog=CATALOG,
        coverage=built.coverage,
    )


def evaluations(world: World) -> dict[str, Evaluation]:
    return {"reference": evaluate_world(world), "engine": engine_evaluation(world)}


@pytest.fixture(scope="module")
def with_event() -> dict[str, dict[str, FindingRow]]:
    """Findings by evaluator and call id for the series plus the deactivation."""
    results = evaluations(snapshot_world([DEACTIVATION]))
    return {name: result.by_call() for name, result in results.items()}


@pytest.fixture(scope="module")
def without_event() -> dict[str, dict[str, FindingRow]]:
    """Findings for the series alone."""
    results = evaluations(snapshot_world([]))
    return {name: result.by_call() for name, result in results.items()}


EVALUATORS = ["reference", "engine"]

EXPECTED_WITH_EVENT = {
    # The event pins the end of alice's facts: after it, stale and exact.
    "alice-after-event": ("stale_authority", "principal_inactive", "exact"),
    # Before the event the pinned intervals still hold: held, exact.
    "alice-before-event": ("within_scope", "permission_held", "exact"),
    # Bob's grant vanished between day 2 and day 3 with no event: the verdict follows
    # the last known state (held) and is bracketed.
    "bob-in-window": ("within_scope", "permission_held", "bracketed"),
    "bob-at-snapshot": ("stale_authority", "no_matching_grant", "bracketed"),
    "bob-after-window": ("stale_authority", "no_matching_grant", "exact"),
    "before-first": ("indeterminate", "no_entitlement_coverage", "indeterminate"),
    # Alice is inactive for good; within the staleness limit that is still exact.
    "within-staleness": ("user_over_scope", "principal_inactive", "exact"),
    "beyond-staleness": ("indeterminate", "no_entitlement_coverage", "indeterminate"),
}


@pytest.mark.parametrize("evaluator", EVALUATORS)
@pytest.mark.parametrize("call_id", sorted(EXPECTED_WITH_EVENT))
def test_snapshot_series_with_event(
    with_event: dict[str, dict[str, FindingRow]], evaluator: str, call_id: str
) -> None:
    row = with_event[evaluator][call_id]
    verdict, reason, certainty = EXPECTED_WITH_EVENT[call_id]

    assert row.verdict == verdict
    assert row.reason == reason
    assert row.certainty == certainty


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_unpinned_deactivation_window_bracketed(
    without_event: dict[str, dict[str, FindingRow]], evaluator: str
) -> None:
    row = without_event[evaluator]["alice-after-event"]

    assert row.verdict == "within_scope"
    assert row.certainty == "bracketed"


def test_event_pins_grant_end() -> None:
    built = snapshot_intervals(SERIES, events=[DEACTIVATION])
    alice = [g for g in built.grants if g["principal_id"] == "alice"]

    assert [g["valid_to"] for g in alice] == [DEACTIVATION["ts"]]
    assert "valid_to_earliest" not in alice[0]


def test_event_pins_membership_end() -> None:
    built = snapshot_intervals(SERIES, events=[DEACTIVATION])

    assert built.memberships[0]["valid_to"] == DEACTIVATION["ts"]


def test_unexplained_removal_keeps_window() -> None:
    built = snapshot_intervals(SERIES, events=[DEACTIVATION])
    bob = next(g for g in built.grants if g["principal_id"] == "bob")

    assert bob["valid_to"] == DAY[2]
    assert bob["valid_to_earliest"] == DAY[1]
