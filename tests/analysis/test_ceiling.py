from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb
import pytest

from auditkit.analysis.ceiling import ceiling_breaches
from auditkit.models import InputKind
from tests.analysis.conftest import CATALOG, call, grant
from tests.analysis.worlds import at, build_world

if TYPE_CHECKING:
    from collections.abc import Iterator

    from auditkit.analysis.drift import DriftReport


@pytest.fixture
def deleting_agent_world() -> Iterator[duckdb.DuckDBPyConnection]:
    """An agent that may read and delete tickets, for a reader and a full user.

    ``u1`` may only read; its delete call is denied downstream. ``u2`` may do both.
    """
    con = duckdb.connect()
    build_world(
        con,
        {
            InputKind.CATALOG: CATALOG,
            InputKind.GRANTS: [
                grant("g-read", "agent:bot", "crm:ReadTicket", "ticket/*"),
                grant(
                    "g-delete",
                    "agent:bot",
                    "crm:DeleteTicket",
                    "ticket/*",
                    changed_by="erin",
                ),
                grant("g-u1", "user:u1", "crm:ReadTicket", "ticket/*"),
                grant("g-u2", "user:u2", "crm:*Ticket", "ticket/*"),
            ],
            InputKind.CALLS: [
                call("c1", "2026-03-02 10:00", "read_ticket", "u1", 7),
                call(
                    "c2", "2026-03-02 10:05", "delete_ticket", "u1", 7, outcome="denied"
                ),
                call("c3", "2026-03-02 11:00", "delete_ticket", "u2", 8),
            ],
        },
    )
    yield con
    con.close()


def breaches_of(con: duckdb.DuckDBPyConnection) -> Any:
    return ceiling_breaches(
        con, None, start=at("2026-03-02 00:00"), end=at("2026-03-03 00:00")
    )


def test_breach_names_excess_permission(
    deleting_agent_world: duckdb.DuckDBPyConnection,
) -> None:
    breaches = breaches_of(deleting_agent_world)
    template = breaches[breaches["resource"] == "ticket/*"].iloc[0]

    assert set(breaches["user"]) == {"u1"}
    assert set(breaches["action"]) == {"crm:DeleteTicket"}
    assert set(breaches["resource"]) == {"ticket/*", "ticket/7", "ticket/8"}
    assert template["agent_grants"] == "g-delete"
    assert template["authors"] == "erin"


def test_breach_lists_calls(deleting_agent_world: duckdb.DuckDBPyConnection) -> None:
    breaches = breaches_of(deleting_agent_world).set_index("resource")

    assert breaches.loc["ticket/7", "call_ids"] == "c1,c2"
    assert breaches.loc["ticket/7", "excess_call_ids"] == "c2"
    assert not bool(breaches.loc["ticket/7", "excess_allowed"])
    assert breaches.loc["ticket/8", "excess_calls"] == 0


def test_no_breach_when_user_covers_agent(
    deleting_agent_world: duckdb.DuckDBPyConnection,
) -> None:
    breaches = breaches_of(deleting_agent_world)

    assert "u2" not in set(breaches["user"])


def test_demo_ceiling_breach(
    demo_drift: DriftReport, demo_truth: dict[str, Any]
) -> None:
    # The drift report spans the ground truth's period, which is the breach's period.
    planted = demo_truth["ceiling_breach"]
    breaches = demo_drift.breaches
    assert planted["from"] == demo_truth["period"]["start"]
    assert planted["to"] == demo_truth["period"]["end"]
    mine = breaches[
        (breaches["agent"] == planted["agent"]) & (breaches["user"] == planted["user"])
    ]

    for permission in planted["permissions"]:
        match = mine[
            (mine["action"] == permission["action"])
            & (mine["resource"] == permission["resource"])
        ]
        assert len(match) == 1, permission
        assert permission["grant_id"] in match.iloc[0]["agent_grants"].split(",")
