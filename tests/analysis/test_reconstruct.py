from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb
import pytest
from typer.testing import CliRunner

import auditkit
from auditkit.analysis.reconstruct import (
    ReconstructionScope,
    blast_radius,
    reconstruct,
)
from auditkit.cli.main import app
from auditkit.errors import InputError
from auditkit.models import InputKind
from auditkit.models.timestamps import parse_instant
from tests.analysis.conftest import CATALOG, grant
from tests.analysis.worlds import Record, at, build_world

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import pandas as pd

    from auditkit.api import AuditWorkspace


def dana_call(call_id: str, ts: str, tool: str, token: str, issued: str) -> Record:
    return {
        "call_id": call_id,
        "ts": at(ts),
        "tool": tool,
        "subject": "dana",
        "actor": "bot",
        "arguments": {"id": 7},
        "token_id": token,
        "token_issued_at": at(issued),
        "token_expires_at": at("2026-03-05 20:00"),
        "session_id": f"s-{token}",
        "outcome": "allowed",
    }


OFFBOARDING_RECORDS: dict[InputKind, list[Record]] = {
    InputKind.CATALOG: CATALOG,
    InputKind.GRANTS: [
        grant("g-bot", "agent:bot", "crm:*", "ticket/*", changed_by="ops"),
        grant("g-staff", "group:staff", "crm:ReadTicket", "ticket/*", changed_by="hr"),
    ],
    InputKind.MEMBERSHIPS: [
        {
            "membership_id": "m-dana",
            "member_type": "user",
            "member_id": "dana",
            "parent_type": "group",
            "parent_id": "staff",
            "valid_from": at("2026-03-01 00:00"),
            "valid_to": at("2026-03-05 09:00"),
            "changed_by": "hr",
        }
    ],
    InputKind.EVENTS: [
        {
            "event_id": "ev-off",
            "ts": at("2026-03-05 09:00"),
            "principal_type": "user",
            "principal_id": "dana",
            "event_type": "deactivated",
            "changed_by": "hr",
        }
    ],
    InputKind.CALLS: [
        dana_call("c1", "2026-03-05 08:00", "read_ticket", "tok-1", "2026-03-05 07:00"),
        dana_call("c2", "2026-03-05 10:00", "read_ticket", "tok-2", "2026-03-05 08:30"),
        dana_call(
            "c3", "2026-03-05 11:00", "delete_ticket", "tok-2", "2026-03-05 08:30"
        ),
    ],
}


@pytest.fixture
def offboarded_user_world() -> Iterator[duckdb.DuckDBPyConnection]:
    """Dana leaves at 09:00; a token issued at 08:30 keeps her agent working."""
    con = duckdb.connect()
    build_world(con, OFFBOARDING_RECORDS)
    yield con
    con.close()


def positions(timeline: pd.DataFrame) -> dict[tuple[str, str], int]:
    return {
        (kind, item): index
        for index, (kind, item) in enumerate(
            zip(timeline["kind"], timeline["item_id"], strict=True)
        )
    }


def test_offboarding_timeline_order(
    offboarded_user_world: duckdb.DuckDBPyConnection,
) -> None:
    timeline = reconstruct(offboarded_user_world, ReconstructionScope(user="dana"))
    order = positions(timeline)

    assert order[("token_issued", "tok-2")] < order[("event", "ev-off")]
    assert order[("event", "ev-off")] < order[("call", "c2")]
    assert order[("call", "c2")] < order[("call", "c3")]
    assert list(timeline["ts"]) == sorted(timeline["ts"])


def test_offboarding_timeline_details(
    offboarded_user_world: duckdb.DuckDBPyConnection,
) -> None:
    timeline = reconstruct(offboarded_user_world, ReconstructionScope(user="dana"))
    rows = timeline.set_index(["kind", "item_id"])

    assert rows.loc[("event", "ev-off"), "author"] == "hr"
    assert rows.loc[("membership_end", "m-dana"), "author"] == "hr"
    assert rows.loc[("grant_start", "g-staff"), "detail"] == (
        "group:staff allow crm:ReadTicket ticket/*"
    )
    assert rows.loc[("call", "c2"), "verdict"] == "stale_authority"
    assert rows.loc[("call", "c3"), "verdict"] == "user_over_scope"


def test_window_keeps_earlier_token_issue(
    offboarded_user_world: duckdb.DuckDBPyConnection,
) -> None:
    scope = ReconstructionScope(
        user="dana", start=at("2026-03-05 09:30"), end=at("2026-03-05 12:00")
    )
    timeline = reconstruct(offboarded_user_world, scope)

    assert list(timeline["item_id"]) == ["tok-2", "c2", "c3"]


