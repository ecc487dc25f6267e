from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb
import pytest

from auditkit.errors import InputError, NotFoundError
from auditkit.evaluate import evaluate
from auditkit.review.triage import (
    TriageState,
    current_triage,
    set_triage,
    triage_history,
)
from tests.review.worlds import EXTRA_DAY_CALLS, build_world, finding_id_of, insert

if TYPE_CHECKING:
    from pathlib import Path


def ids_by_call(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute("SELECT call_id, finding_id FROM findings").fetchall()
    return {str(call_id): str(finding_id) for call_id, finding_id in rows}


def test_finding_id_is_hash_of_call_id(two_week_world: duckdb.DuckDBPyConnection):
    expected = hashlib.sha256(b"call:c-02").hexdigest()[:16]
    assert finding_id_of(two_week_world, "c-02") == expected


def test_finding_ids_unchanged_on_rerun(two_week_world: duckdb.DuckDBPyConnection):
    before = ids_by_call(two_week_world)
    evaluate(two_week_world)
    assert ids_by_call(two_week_world) == before


def test_finding_ids_unchanged_after_extra_day(
    two_week_world: duckdb.DuckDBPyConnection,
):
    before = ids_by_call(two_week_world)
    insert(two_week_world, "calls", EXTRA_DAY_CALLS)
    evaluate(two_week_world)
    after = ids_by_call(two_week_world)

    assert {call_id: after[call_id] for call_id in before} == before
    assert set(after) - set(before) == {"c-21", "c-22"}


def test_finding_ids_equal_across_workspaces(tmp_path: Path):
    first = duckdb.connect(str(tmp_path / "first.duckdb"))
    second = duckdb.connect(str(tmp_path / "second.duckdb"))
    build_world(first)
    build_world(second, extra_day=True)
    shared = ids_by_call(first)
    assert {key: ids_by_call(second)[key] for key in shared} == shared


def test_triage_survives_rerun(two_week_world: duckdb.DuckDBPyConnection):
    finding = finding_id_of(two_week_world, "c-13")
    set_triage(two_week_world, finding, "acknowledged", reviewer="dana")
    insert(two_week_world, "calls", EXTRA_DAY_CALLS)
    evaluate(two_week_world)

    current = current_triage(two_week_world).set_index("finding_id")
    assert current.loc[finding, "state"] == "acknowledged"
    assert finding_id_of(two_week_world, "c-13") == finding


def test_triage_history_keeps_every_change(two_week_world: duckdb.DuckDBPyConnection):
    finding = finding_id_of(two_week_world, "c-02")
    set_triage(two_week_world, finding, "acknowledged", reviewer="dana", comment="seen")
    set_triage(
        two_week_world,
        finding,
        TriageState.REMEDIATED,
        reviewer="lee",
        comment="grant fixed",
    )

    history = triage_history(two_week_world, finding)
    assert history["state"].tolist() == ["acknowledged", "remediated"]
    assert history["reviewer"].tolist() == ["dana", "lee"]
    assert history["comment"].tolist() == ["seen", "grant fixed"]


def test_current_triage_is_latest_row(two_week_world: duckdb.DuckDBPyConnection):
    finding = finding_id_of(two_week_world, "c-02")
    # Same instant on both rows: the order of appending decides.
    when = datetime(2026, 3, 20, 12)
    set_triage(two_week_world, finding, "acknowledged", reviewer="a", changed_at=when)
    set_triage(two_week_world, finding, "false_positive", reviewer="b", changed_at=when)

    current = current_triage(two_week_world)
    assert len(current) == 1
    assert current.loc[0, "state"] == "false_positive"
    assert current.loc[0, "reviewer"] == "b"


def test_triage_reviewer_defaults_to_login(
    two_week_world: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("LOGNAME", "night-shift")
    change = set_triage(two_week_world, finding_id_of(two_week_world, "c-02"), "open")
    assert change.reviewer == "night-shift"


def test_triage_converts_aware_time_to_utc(two_week_world: duckdb.DuckDBPyConnection):
    aware = datetime.fromisoformat("2026-03-20T14:00:00+02:00")
    change = set_triage(
        two_week_world,
        finding_id_of(two_week_world, "c-02"),
        "acknowledged",
        reviewer="dana",
        changed_at=aware,
    )
    assert change.changed_at == datetime(2026, 3, 20, 12)


def test_triage_rejects_unknown_finding(two_week_world: duckdb.DuckDBPyConnection):
    with pytest.raises(NotFoundError, match=r"finding 'ffffffffffffffff' not found"):
        set_triage(two_week_world, "ffffffffffffffff", "acknowledged", reviewer="dana")


def test_triage_rejects_unknown_state(two_week_world: duckdb.DuckDBPyConnection):
    finding = finding_id_of(two_week_world, "c-02")
    with pytest.raises(InputError, match=r"unknown triage state 'closed'.*use one of"):
        set_triage(two_week_world, finding, "closed", reviewer="dana")


def test_triage_rejects_empty_reviewer(two_week_world: duckdb.DuckDBPyConnection):
    finding = finding_id_of(two_week_world, "c-02")
    with pytest.raises(InputError, match="reviewer is empty"):
        set_triage(two_week_world, finding, "acknowledged", reviewer="  ")


def test_triage_without_findings_table():
    con = duckdb.connect()
    with pytest.raises(NotFoundError, match="run 'auditkit evaluate' first"):
        set_triage(con, "0123456789abcdef", "acknowledged", reviewer="dana")


def test_rejected_triage_appends_nothing(two_week_world: duckdb.DuckDBPyConnection):
    with pytest.raises(NotFoundError):
        set_triage(two_week_world, "ffffffffffffffff", "acknowledged", reviewer="dana")
    assert current_triage(two_week_world).empty
