"""Worlds shared by the drift, ceiling and reconstruction tests."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import duckdb
import pytest

from auditkit.analysis.drift import DriftReport, analyze_drift
from auditkit.models import InputKind
from auditkit.models.timestamps import parse_instant
from tests.analysis.worlds import at, build_world

if TYPE_CHECKING:
    from collections.abc import Iterator

    from auditkit.api import AuditWorkspace
    from tests.conftest import DemoWorld

CATALOG = [
    {
        "tool": "read_ticket",
        "action": "crm:ReadTicket",
        "resource_template": "ticket/{id}",
        "risk_tier": "read",
    },
    {
        "tool": "delete_ticket",
        "action": "crm:DeleteTicket",
        "resource_template": "ticket/{id}",
        "risk_tier": "delete",
    },
    {
        "tool": "export_report",
        "action": "crm:Export",
        "resource_template": "report/all",
        "risk_tier": "export",
    },
]


def grant(
    grant_id: str, holder: str, action: str, resource: str, **extra: Any
) -> dict[str, Any]:
    """Return an allow grant from 2026-03-01 to ``holder`` written as ``type:id``."""
    principal_type, principal_id = holder.split(":")
    return {
        "grant_id": grant_id,
        "principal_type": principal_type,
        "principal_id": principal_id,
        "effect": "allow",
        "action": action,
        "resource": resource,
        "valid_from": at("2026-03-01 00:00"),
        **extra,
    }


def call(
    call_id: str, ts: str, tool: str, user: str, ticket: int, **extra: Any
) -> dict[str, Any]:
    """Return an allowed call by the agent ``bot`` for ``user``."""
    return {
        "call_id": call_id,
        "ts": at(ts),
        "tool": tool,
        "subject": user,
        "actor": "bot",
        "arguments": {"id": ticket},
        "outcome": "allowed",
        **extra,
    }


@pytest.fixture
def wildcard_agent_world() -> Iterator[duckdb.DuckDBPyConnection]:
    """An agent with a wildcard ticket grant and a role export grant it never uses.

    The user ``u1`` may only read tickets. Calls on 2026-03-02 read tickets 7 and 8;
    on 2026-03-03 one call reads ticket 9.
    """
    con = duckdb.connect()
    build_world(
        con,
        {
            InputKind.CATALOG: CATALOG,
            InputKind.GRANTS: [
                grant("g-wide", "agent:bot", "crm:*", "ticket/*", changed_by="alice"),
                grant(
                    "g-export",
                    "role:exporters",
                    "crm:Export",
                    "report/*",
                    changed_by="carol",
                ),
                grant("g-u1", "user:u1", "crm:ReadTicket", "ticket/*", changed_by="hr"),
            ],
            InputKind.MEMBERSHIPS: [
                {
                    "membership_id": "m-bot",
                    "member_type": "agent",
                    "member_id": "bot",
                    "parent_type": "role",
                    "parent_id": "exporters",
                    "valid_from": at("2026-03-01 00:00"),
                    "changed_by": "carol",
                }
            ],
            InputKind.CALLS: [
                call("c1", "2026-03-02 10:00", "read_ticket", "u1", 7),
                call("c2", "2026-03-02 11:00", "read_ticket", "u1", 8),
                call("c3", "2026-03-03 09:00", "read_ticket", "u1", 9),
            ],
        },
    )
    yield con
    con.close()


@pytest.fixture
def expanding_agent_world() -> Iterator[duckdb.DuckDBPyConnection]:
    """An agent granted report export at noon on 2026-03-02 by ``dave``.

    The user ``u1`` holds every crm permission throughout, so the pair's intersection
    widens only because the agent's scope grew.
    """
    con = duckdb.connect()
    build_world(
        con,
        {
            InputKind.CATALOG: CATALOG,
            InputKind.GRANTS: [
                grant("g-read", "agent:bot", "crm:ReadTicket", "ticket/*"),
                {
                    **grant("g-late", "agent:bot", "crm:Export", "report/*"),
                    "valid_from": at("2026-03-02 12:00"),
                    "changed_by": "dave",
                },
                grant("g-u1", "user:u1", "crm:*", "*"),
            ],
            InputKind.CALLS: [call("c1", "2026-03-02 10:00", "read_ticket", "u1", 7)],
        },
    )
    yield con
    con.close()


@pytest.fixture(scope="package")
def demo_workspace(
    demo_world: DemoWorld, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AuditWorkspace]:
    """A copy of the evaluated example organisation's workspace."""
    import auditkit

    path = demo_world.copy_workspace(tmp_path_factory.mktemp("drift") / "w.duckdb")
    with auditkit.open(path) as workspace:
        yield workspace


@pytest.fixture(scope="package")
def demo_truth(demo_world: DemoWorld) -> dict[str, Any]:
    """The planted drift facts of the example organisation."""
    text = demo_world.generated.ground_truth_drift.read_text(encoding="utf-8")
    return dict(json.loads(text))


@pytest.fixture(scope="package")
def demo_drift(
    demo_workspace: AuditWorkspace, demo_truth: dict[str, Any]
) -> DriftReport:
    """The drift of the example organisation over its whole ground-truth period."""
    start = parse_instant(demo_truth["period"]["start"])
    end = parse_instant(demo_truth["period"]["end"])
    return analyze_drift(demo_workspace.connection, None, start=start, end=end)
