"""An incremental evaluation gives the findings of a full one, and revisits few calls.

Worlds are loaded in two parts, the way a workspace grows. The first load brings the
calls before a cut and the first entitlements, and is evaluated. The second brings the
calls after the cut and one entitlement change, and is evaluated incrementally. The
result must equal a full evaluation of the final inputs row for row, every column
included.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from auditkit.evaluate import evaluate
from auditkit.evaluate import incremental as increments
from auditkit.models import INPUT_MODELS, InputKind
from auditkit.workspace.schema import LOCATION_COLUMNS, all_ddl, model_columns
from tests.reference.evaluator import World
from tests.reference.worlds import (
    INSTANTS,
    bracketed,
    events,
    memberships,
    policy_grant,
    worlds_and_grants,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from tests.reference.evaluator import Record

THOROUGH = os.environ.get("AUDITKIT_PROFILE") == "thorough"

incremental_settings = settings(
    max_examples=1000 if THOROUGH else 120,
    deadline=None,
    derandomize=not THOROUGH,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_TABLES: dict[InputKind, str] = {
    InputKind.CALLS: "calls",
    InputKind.GRANTS: "grants",
    InputKind.MEMBERSHIPS: "memberships",
    InputKind.EVENTS: "events",
    InputKind.CATALOG: "catalog",
    InputKind.COVERAGE: "coverage",
}


def insert(
    con: duckdb.DuckDBPyConnection,
    kind: InputKind,
    records: Iterable[Record],
    load_id: str,
) -> None:
    """Insert records as one load, lists and objects stored as JSON text.

    A record's source line is its ``line`` field if it has one, so that a call keeps
    its location whichever load brings it.
    """
    columns = [*model_columns(INPUT_MODELS[kind]), *LOCATION_COLUMNS]
    rows = []
    for position, record in enumerate(records, start=1):
        line = record.get("line", position)
        row = record | {"source_file": "world.jsonl", "source_line": line}
        row["load_id"] = load_id
        rows.append(
            [
                json.dumps(row.get(name))
                if isinstance(row.get(name), dict | list)
                else row.get(name)
                for name in columns
            ]
        )
    if not rows:
        return
    marks = ", ".join("?" for _ in columns)
    names = ", ".join(columns)
    con.executemany(
        f"INSERT INTO {kind.value} ({names}) VALUES ({marks})",  # noqa: S608 - names come from the models
        rows,
    )


def fresh(con: duckdb.DuckDBPyConnection) -> None:
    """Drop every table, so that one connection serves many drawn worlds."""
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE NOT temporary"
    ).fetchall()
    for (name,) in tables:
        con.execute(f'DROP TABLE "{name}"')
    for statement in all_ddl():
        con.execute(statement)


def load_all(con: duckdb.DuckDBPyConnection, world: World, load_id: str) -> None:
    for kind, name in _TABLES.items():
        insert(con, kind, getattr(world, name), load_id)


def table(con: duckdb.DuckDBPyConnection, name: str, order: str) -> pd.DataFrame:
    return con.execute(f"SELECT * FROM {name} ORDER BY {order}").df()  # noqa: S608 - fixed names


def assert_same_results(
    incremental: duckdb.DuckDBPyConnection, full: duckdb.DuckDBPyConnection
) -> None:
    pd.testing.assert_frame_equal(
        table(incremental, "findings", "call_id"), table(full, "findings", "call_id")
    )
    pd.testing.assert_frame_equal(
        table(incremental, "stale_windows", "window_id"),
        table(full, "stale_windows", "window_id"),
    )


@pytest.fixture(scope="module")
def connections() -> Iterator[tuple[duckdb.DuckDBPyConnection, ...]]:
    """Two in-memory DuckDBs: one grows and evaluates incrementally, one in full.

    Small worlds often change most of their calls. The share of revisited calls above
    which the engine switches to a full run is lifted, so the incremental path runs.
    """
    with (
        pytest.MonkeyPatch.context() as patch,
        duckdb.connect() as first,
        duckdb.connect() as second,
    ):
        patch.setattr(increments, "FULL_RUN_SHARE", 1.0)
        yield first, second


@st.composite
def changes(draw: st.DrawFn) -> tuple[World, dict[str, Any], datetime]:
    """Draw a world, the entitlement change of its second load and the cut instant.

    The change adds a grant, a membership or a lifecycle event, or removes a grant or
    a membership. Calls before the cut come in the first load, the others in the
    second. Half of the worlds get snapshot windows, permission boundaries and
    excluded patterns, as the reference's snapshot worlds do, and some lose their
    coverage spans, so that coverage derives from the earliest grant or membership.
    """
    effect = draw(st.sampled_from(["allow", "deny"]))
    world, extra = draw(worlds_and_grants(effect, conditional=None))
    if draw(st.booleans()):
        world = World.of(
            calls=world.calls,
            grants=[draw(policy_grant(draw(bracketed(g)))) for g in world.grants],
            memberships=[draw(bracketed(link)) for link in world.memberships],
            events=world.events,
            catalog=world.catalog,
            coverage=world.coverage,
        )
        extra = draw(policy_grant(draw(bracketed(extra))))
    if draw(st.sampled_from([False, False, True])):
        world = replace(world, coverage=())
    ids = {
        "user": sorted(
            {c["subject"] for c in world.calls if c.get("subject")} | {"u1"}
        ),
        "group": ["g1", "g2"],
        "agent": sorted({c["actor"] for c in world.calls if c.get("actor")} | {"a1"}),
        "role": ["r1"],
    }
    kind = draw(
        st.sampled_from(
            [
                "grant",
                "grant",
                "remove_grant",
                "membership",
                "remove_membership",
                "event",
            ]
        )
    )
    change: dict[str, Any]
    if kind == "grant":
        change = {"grants": [extra]}
    elif kind == "remove_grant" and world.grants:
        change = {"remove_grant": draw(st.sampled_from(world.grants))["grant_id"]}
    elif kind == "remove_membership" and world.memberships:
        removed = draw(st.sampled_from(world.memberships))
        change = {"remove_membership": removed["membership_id"]}
    elif kind == "event":
        change = {"events": [{"event_id": "e_new", **draw(events(ids))}]}
    else:
        link = draw(bracketed({"membership_id": "m_new", **draw(memberships(ids))}))
        change = {"memberships": [link]}
    cut = draw(st.sampled_from(INSTANTS)) + draw(
        st.sampled_from([timedelta(0), timedelta(microseconds=1)])
    )
    return world, change, cut


def _apply(con: duckdb.DuckDBPyConnection, change: dict[str, Any]) -> None:
    if "grants" in change:
        insert(con, InputKind.GRANTS, change["grants"], "change")
    if "memberships" in change:
        insert(con, InputKind.MEMBERSHIPS, change["memberships"], "change")
    if "events" in change:
        insert(con, InputKind.EVENTS, change["events"], "change")
    if "remove_grant" in change:
        con.execute("DELETE FROM grants WHERE grant_id = ?", [change["remove_grant"]])
    if "remove_membership" in change:
        con.execute(
            "DELETE FROM memberships WHERE membership_id = ?",
            [change["remove_membership"]],
        )


@incremental_settings
@given(case=changes())
def test_incremental_equals_full_on_random_worlds(
    connections: tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection],
    case: tuple[World, dict[str, Any], datetime],
) -> None:
    world, change, cut = case
    note(f"world = {world!r}")
    note(f"change = {change!r}, cut = {cut!r}")
    growing, full = connections
    numbered = [call | {"line": line} for line, call in enumerate(world.calls, 1)]
    before = [call for call in numbered if call["ts"] < cut]
    after = [call for call in numbered if call["ts"] >= cut]

    fresh(growing)
    load_all(growing, replace(world, calls=tuple(before)), "first")
    first = evaluate(growing, incremental=True)
    insert(growing, InputKind.CALLS, after, "second")
    _apply(growing, change)
    second = evaluate(growing, incremental=True)

    fresh(full)
    load_all(full, replace(world, calls=tuple(numbered)), "all")
    _apply(full, change)
    expected = evaluate(full)

    assert not first.incremental
    assert second.incremental
    assert second.calls == expected.calls
    assert second.verdicts == expected.verdicts
    assert second.stale_windows == expected.stale_windows
    assert_same_results(growing, full)


# --- which calls an increment revisits ----------------------------------------------

DAY = timedelta(days=1)
START = datetime(2026, 3, 1, 12, 0)
CATALOG = [
    {
        "tool": "read_doc",
        "action": "svc:Read",
        "resource_template": "doc/{id}",
        "risk_tier": "read",
        "resource_server": "docs",
    },
    {
        "tool": "send_mail",
        "action": "mail:Send",
        "resource_template": "mail/{to}",
        "risk_tier": "external",
        "resource_server": "mail",
    },
]
COVERAGE = [{"coverage_id": "cov", "valid_from": START - 2 * DAY, "valid_to": None}]
GRANTS = [
    {
        "grant_id": "ann-all",
        "principal_type": "user",
        "principal_id": "ann",
        "effect": "allow",
        "action": "*",
        "resource": "*",
        "valid_from": START - DAY,
    },
    {
        "grant_id": "bot-all",
        "principal_type": "agent",
        "principal_id": "bot",
        "effect": "allow",
        "action": "*",
        "resource": "*",
        "valid_from": START - DAY,
    },
]


def read(call_id: str, ts: datetime, **extra: Any) -> dict[str, Any]:
    record = {
        "call_id": call_id,
        "ts": ts,
        "tool": "read_doc",
        "subject": "ann",
        "actor": "bot",
        "arguments": {"id": call_id},
    }
    return record | extra


def month_of_calls() -> list[dict[str, Any]]:
    """One call a day for 29 days; day 28's call carries token t1."""
    calls = [read(f"d{day:02d}", START + day * DAY) for day in range(29)]
    calls[28] = read("d28", START + 28 * DAY, token_id="t1")
    return calls


