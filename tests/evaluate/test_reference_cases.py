"""Hand-computed cases of docs/semantics.md, run on the reference and on the engine.

Each case is a small world and the expected values of some finding columns per call,
worked out by hand from the rule book. The same data checks both evaluators, so the
reference earns the trust the property tests put in it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.reference.engine import engine_evaluation, engine_missing
from tests.reference.evaluator import Evaluation, World, evaluate_world

NINE = datetime(2026, 3, 1, 9, 0)
MICROSECOND = timedelta(microseconds=1)


def at(minutes: int) -> datetime:
    return NINE + timedelta(minutes=minutes)


def allow(
    grant_id: str,
    holder: str,
    action: str = "svc:*",
    resource: str = "doc/*",
    *,
    start: datetime = NINE,
    end: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    principal_type, principal_id = holder.split(":")
    return {
        "grant_id": grant_id,
        "principal_type": principal_type,
        "principal_id": principal_id,
        "effect": "allow",
        "action": action,
        "resource": resource,
        "valid_from": start,
        "valid_to": end,
        **extra,
    }


def deny(grant_id: str, holder: str, *args: Any, **extra: Any) -> dict[str, Any]:
    return allow(grant_id, holder, *args, **extra) | {"effect": "deny"}


def member(
    membership_id: str,
    child: str,
    parent: str,
    start: datetime = NINE,
    end: datetime | None = None,
) -> dict[str, Any]:
    member_type, member_id = child.split(":")
    parent_type, parent_id = parent.split(":")
    return {
        "membership_id": membership_id,
        "member_type": member_type,
        "member_id": member_id,
        "parent_type": parent_type,
        "parent_id": parent_id,
        "valid_from": start,
        "valid_to": end,
    }


def lifecycle(
    event_id: str, who: str, event_type: str, ts: datetime, seq: int | None = None
) -> dict[str, Any]:
    principal_type, principal_id = who.split(":")
    return {
        "event_id": event_id,
        "ts": ts,
        "principal_type": principal_type,
        "principal_id": principal_id,
        "event_type": event_type,
        "seq": seq,
    }


def call(call_id: str, ts: datetime, **extra: Any) -> dict[str, Any]:
    record = {
        "call_id": call_id,
        "ts": ts,
        "tool": "read_doc",
        "subject": "alice",
        "actor": "helper",
        "arguments": {"id": "a"},
    }
    return record | extra


CATALOG = [
    {
        "tool": "read_doc",
        "action": "svc:Read",
        "resource_template": "doc/{id}",
        "risk_tier": "read",
        "resource_server": "docs",
    },
    {
        "tool": "write_doc",
        "action": "svc:Write",
        "resource_template": "doc/{id}",
        "risk_tier": "write",
    },
    {
        "tool": "purge_docs",
        "action": "svc:Delete",
        "resource_template": "doc/{kind}/{id}",
        "risk_tier": "delete",
        "resource_server": "docs",
    },
]
COVERAGE = [{"coverage_id": "cov1", "valid_from": at(-600), "valid_to": None}]
AGENT_ALLOW = allow("agent-all", "agent:helper", "*", "*", start=at(-600))
ALICE_ALLOW = allow("alice-all", "user:alice", "*", "*", start=at(-600))


def world(**kinds: Any) -> World:
    kinds.setdefault("catalog", CATALOG)
    kinds.setdefault("coverage", COVERAGE)
    return World.of(**kinds)


@dataclass(frozen=True)
class Case:
    world: World
    expected: dict[str, dict[str, str | None]]
    windows: list[dict[str, Any]] = field(default_factory=list)
    case_sensitive: tuple[str, ...] = ()
    # Why the engine is expected to fail this case, when it departs from the rule book.
    engine_gap: str | None = None


CASES: dict[str, Case] = {
    "deny beats wildcard allow": Case(
        world(
            grants=[
                allow("g1", "user:alice", "svc:*", "doc/*"),
                deny("g2", "user:alice", "svc:Read", "doc/a"),
                AGENT_ALLOW,
            ],
            calls=[
                call("c1", at(5), outcome="allowed"),
                call("c2", at(5), arguments={"id": "b"}),
            ],
        ),
        {
            "c1": {
                "verdict": "user_over_scope",
                "reason": "explicit_deny",
                "user_result": "not_held",
                "agent_result": "held",
                "certainty": "exact",
                "severity": "medium",
                "flags": "enforcement_gap",
            },
            "c2": {"verdict": "within_scope", "reason": "permission_held"},
        },
    ),
    "nested group removed mid-session": Case(
        world(
            grants=[allow("g1", "group:staff"), AGENT_ALLOW],
            memberships=[
                member("m1", "user:alice", "group:eng"),
                member("m2", "group:eng", "group:staff", end=at(30)),
            ],
            calls=[
                call("c1", at(10), session_started_at=at(0)),
                call("c2", at(45), session_started_at=at(0)),
                call("c3", at(50), session_started_at=at(0), arguments={"id": "b"}),
            ],
        ),
        {
            "c1": {"verdict": "within_scope", "certainty": "exact"},
            "c2": {
                "verdict": "stale_authority",
                "reason": "no_matching_grant",
                "user_result": "stale",
                "user_reason": "no_matching_grant",
            },
            "c3": {"verdict": "stale_authority"},
        },
        windows=[
            {
                "subject": "alice",
                "actor": "helper",
                "revoked_at": at(30),
                "revocation_source": "m2",
                "revocation_kind": "membership",
                "first_call_id": "c2",
                "last_call_id": "c3",
                "calls": 2,
                "resources": "doc/a,doc/b",
                "duration_seconds": 1200.0,
            }
        ],
    ),
    "call one microsecond around a revocation": Case(
        world(
            grants=[allow("g1", "user:alice", end=at(30)), AGENT_ALLOW],
            calls=[
                call("before", at(30) - MICROSECOND),
                call("at", at(30)),
                call("after", at(30) + MICROSECOND),
            ],
        ),
        {
            "before": {"verdict": "within_scope", "certainty": "exact"},
            "at": {
                "verdict": "user_over_scope",
                "reason": "no_matching_grant",
                "certainty": "bracketed",
            },
            "after": {"verdict": "user_over_scope", "certainty": "exact"},
        },
    ),
    "grant start through a membership is bracketed": Case(
        world(
            grants=[allow("g1", "group:eng", start=at(-60)), AGENT_ALLOW],
            memberships=[member("m1", "user:alice", "group:eng", start=at(20))],
            calls=[call("c1", at(20)), call("c2", at(-30))],
        ),
        {
            "c1": {"verdict": "within_scope", "certainty": "bracketed"},
            "c2": {"verdict": "user_over_scope", "certainty": "exact"},
        },
    ),
    "membership cycle": Case(
        world(
            grants=[allow("g1", "group:g2"), AGENT_ALLOW],
            memberships=[
                member("m1", "user:alice", "group:g1"),
                member("m2", "group:g1", "group:g2"),
                member("m3", "group:g2", "group:g1"),
            ],
            calls=[call("c1", at(10))],
        ),
        {"c1": {"verdict": "within_scope"}},
    ),
    "re-hired user with a new id": Case(
        world(
            grants=[
                allow("g1", "user:alice"),
                allow("g2", "user:alice2", start=at(20)),
                AGENT_ALLOW,
            ],
            events=[lifecycle("e1", "user:alice", "deactivated", at(10))],
            calls=[
                call("old", at(30)),
                call("new", at(30), subject="alice2"),
            ],
        ),
        {
            "old": {"verdict": "user_over_scope", "reason": "principal_inactive"},
            "new": {"verdict": "within_scope", "certainty": "exact"},
        },
    ),
    "token issued before offboarding": Case(
        world(
            grants=[ALICE_ALLOW, AGENT_ALLOW],
            events=[lifecycle("e1", "user:alice", "deactivated", at(10))],
            calls=[
                call("c1", at(20), token_id="tk1", token_issued_at=at(0)),
                call("c2", at(40), token_id="tk1", token_issued_at=at(0)),
                call("c3", at(10), token_issued_at=at(10)),
            ],
        ),
        {
            "c1": {
                "verdict": "stale_authority",
                "reason": "principal_inactive",
                "user_result": "stale",
                "certainty": "exact",
                "severity": "medium",
            },
            "c2": {"verdict": "stale_authority"},
            "c3": {"verdict": "user_over_scope", "certainty": "bracketed"},
        },
        windows=[
            {
                "subject": "alice",
                "actor": "helper",
                "revoked_at": at(10),
                "revocation_source": "e1",
                "revocation_kind": "event",
                "first_call_id": "c1",
                "last_call_id": "c2",
                "calls": 2,
                "resources": "doc/a",
                "duration_seconds": 1800.0,
            }
        ],
    ),
    "uncovered delegation start is unknown": Case(
        world(
            grants=[allow("g1", "user:alice", end=at(10)), AGENT_ALLOW],
            coverage=[{"coverage_id": "cov1", "valid_from": at(5)}],
            calls=[call("c1", at(20), token_issued_at=at(0))],
        ),
        {"c1": {"verdict": "user_over_scope", "user_result": "not_held"}},
    ),
    "no subject": Case(
        world(
            grants=[AGENT_ALLOW],
            calls=[
                call("held", at(5), subject=None),
                call("unheld", at(5), subject=None, actor="stranger"),
            ],
        ),
        {
            "held": {
                "verdict": "indeterminate",
                "reason": "no_subject",
                "user_result": "undecided",
                "user_reason": "no_subject",
                "agent_result": "held",
                "certainty": "indeterminate",
                "severity": "low",
            },
            "unheld": {
                "verdict": "agent_over_scope",
                "reason": "no_matching_grant",
                "user_result": "undecided",
                "agent_result": "not_held",
            },
        },
    ),
    "tool missing from the catalog": Case(
        world(
            grants=[ALICE_ALLOW, AGENT_ALLOW],
            calls=[
                call("ghost", at(5), tool="ghost"),
                call(
                    "own",
                    at(5),
                    tool="ghost",
                    actor="stranger",
                    action="svc:Read",
                    resource="doc/a",
                    outcome="allowed",
                ),
            ],
        ),
        {
            "ghost": {
                "verdict": "indeterminate",
                "reason": "unmapped_tool",
                "user_result": "undecided",
                "user_reason": "unmapped_tool",
                "agent_result": "undecided",
                "agent_reason": "unmapped_tool",
                "certainty": "indeterminate",
                "severity": "low",
            },
            "own": {
                "verdict": "agent_over_scope",
                "severity": "high",
                "flags": "enforcement_gap",
            },
        },
    ),
    "missing template argument": Case(
        world(
            grants=[ALICE_ALLOW, AGENT_ALLOW],
            calls=[
                call("c1", at(5), tool="purge_docs", arguments={"id": 7}),
                call("c2", at(5), tool="purge_docs", arguments={"id": 7, "kind": "x"}),
            ],
        ),
        {
            "c1": {
                "verdict": "indeterminate",
                "reason": "missing_argument",
                "agent_reason": "missing_argument",
            },
            "c2": {"verdict": "within_scope", "resource": "doc/x/7"},
        },
    ),
    "uncovered call": Case(
        world(
            grants=[allow("g1", "user:alice", start=at(0)), AGENT_ALLOW],
            coverage=[],
            calls=[
                call("early", at(-600) - MICROSECOND),
                call("first", at(-600)),
            ],
        ),
        {
            "early": {
                "verdict": "indeterminate",
                "reason": "no_entitlement_coverage",
                "user_reason": "no_entitlement_coverage",
            },
            "first": {"verdict": "user_over_scope", "certainty": "bracketed"},
        },
    ),
    "explicit coverage ends": Case(
        world(
            grants=[ALICE_ALLOW, AGENT_ALLOW],
            coverage=[{"coverage_id": "cov1", "valid_from": at(0), "valid_to": at(60)}],
            calls=[call("inside", at(59)), call("outside", at(60))],
        ),
        {
            "inside": {"verdict": "within_scope"},
            "outside": {
                "verdict": "indeterminate",
                "reason": "no_entitlement_coverage",
            },
        },
    ),
    "conditional grants": Case(
        world(
            grants=[
                allow("g1", "user:alice", resource="doc/a", condition="mfa"),
                allow("g2", "user:alice", resource="doc/b"),
                deny("g3", "user:alice", "svc:*", "doc/b", condition="ip"),
                deny("g4", "user:alice", "svc:*", "doc/c", condition="ip"),
                AGENT_ALLOW,
            ],
            calls=[
                call("only-conditional-allow", at(5)),
                call("conditional-deny", at(5), arguments={"id": "b"}),
                call("deny-without-allow", at(5), arguments={"id": "c"}),
            ],
        ),
        {
            "only-conditional-allow": {
                "verdict": "indeterminate",
                "reason": "unevaluated_condition",
                "user_result": "undecided",
                "certainty": "indeterminate",
            },
            "conditional-deny": {
                "verdict": "indeterminate",
                "reason": "unevaluated_condition",
            },
            "deny-without-allow": {
                "verdict": "user_over_scope",
                "reason": "no_matching_grant",
            },
        },
    ),
    "every flag": Case(
        world(
            grants=[ALICE_ALLOW, AGENT_ALLOW],
            calls=[
                call("no-actor", at(5), actor=None),
                call("self", at(5), actor="alice"),
                call("expired", at(5), token_expires_at=at(5)),
                call("not-expired", at(5), token_expires_at=at(6)),
                call("mismatch", at(5), audience="mail"),
                call("match", at(5), audience="docs"),
                call("forward-1", at(5), token_id="tk9"),
                call("forward-2", at(6), token_id="tk9", resource_server="mail"),
                call(
                    "gap",
                    at(5),
                    actor="stranger",
                    outcome="allowed",
                    token_expires_at=at(1),
                ),
            ],
        ),
        {
            "no-actor": {
                "verdict": "within_scope",
                "agent_result": "run_as_user",
                "flags": "run_as_user",
                "severity": "info",
            },
            "self": {"agent_result": "run_as_user", "flags": "run_as_user"},
            "expired": {"flags": "token_expired", "severity": "low"},
            "not-expired": {"flags": "", "severity": "info"},
            "mismatch": {"flags": "audience_mismatch", "severity": "low"},
            "match": {"flags": ""},
            "forward-1": {"flags": "token_forwarded", "severity": "low"},
            "forward-2": {"flags": "token_forwarded"},
            "gap": {
                "verdict": "agent_over_scope",
                "flags": "token_expired,enforcement_gap",
                "severity": "medium",
            },
        },
    ),
    "denied outcome lowers severity": Case(
        world(
            grants=[AGENT_ALLOW],
            calls=[
                call("read", at(5), outcome="denied"),
                call("write", at(5), tool="write_doc", outcome="denied"),
                call(
                    "delete",
                    at(5),
                    tool="purge_docs",
                    arguments={"kind": "k", "id": "1"},
                    outcome="denied",
                ),
                call("delete-error", at(5), tool="purge_docs", resource="doc/x"),
            ],
        ),
        {
            "read": {"verdict": "user_over_scope", "severity": "low", "flags": ""},
            "write": {"severity": "medium"},
            "delete": {"severity": "high"},
            "delete-error": {"severity": "critical"},
        },
    ),
    "same-instant lifecycle without seq": Case(
        world(
            grants=[ALICE_ALLOW, AGENT_ALLOW],
            events=[
                lifecycle("e1", "user:alice", "reactivated", at(10)),
                lifecycle("e2", "user:alice", "deactivated", at(10)),
            ],
            calls=[call("at", at(10)), call("before", at(10) - MICROSECOND)],
        ),
        {
            "at": {
                "verdict": "user_over_scope",
                "reason": "principal_inactive",
                "certainty": "bracketed",
            },
            "before": {"verdict": "within_scope", "certainty": "exact"},
        },
    ),
    "same-instant lifecycle with seq": Case(
        world(
            grants=[ALICE_ALLOW, AGENT_ALLOW],
            events=[
                lifecycle("e1", "user:alice", "deactivated", at(10), seq=1),
                lifecycle("e2", "user:alice", "reactivated", at(10), seq=2),
                lifecycle("e3", "agent:helper", "reactivated", at(20), seq=1),
                lifecycle("e4", "agent:helper", "suspended", at(20), seq=2),
            ],
            calls=[call("user", at(10)), call("agent", at(20))],
        ),
        {
            "user": {"verdict": "within_scope", "certainty": "exact"},
            "agent": {
                "verdict": "agent_over_scope",
                "reason": "principal_inactive",
                "certainty": "bracketed",
            },
        },
    ),
    "reactivation after deactivation": Case(
        world(
            grants=[ALICE_ALLOW, AGENT_ALLOW],
            events=[
                lifecycle("e1", "user:alice", "deactivated", at(10)),
                lifecycle("e2", "user:alice", "reactivated", at(20)),
            ],
            calls=[call("back", at(20)), call("away", at(15))],
        ),
        {
            "back": {"verdict": "within_scope", "certainty": "bracketed"},
            "away": {"verdict": "user_over_scope", "certainty": "exact"},
        },
    ),
    "case-sensitive action namespace": Case(
        world(
            grants=[allow("g1", "user:alice", "svc:read"), AGENT_ALLOW],
            calls=[call("c1", at(5))],
        ),
        {"c1": {"verdict": "user_over_scope", "reason": "no_matching_grant"}},
        case_sensitive=("svc",),
    ),
    "actions compare case-insensitively": Case(
        world(
            grants=[allow("g1", "user:alice", "SVC:READ", "doc/?"), AGENT_ALLOW],
            calls=[call("c1", at(5)), call("c2", at(5), arguments={"id": "A"})],
        ),
        {"c1": {"verdict": "within_scope"}, "c2": {"verdict": "within_scope"}},
    ),
    "null argument counts as missing": Case(
        world(
            grants=[ALICE_ALLOW, AGENT_ALLOW],
            calls=[
                call("null", at(5), arguments={"id": None}),
                call("true", at(5), arguments={"id": True}),
            ],
        ),
        {
            "null": {"verdict": "indeterminate", "reason": "missing_argument"},
            "true": {"verdict": "within_scope", "resource": "doc/true"},
        },
    ),
    "conditional allow ending does not revoke": Case(
        world(
            grants=[
                allow("A", "user:alice", start=at(0), end=at(20)),
                allow("B", "user:alice", start=at(0), end=at(30), condition="mfa"),
                AGENT_ALLOW,
            ],
            calls=[call("c1", at(40), token_issued_at=at(5))],
        ),
        {"c1": {"verdict": "stale_authority", "reason": "no_matching_grant"}},
        windows=[
            {
                "revoked_at": at(20),
                "revocation_source": "A",
                "revocation_kind": "grant",
                "duration_seconds": 1200.0,
            }
        ],
    ),
    "resources compare case-sensitively": Case(
        world(
            grants=[allow("g1", "user:alice", "svc:Read", "doc/a"), AGENT_ALLOW],
            calls=[call("c1", at(5), arguments={"id": "A"})],
        ),
        {"c1": {"verdict": "user_over_scope"}},
    ),
}


def _evaluate(evaluator: str, case: Case) -> Evaluation:
    if evaluator == "engine":
        missing = engine_missing()
        if missing is not None:
            pytest.skip(missing)
        return engine_evaluation(
            case.world, case_sensitive_action_namespaces=case.case_sensitive
        )
    return evaluate_world(
        case.world, case_sensitive_action_namespaces=case.case_sensitive
    )


@pytest.mark.parametrize("evaluator", ["reference", "engine"])
@pytest.mark.parametrize("name", list(CASES))
def test_case_findings(evaluator: str, name: str) -> None:
    case = CASES[name]
    rows = _evaluate(evaluator, case).by_call()

    for call_id, expected in case.expected.items():
        found = asdict(rows[call_id])
        actual = {column: found[column] for column in expected}
        assert actual == expected, call_id


@pytest.mark.parametrize("evaluator", ["reference", "engine"])
@pytest.mark.parametrize("name", list(CASES))
def test_case_windows(
    evaluator: str, name: str, request: pytest.FixtureRequest
) -> None:
    case = CASES[name]
    if evaluator == "engine" and case.engine_gap is not None:
        request.applymarker(pytest.mark.xfail(reason=case.engine_gap, strict=True))
    windows = _evaluate(evaluator, case).windows

    actual = [
        {column: asdict(window)[column] for column in expected}
        for window, expected in zip(windows, case.windows, strict=False)
    ]
    assert len(windows) == len(case.windows)
    assert actual == case.windows
