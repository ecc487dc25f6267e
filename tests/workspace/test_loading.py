from __future__ import annotations

import gzip
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditkit.errors import InputError
from auditkit.workspace import CollectedInputError, Workspace

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    WriteJsonl = Callable[[str, list[Any]], Path]


def call(call_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "ts": "2026-03-01T09:00:00Z",
        "tool": "crm.read",
        **fields,
    }


def grant(grant_id: str, **fields: Any) -> dict[str, Any]:
    record = {
        "grant_id": grant_id,
        "principal_type": "user",
        "principal_id": "alice",
        "effect": "allow",
        "action": "crm:Read*",
        "resource": "ticket/*",
        "valid_from": "2026-01-01T00:00:00Z",
    }
    return record | fields


def quarantine_rows(workspace: Workspace) -> list[tuple[Any, ...]]:
    query = "SELECT source_line, field, reason FROM quarantine ORDER BY source_line"
    return workspace.sql(query).fetchall()


def all_tables(workspace: Workspace) -> dict[str, pd.DataFrame]:
    return {name: workspace.table(name) for name in workspace.table_names()}


@pytest.fixture
def three_calls_with_bad_middle(write_jsonl: WriteJsonl) -> Path:
    return write_jsonl("calls.jsonl", [call("c1"), '{"call_id": "c2", ', call("c3")])


# Values


def test_leading_zero_id_kept(workspace: Workspace, write_jsonl: WriteJsonl) -> None:
    workspace.load(write_jsonl("calls.jsonl", [call("012345678901")]))

    assert workspace.table("calls")["call_id"].tolist() == ["012345678901"]


def test_offset_applied_exactly(workspace: Workspace, write_jsonl: WriteJsonl) -> None:
    workspace.load(
        write_jsonl("calls.jsonl", [call("c1", ts="2026-03-01T08:00:00+08:00")])
    )

    (row,) = workspace.sql("SELECT ts FROM calls").fetchall()
    assert row[0] == datetime(2026, 3, 1, 0, 0)


def test_nanoseconds_truncated(workspace: Workspace, write_jsonl: WriteJsonl) -> None:
    path = write_jsonl("calls.jsonl", [call("c1", ts="2026-03-01T00:00:00.123456789Z")])

    workspace.load(path)

    (row,) = workspace.sql("SELECT ts FROM calls").fetchall()
    assert row[0] == datetime(2026, 3, 1, 0, 0, 0, 123456)


def test_naive_timestamp_rejected(
    workspace: Workspace, write_jsonl: WriteJsonl
) -> None:
    path = write_jsonl(
        "calls.jsonl", [call("c1"), call("c2", ts="2026-03-01T09:00:00")]
    )

    with pytest.raises(
        InputError, match=r"calls\.jsonl:2: field 'ts': .*has no time zone"
    ):
        workspace.load(path, errors="raise")


def test_naive_timestamp_default_zone(tmp_path: Path, write_jsonl: WriteJsonl) -> None:
    path = write_jsonl("calls.jsonl", [call("c1", ts="2026-03-01T09:00:00")])

    with Workspace.open(
        tmp_path / "paris.duckdb", default_timezone="Europe/Paris"
    ) as ws:
        ws.load(path, errors="raise")
        (row,) = ws.sql("SELECT ts FROM calls").fetchall()

    assert row[0] == datetime(2026, 3, 1, 8, 0)