def last_day_calls() -> list[dict[str, Any]]:
    """Two calls on day 29: one before the deny below starts, one with token t1."""
    return [
        read("d29-early", START + 29 * DAY - timedelta(hours=6), line=30),
        read(
            "d29-mail",
            START + 29 * DAY,
            tool="send_mail",
            arguments={"to": "x"},
            token_id="t1",
            line=31,
        ),
    ]


DENY_FROM = START + 29 * DAY - timedelta(hours=2)
DENY = {
    "grant_id": "ann-no-mail",
    "principal_type": "user",
    "principal_id": "ann",
    "effect": "deny",
    "action": "mail:*",
    "resource": "*",
    "valid_from": DENY_FROM,
}


@pytest.fixture
def month() -> Iterator[duckdb.DuckDBPyConnection]:
    """A workspace with 29 days of calls, evaluated once."""
    with duckdb.connect() as con:
        fresh(con)
        insert(con, InputKind.CATALOG, CATALOG, "catalog")
        insert(con, InputKind.COVERAGE, COVERAGE, "coverage")
        insert(con, InputKind.GRANTS, GRANTS, "grants")
        insert(con, InputKind.CALLS, month_of_calls(), "days-1-29")
        evaluate(con, incremental=True)
        yield con


def test_first_evaluation_is_full() -> None:
    with duckdb.connect() as con:
        fresh(con)
        insert(con, InputKind.CATALOG, CATALOG, "catalog")
        insert(con, InputKind.GRANTS, GRANTS, "grants")
        insert(con, InputKind.CALLS, month_of_calls(), "days-1-29")
        summary = evaluate(con, incremental=True)

    assert not summary.incremental
    assert summary.reason == "no earlier evaluation"
    assert summary.evaluated == 29