def test_session_timeline(offboarded_user_world: duckdb.DuckDBPyConnection) -> None:
    timeline = reconstruct(
        offboarded_user_world, ReconstructionScope(session="s-tok-1")
    )
    calls = timeline[timeline["kind"] == "call"]

    assert list(calls["item_id"]) == ["c1"]
    assert "ev-off" in set(timeline["item_id"])


def test_empty_scope_is_rejected(
    offboarded_user_world: duckdb.DuckDBPyConnection,
) -> None:
    with pytest.raises(InputError, match="needs a user, an agent, a session"):
        reconstruct(offboarded_user_world, ReconstructionScope())


def test_blast_radius_before_offboarding(
    offboarded_user_world: duckdb.DuckDBPyConnection,
) -> None:
    radius = blast_radius(
        offboarded_user_world, at("2026-03-05 08:00"), agent="bot", user="dana"
    )
    could = radius[radius["could_do"]]
    rows = radius.set_index(["action", "resource"])

    assert set(could["action"]) == {"crm:ReadTicket"}
    assert bool(rows.loc[("crm:DeleteTicket", "ticket/*"), "agent_holds"])
    assert not bool(rows.loc[("crm:DeleteTicket", "ticket/*"), "user_holds"])
    assert rows.loc[("crm:ReadTicket", "ticket/7"), "call_ids"] == "c1,c2"


def test_blast_radius_after_offboarding(
    offboarded_user_world: duckdb.DuckDBPyConnection,
) -> None:
    radius = blast_radius(
        offboarded_user_world, at("2026-03-05 10:00"), agent="bot", user="dana"
    )

    assert not radius["could_do"].any()


def test_demo_offboardings(
    demo_workspace: AuditWorkspace, demo_truth: dict[str, Any]
) -> None:
    for planted in demo_truth["offboardings"]:
        scope = ReconstructionScope(user=planted["user"])
        timeline = reconstruct(demo_workspace.connection, scope)
        order = positions(timeline)
        deactivation = order[("event", planted["event_id"])]
        issue = order[("token_issued", planted["token_id"])]

        assert timeline.iloc[deactivation]["ts"] == parse_instant(
            planted["deactivated_at"]
        )
        assert issue < deactivation, planted["user"]
        for call_id in planted["call_ids"]:
            assert order[("call", call_id)] > deactivation, call_id


@pytest.fixture
def offboarded_workspace(tmp_path: Path) -> Path:
    """The offboarding world in a workspace file."""
    path = tmp_path / "w.duckdb"
    with auditkit.open(path) as workspace:
        build_world(workspace.connection, OFFBOARDING_RECORDS)
    return path


def run_cli(*args: str) -> Any:
    runner = CliRunner()
    return runner.invoke(app, list(args), env={"COLUMNS": "250"})


def test_reconstruct_command(offboarded_workspace: Path) -> None:
    result = run_cli(
        "reconstruct", "--user", "dana", "--workspace", str(offboarded_workspace)
    )

    assert result.exit_code == 0, result.output
    for item in ("ev-off", "tok-2", "c2", "c3", "stale_authority"):
        assert item in result.output, item


def test_reconstruct_command_blast_radius(offboarded_workspace: Path) -> None:
    result = run_cli(
        "reconstruct",
        "--user",
        "dana",
        "--agent",
        "bot",
        "--at",
        "2026-03-05T08:00:00Z",
        "--workspace",
        str(offboarded_workspace),
    )

    assert result.exit_code == 0, result.output
    assert "blast radius" in result.output
    assert "crm:DeleteTicket" in result.output


def test_reconstruct_command_at_needs_agent(offboarded_workspace: Path) -> None:
    result = run_cli(
        "reconstruct",
        "--user",
        "dana",
        "--at",
        "2026-03-05T08:00:00Z",
        "--workspace",
        str(offboarded_workspace),
    )

    assert result.exit_code == 1
    assert "add --agent" in result.output


def test_drift_command(offboarded_workspace: Path) -> None:
    result = run_cli(
        "drift", "--period", "day", "--workspace", str(offboarded_workspace)
    )

    assert result.exit_code == 0, result.output
    assert "bot" in result.output
    assert "ceiling_breach" in result.output


def test_cli_strips_terminal_controls(tmp_path: Path) -> None:
    records = dict(OFFBOARDING_RECORDS)
    hostile = dana_call(
        "c-evil", "2026-03-05 12:00", "read_ticket", "tok-3", "2026-03-05 11:30"
    )
    hostile["tool"] = "read_ticket\x1b]0;owned\x07"
    records[InputKind.CALLS] = [*OFFBOARDING_RECORDS[InputKind.CALLS], hostile]
    path = tmp_path / "w.duckdb"
    with auditkit.open(path) as workspace:
        build_world(workspace.connection, records)

    result = run_cli("reconstruct", "--agent", "bot", "--workspace", str(path))

    assert result.exit_code == 0, result.output
    assert "c-evil" in result.output
    assert "\x1b" not in result.output
    assert "owned" not in result.output