def test_nested_fields_stored_as_json(
    workspace: Workspace, write_jsonl: WriteJsonl
) -> None:
    record = call("c1", arguments={"ticket": 7}, actor_chain=["bot", "planner"])

    workspace.load(write_jsonl("calls.jsonl", [record]))

    (row,) = workspace.sql("SELECT arguments, actor_chain FROM calls").fetchall()
    assert json.loads(row[0]) == {"ticket": 7}
    assert json.loads(row[1]) == ["bot", "planner"]


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"seq": 3.5}, "seq", "valid integer"),
        ({"seq": True}, "seq", "valid integer"),
        ({"grant_id": 12345}, "grant_id", r"valid string \(got int 12345\)"),
        ({"effect": "permit"}, "effect", "'allow', 'deny' or 'boundary'"),
    ],
)
def test_wrong_types_quarantined(
    workspace: Workspace,
    write_jsonl: WriteJsonl,
    fields: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    workspace.load(write_jsonl("grants.jsonl", [grant("g0"), grant("g1") | fields]))

    ((line, stored_field, stored_reason),) = quarantine_rows(workspace)
    assert line == 2
    assert stored_field == field
    assert pd.Series([stored_reason]).str.contains(reason).all()
    assert workspace.table("grants")["grant_id"].tolist() == ["g0"]


def test_missing_field_named(workspace: Workspace, write_jsonl: WriteJsonl) -> None:
    record = grant("g1")
    del record["principal_id"]
    path = write_jsonl("grants.jsonl", [record])

    with pytest.raises(
        InputError, match=r"grants\.jsonl:1: field 'principal_id': .*required"
    ):
        workspace.load(path, errors="raise")


# Quarantine and error policies


def test_malformed_line_quarantined(
    workspace: Workspace, three_calls_with_bad_middle: Path
) -> None:
    result = workspace.load(three_calls_with_bad_middle)

    assert result.rows_accepted == 2
    assert result.rows_quarantined == 1
    assert workspace.table("calls")["call_id"].tolist() == ["c1", "c3"]
    ((line, field, reason),) = quarantine_rows(workspace)
    assert line == 2
    assert field is None
    assert reason.startswith("invalid JSON")


def test_quarantine_keeps_record_text(
    workspace: Workspace, three_calls_with_bad_middle: Path
) -> None:
    workspace.load(three_calls_with_bad_middle)

    (row,) = workspace.sql("SELECT record, kind, load_id FROM quarantine").fetchall()
    assert row[0] == '{"call_id": "c2", '
    assert row[1] == "calls"
    assert row[2].startswith("calls-")


def test_quarantine_logs_warning(
    workspace: Workspace,
    three_calls_with_bad_middle: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    workspace.load(three_calls_with_bad_middle)

    assert "1 invalid records quarantined" in caplog.text


def test_errors_raise_loads_nothing(
    workspace: Workspace, three_calls_with_bad_middle: Path
) -> None:
    with pytest.raises(InputError, match=r"calls\.jsonl:2: invalid JSON"):
        workspace.load(three_calls_with_bad_middle, errors="raise")

    assert workspace.table("calls").empty
    assert workspace.table("load_log").empty


def test_errors_collect_lists_all(
    workspace: Workspace, write_jsonl: WriteJsonl
) -> None:
    records = [call("c1"), call("c2", ts=5), "oops", call(7)]
    path = write_jsonl("calls.jsonl", records)

    with pytest.raises(CollectedInputError, match="3 invalid records") as caught:
        workspace.load(path, errors="collect")

    assert [problem.line for problem in caught.value.problems] == [2, 3, 4]
    assert "calls.jsonl:4: field 'call_id'" in str(caught.value)
    assert workspace.table("calls").empty
    assert workspace.table("quarantine").empty


def test_errors_collect_loads_valid_file(
    workspace: Workspace, write_jsonl: WriteJsonl
) -> None:
    result = workspace.load(write_jsonl("calls.jsonl", [call("c1")]), errors="collect")

    assert result.rows_accepted == 1


def test_unknown_error_policy(workspace: Workspace, write_jsonl: WriteJsonl) -> None:
    path = write_jsonl("calls.jsonl", [call("c1")])

    with pytest.raises(ValueError, match="errors must be one of raise, collect"):
        workspace.load(path, errors="ignore")  # type: ignore[arg-type]


# Idempotence and duplicates


def test_same_file_twice_adds_nothing(
    workspace: Workspace, write_jsonl: WriteJsonl
) -> None:
    path = write_jsonl("calls.jsonl", [call("c1"), call("c2")])
    workspace.load(path)

    second = workspace.load(path)

    assert second.files == ()
    assert second.skipped_files[0].reason == "already loaded as calls (same sha256)"
    assert len(workspace.table("calls")) == 2
    assert len(workspace.table("load_log")) == 1


def test_duplicate_ids_counted(workspace: Workspace, write_jsonl: WriteJsonl) -> None:
    workspace.load(write_jsonl("calls-a.jsonl", [call("c1")]))
    later = write_jsonl("calls-b.jsonl", [call("c1"), call("c2"), call("c2", tool="x")])

    result = workspace.load(later)

    assert result.rows_accepted == 1
    assert result.rows_duplicate == 2
    assert workspace.table("calls")["tool"].tolist() == ["crm.read", "crm.read"]


def test_load_log_row(workspace: Workspace, write_jsonl: WriteJsonl) -> None:
    import hashlib

    path = write_jsonl("calls.jsonl", [call("c1"), call("c1"), "bad"])

    workspace.load(path)

    log = workspace.table("load_log").iloc[0]
    assert log["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert log["kind"] == "calls"
    assert (log["rows_accepted"], log["rows_duplicate"], log["rows_quarantined"]) == (
        1,
        1,
        1,
    )


def test_rows_carry_location(workspace: Workspace, write_jsonl: WriteJsonl) -> None:
    path = write_jsonl("calls.jsonl", ["", call("c1")])

    workspace.load(path)

    row = workspace.table("calls").iloc[0]
    assert row["source_file"] == str(path)
    assert row["source_line"] == 2
    assert row["load_id"] == workspace.table("load_log")["load_id"][0]


# Formats


def test_gzip_without_suffix(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_bytes(gzip.compress((json.dumps(call("c1")) + "\n").encode()))

    result = workspace.load(path)

    assert result.rows_accepted == 1


def test_csv_input(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "grants.csv"
    path.write_text(
        "grant_id,principal_type,principal_id,effect,action,resource,valid_from,valid_to,seq\n"
        "007,user,alice,allow,crm:*,*,2026-01-01T00:00:00Z,,3\n"
        "g2,user,bob,allow,crm:*,*,2026-01-01T00:00:00Z,,true\n"
    )

    result = workspace.load(path)

    assert result.rows_accepted == 1
    row = workspace.table("grants").iloc[0]
    assert row["grant_id"] == "007"
    assert row["seq"] == 3
    assert pd.isna(row["valid_to"])
    assert quarantine_rows(workspace)[0][:2] == (3, "seq")


def test_csv_json_cells(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(
        'call_id,ts,tool,arguments,actor_chain\nc1,2026-03-01T00:00:00Z,t,"{""a"": 1}",'
        '"[""bot""]"\n'
    )

    workspace.load(path, errors="raise")

    (row,) = workspace.sql("SELECT arguments, actor_chain FROM calls").fetchall()
    assert json.loads(row[0]) == {"a": 1}
    assert json.loads(row[1]) == ["bot"]


def test_parquet_input(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "calls.parquet"
    table = pa.table(
        {
            "call_id": ["c1", "c2"],
            "ts": pa.array([1_772_323_200_000_000, None], pa.timestamp("us", "UTC")),
            "tool": ["crm.read", "crm.read"],
        }
    )
    pq.write_table(table, path)

    result = workspace.load(path)

    assert result.rows_accepted == 1
    assert quarantine_rows(workspace)[0][:2] == (2, "ts")


def test_parquet_int_id_rejected(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "calls.parquet"
    table = pa.table({"call_id": [1], "ts": ["2026-03-01T00:00:00Z"], "tool": ["t"]})
    pq.write_table(table, path)

    with pytest.raises(InputError, match=r"calls\.parquet:1: field 'call_id'"):
        workspace.load(path, errors="raise")


def test_json_array_input(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "grants.json"
    path.write_text(json.dumps([grant("g1"), grant("g2", seq="1")], indent=2))

    result = workspace.load(path)

    assert result.rows_accepted == 1
    assert quarantine_rows(workspace)[0][:2] == (2, "seq")


def test_kind_argument_overrides_name(
    workspace: Workspace, write_jsonl: WriteJsonl
) -> None:
    path = write_jsonl("export.jsonl", [grant("g1")])

    workspace.load(path, "grants")

    assert len(workspace.table("grants")) == 1


def test_unknown_kind_single_file(
    workspace: Workspace, write_jsonl: WriteJsonl
) -> None:
    path = write_jsonl("export.jsonl", [{"unrelated": 1}])

    with pytest.raises(InputError, match=r"export\.jsonl: unknown input kind.*kind="):
        workspace.load(path)


def test_unknown_kind_argument(workspace: Workspace, write_jsonl: WriteJsonl) -> None:
    path = write_jsonl("calls.jsonl", [call("c1")])

    with pytest.raises(
        InputError, match="unknown kind 'call'; use one of: calls, grants"
    ):
        workspace.load(path, "call")


def test_missing_path(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nowhere: file or folder not found"):
        workspace.load(tmp_path / "nowhere")


# Folders


def test_folder_loads_by_name(
    workspace: Workspace, write_jsonl: WriteJsonl, tmp_path: Path
) -> None:
    write_jsonl("in/calls.jsonl", [call("c1")])
    write_jsonl("in/more/grants-2026.jsonl", [grant("g1")])
    write_jsonl("in/notes.jsonl", [{"text": "hello"}])
    write_jsonl("in/snapshots/grants-2026-01-01.jsonl", [grant("g9")])
    write_jsonl("in/.hidden/calls.jsonl", [call("c9")])

    result = workspace.load(tmp_path / "in")

    assert [path.rsplit("/", 1)[-1] for path in result.files] == [
        "calls.jsonl",
        "grants-2026.jsonl",
    ]
    assert [item.path.rsplit("/", 1)[-1] for item in result.skipped_files] == [
        "notes.jsonl"
    ]
    assert workspace.table("grants")["grant_id"].tolist() == ["g1"]
    assert workspace.table("calls")["call_id"].tolist() == ["c1"]


def test_folder_skip_logged(
    workspace: Workspace,
    write_jsonl: WriteJsonl,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_jsonl("in/notes.jsonl", [{"text": "hello"}])

    workspace.load(tmp_path / "in")

    assert "notes.jsonl: kind unknown" in caplog.text


# Atomicity


def test_interrupted_load_changes_nothing(
    workspace: Workspace, write_jsonl: WriteJsonl, tmp_path: Path
) -> None:
    workspace.load(write_jsonl("calls-0.jsonl", [call("c0"), "bad"]))
    before = all_tables(workspace)
    write_jsonl("in/calls-1.jsonl", [call("c1"), "bad"])
    write_jsonl("in/calls-2.jsonl", [call("c2")])
    calls: list[tuple[int, int]] = []

    def stop_after_first_file(done: int, total: int) -> None:
        calls.append((done, total))
        if len(calls) == 2:
            message = "interrupted"
            raise KeyboardInterrupt(message)

    with pytest.raises(KeyboardInterrupt):
        workspace.load(tmp_path / "in", progress=stop_after_first_file)

    after = all_tables(workspace)
    assert calls[1][0] > 0
    for name, frame in before.items():
        pd.testing.assert_frame_equal(after[name], frame, obj=name)


def test_progress_reaches_total(workspace: Workspace, write_jsonl: WriteJsonl) -> None:
    path = write_jsonl("calls.jsonl", [call("c1"), call("c2")])
    reports: list[tuple[int, int]] = []

    workspace.load(path, progress=lambda done, total: reports.append((done, total)))

    assert reports[0] == (0, path.stat().st_size)
    assert reports[-1] == (path.stat().st_size, path.stat().st_size)