def test_unchanged_workspace_revisits_nothing(month: duckdb.DuckDBPyConnection) -> None:
    summary = evaluate(month, incremental=True)

    assert summary.incremental
    assert summary.evaluated == 0
    assert summary.changed_since is None
    assert summary.calls == 29


def test_new_day_revisits_new_calls_and_token_mates(
    month: duckdb.DuckDBPyConnection,
) -> None:
    insert(month, InputKind.CALLS, last_day_calls(), "day-30")
    summary = evaluate(month, incremental=True)

    # The two new calls, and d28, which shares token t1 with d29-mail.
    assert summary.incremental
    assert summary.evaluated == 3
    assert summary.changed_since is None
    assert summary.calls == 31
    flags = dict(month.execute("SELECT call_id, flags FROM findings").fetchall())
    assert flags["d28"] == "token_forwarded"
    assert flags["d29-mail"] == "token_forwarded"


def test_entitlement_change_revisits_calls_from_its_start(
    month: duckdb.DuckDBPyConnection,
) -> None:
    insert(month, InputKind.CALLS, last_day_calls(), "day-30")
    insert(month, InputKind.GRANTS, [DENY], "deny")
    summary = evaluate(month, incremental=True)

    # No earlier call lies at or after the deny's start, so the revisited calls are
    # the new ones and d28 again.
    assert summary.incremental
    assert summary.changed_since == DENY_FROM
    assert summary.evaluated == 3
    verdicts = dict(month.execute("SELECT call_id, verdict FROM findings").fetchall())
    assert verdicts["d29-mail"] == "user_over_scope"
    assert verdicts["d29-early"] == "within_scope"


def test_entitlement_change_in_the_past_revisits_later_calls(
    month: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(increments, "FULL_RUN_SHARE", 0.5)
    ended = GRANTS[0] | {"valid_to": START + 20 * DAY}
    month.execute("DELETE FROM grants WHERE grant_id = 'ann-all'")
    insert(month, InputKind.GRANTS, [ended], "grants-corrected")
    summary = evaluate(month, incremental=True)

    # The old and the new interval both start at START - DAY, so every call from
    # then on is revisited, which is all of them: a full run costs less.
    assert not summary.incremental
    assert summary.reason == "most calls need a new evaluation"
    assert summary.changed_since == START - DAY


def test_catalog_change_forces_full_run(month: duckdb.DuckDBPyConnection) -> None:
    month.execute("UPDATE catalog SET risk_tier = 'write' WHERE tool = 'read_doc'")
    summary = evaluate(month, incremental=True)

    assert not summary.incremental
    assert summary.reason == "the catalog changed"
    assert summary.evaluated == 29


def test_settings_change_forces_full_run(month: duckdb.DuckDBPyConnection) -> None:
    from auditkit.settings import Settings

    summary = evaluate(
        month,
        Settings(case_sensitive_action_namespaces=("svc",)),
        incremental=True,
    )

    assert not summary.incremental
    assert summary.reason == "the evaluation settings changed"


def test_incremental_findings_equal_full(month: duckdb.DuckDBPyConnection) -> None:
    insert(month, InputKind.CALLS, last_day_calls(), "day-30")
    insert(month, InputKind.GRANTS, [DENY], "deny")
    evaluate(month, incremental=True)
    with duckdb.connect() as full:
        fresh(full)
        insert(full, InputKind.CATALOG, CATALOG, "catalog")
        insert(full, InputKind.COVERAGE, COVERAGE, "coverage")
        insert(full, InputKind.GRANTS, [*GRANTS, DENY], "grants")
        insert(full, InputKind.CALLS, month_of_calls() + last_day_calls(), "all")
        evaluate(full)

        assert_same_results(month, full)
