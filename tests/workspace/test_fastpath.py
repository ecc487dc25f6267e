"""The SQL load path agrees with the record-by-record pydantic path.

Each case loads the same file twice: once through :func:`load_inputs` (which takes
the SQL path for canonical JSONL, CSV and Parquet) and once with the SQL path
switched off, and compares the stored rows and the quarantine.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditkit.models.codes import Effect
from auditkit.workspace import Workspace, fastpath
from auditkit.workspace.fastpath import field_rules, stage_file

if TYPE_CHECKING:
    from pathlib import Path

    from auditkit.models import InputKind

GOOD_CALLS: list[Any] = [
    {"call_id": "c1", "ts": "2026-03-01T09:00:00Z", "tool": "crm.read"},
    {"call_id": "007", "ts": "2026-03-01T08:00:00+08:00", "tool": "t"},
    {"call_id": "c3", "ts": "2026-03-01T08:00:00-0530", "tool": "t"},
    {"call_id": "c4", "ts": "2026-03-01 08:00:00.123456789Z", "tool": "t"},
    {"call_id": "c5", "ts": "2026-03-01T08:00Z", "tool": "t", "outcome": "denied"},
    {"call_id": "c6", "ts": "2026-03-01T08:00:00,5z", "tool": "t", "subject": "é"},
    {
        "call_id": "c7",
        "ts": "2026-03-01T00:00:00Z",
        "tool": "t",
        "arguments": {"ticket": 7, "tags": ["a", "b"], "note": "\u00e9\\/\n"},
        "actor_chain": ["bot", "planner"],
        "token_issued_at": "2026-02-28T23:00:00Z",
        "extra": {"ignored": True},
    },
    {"call_id": "c8", "ts": "2026-03-01T00:00:00Z", "tool": "t", "arguments": {}},
    {"call_id": "c9", "ts": "2026-03-01T00:00:00Z", "tool": "t", "actor_chain": []},
    {"call_id": "c10", "ts": "2026-03-01T00:00:00Z", "tool": "t", "actor": None},
    {"call_id": "c1", "ts": "2026-03-01T10:00:00Z", "tool": "repeated id"},
]

BAD_CALLS: list[Any] = [
    {"call_id": 12345, "ts": "2026-03-01T09:00:00Z", "tool": "t"},
    {"call_id": "b2", "ts": "2026-03-01T09:00:00", "tool": "t"},
    {"call_id": "b3", "ts": 1772323200, "tool": "t"},
    {"call_id": "b4", "ts": "2026-02-30T09:00:00Z", "tool": "t"},
    {"call_id": "b5", "ts": "2026-03-01T09:00:00+24:00", "tool": "t"},
    {"call_id": "b6", "ts": "2026-03-01T09:00:00Z", "tool": ""},
    {"call_id": "b7", "ts": "2026-03-01T09:00:00Z"},
    {"call_id": "b8", "ts": "2026-03-01T09:00:00Z", "tool": "t", "outcome": "ok"},
    {"call_id": "b9", "ts": "2026-03-01T09:00:00Z", "tool": "t", "arguments": [1]},
    {"call_id": "b10", "ts": "2026-03-01T09:00:00Z", "tool": "t", "actor_chain": [""]},
    {"call_id": "b11", "ts": " 2026-03-01T09:00:00Z", "tool": "t"},
    {"call_id": None, "ts": "2026-03-01T09:00:00Z", "tool": "t"},
    '{"call_id": "b13", "ts": "2026-03-01T09:00:00Z", "tool": "t",}',
    '{"call_id": "b14", "ts": "2026-03-01T09:00:00Z", "tool": "t", "x": NaN}',
    '{"call_id": "b15", "call_id": "b16", "ts": "2026-03-01T09:00:00Z", "tool": "t"}',
    '{"call_id": "b17", "ts": "2026-03-01T09:00:00Z", "tool": "t", "arguments": '
    '{"a": 1, "a": 2}}',
    '{"call_id": "b18", ',
    "[1, 2]",
    "   ",
    '"text"',
]

GOOD_GRANTS: list[Any] = [
    {
        "grant_id": "g1",
        "principal_type": "user",
        "principal_id": "alice",
        "effect": "allow",
        "action": "crm:*",
        "resource": "ticket/*",
        "valid_from": "2026-01-01T00:00:00Z",
        "valid_to": "2026-02-01T00:00:00+01:00",
        "seq": -3,
        "condition": "",
    },
]

BAD_GRANTS: list[Any] = [
    GOOD_GRANTS[0] | {"grant_id": "g2", "seq": 3.5},
    GOOD_GRANTS[0] | {"grant_id": "g3", "seq": True},
    GOOD_GRANTS[0] | {"grant_id": "g4", "seq": "3"},
    GOOD_GRANTS[0] | {"grant_id": "g5", "effect": "permit"},
    GOOD_GRANTS[0] | {"grant_id": "g6", "principal_type": "User"},
]


def write_lines(path: Path, records: list[Any], end: str = "\n") -> Path:
    lines = [item if isinstance(item, str) else json.dumps(item) for item in records]
    path.write_text(end.join(lines) + end, encoding="utf-8", newline="")
    return path


def stored(workspace: Workspace, kind: str) -> list[tuple[Any, ...]]:
    # S608: the kind is a fixed table name from the test's own cases.
    query = f"SELECT * EXCLUDE (load_id) FROM {kind} ORDER BY source_line"  # noqa: S608
    return workspace.sql(query).fetchall()


def quarantined(workspace: Workspace) -> list[tuple[Any, ...]]:
    query = "SELECT source_line, field, reason, record FROM quarantine ORDER BY 1"
    return workspace.sql(query).fetchall()


def load_both(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    path: Path,
    kind: str,
    **settings: Any,
) -> tuple[Workspace, Workspace]:
    fast = Workspace.open(tmp_path / "fast.duckdb", **settings)
    fast.load(path, kind)
    with monkeypatch.context() as patch:
        patch.setattr("auditkit.workspace.loading.fast_path_applies", lambda *_: False)
        slow = Workspace.open(tmp_path / "slow.duckdb", **settings)
        slow.load(path, kind)
    return fast, slow


def assert_agree(
    fast: Workspace, slow: Workspace, kind: str, *, same_record: bool = True
) -> None:
    assert stored(fast, kind) == stored(slow, kind)
    # A short CSV row's record text lists its missing cells as empty in SQL.
    columns = slice(None) if same_record else slice(0, 3)
    fast_rows = [row[columns] for row in quarantined(fast)]
    slow_rows = [row[columns] for row in quarantined(slow)]
    assert fast_rows == slow_rows
    assert fast.table("load_log")[["rows_accepted", "rows_quarantined"]].equals(
        slow.table("load_log")[["rows_accepted", "rows_quarantined"]]
    )
    fast.close()
    slow.close()


def test_jsonl_calls_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_lines(tmp_path / "calls.jsonl", [*GOOD_CALLS, "", *BAD_CALLS])

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    assert len(stored(fast, "calls")) >= 10
    assert_agree(fast, slow, "calls")


def test_jsonl_crlf_lines_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_lines(tmp_path / "calls.jsonl", [*GOOD_CALLS, *BAD_CALLS], "\r\n")

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    assert_agree(fast, slow, "calls")


def test_jsonl_grants_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_lines(tmp_path / "grants.jsonl", [*GOOD_GRANTS, *BAD_GRANTS])

    fast, slow = load_both(tmp_path, monkeypatch, path, "grants")

    assert len(stored(fast, "grants")) == 1
    assert_agree(fast, slow, "grants")


@pytest.mark.parametrize(
    "ts",
    [
        "2026-03-01T09:00:00",
        "2026-03-29T02:30:00",
        "2026-10-25T02:30:00",
        "2026-10-25T03:30:00",
    ],
)
def test_default_zone_agrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ts: str
) -> None:
    path = write_lines(
        tmp_path / "calls.jsonl", [{"call_id": "c", "ts": ts, "tool": "t"}]
    )

    fast, slow = load_both(
        tmp_path, monkeypatch, path, "calls", default_timezone="Europe/Paris"
    )

    assert_agree(fast, slow, "calls")


def test_csv_calls_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(
        "call_id,ts,tool,arguments,actor_chain,outcome,extra\n"
        'c1,2026-03-01T00:00:00Z,t,"{""a"": 1}","[""bot""]",allowed,x\n'
        "c2,2026-03-01T00:00:00Z,t,,,,\n"
        "c3,2026-03-01T00:00:00,t,,,,\n"
        'c4,2026-03-01T00:00:00Z,t,"[1]",,,\n'
        "c5,2026-03-01T00:00:00Z,t,,bot,,\n"
        "c6,2026-03-01T00:00:00Z,,,,,\n"
        "c7,2026-03-01T00:00:00Z,t,,,maybe,\n"
        "c8,2026-03-01T00:00:00Z\n",
        encoding="utf-8",
    )

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    assert len(stored(fast, "calls")) == 2
    assert_agree(fast, slow, "calls", same_record=False)


def test_csv_grants_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "grants.csv"
    header = (
        "grant_id,principal_type,principal_id,effect,action,resource,valid_from,seq\n"
    )
    rows = [
        "g1,user,alice,allow,crm:*,*,2026-01-01T00:00:00Z,3",
        "g2,user,alice,allow,crm:*,*,2026-01-01T00:00:00Z,-12",
        "g3,user,alice,allow,crm:*,*,2026-01-01T00:00:00Z,true",
        "g4,user,alice,allow,crm:*,*,2026-01-01T00:00:00Z,3.0",
        "g5,user,alice,permit,crm:*,*,2026-01-01T00:00:00Z,",
    ]
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")

    fast, slow = load_both(tmp_path, monkeypatch, path, "grants")

    assert len(stored(fast, "grants")) >= 2
    assert_agree(fast, slow, "grants")


def test_parquet_calls_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "calls.parquet"
    table = pa.table(
        {
            "call_id": ["c1", "c2", "c3", "c4", "c1"],
            "ts": pa.array(
                [1_772_323_200_000_000, None, 1, 2, 3], pa.timestamp("us", "UTC")
            ),
            "tool": ["t", "t", "", "t", "t"],
            "actor_chain": pa.array(
                [["a", "b"], None, None, [""], None], pa.list_(pa.string())
            ),
            "arguments": ['{"x": 1}', None, None, "not json", None],
            "token_issued_at": ["2026-03-01T00:00:00Z", None, None, None, "bad"],
        }
    )
    pq.write_table(table, path)

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    assert len(stored(fast, "calls")) == 1
    assert_agree(fast, slow, "calls")


def test_parquet_naive_and_int_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "calls.parquet"
    table = pa.table(
        {
            "call_id": pa.array([1, 2], pa.int64()),
            "ts": pa.array([1_772_323_200_000_000, 5], pa.timestamp("us")),
            "tool": ["t", "t"],
        }
    )
    pq.write_table(table, path)

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    assert_agree(fast, slow, "calls")


def test_sql_path_accepts_good_rows(workspace: Workspace, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "calls.jsonl", GOOD_CALLS)
    connection = workspace.connection
    connection.begin()

    staged = stage_file(
        connection,
        workspace.settings,
        path,
        kind=field_kind("calls"),
        file_format="jsonl",
        load_id="l1",
    )

    assert staged is not None
    assert list(staged.unsure_records()) == []
    connection.rollback()


def test_invalid_utf8_read_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "calls.jsonl"
    good = json.dumps(GOOD_CALLS[0]).encode()
    path.write_bytes(good + b"\n" + b'{"call_id": "\xff"}\n')

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    assert_agree(fast, slow, "calls")


def test_rules_follow_models() -> None:
    rules = {rule.name: rule for rule in field_rules(field_kind("grants"))}

    assert rules["grant_id"].check == "id"
    assert rules["seq"].check == "int"
    assert rules["effect"].choices == tuple(effect.value for effect in Effect)
    assert rules["condition"].check == "text"
    assert not rules["valid_to"].required


def field_kind(name: str) -> InputKind:
    from auditkit.models import InputKind

    return InputKind(name)


def test_fast_formats() -> None:
    assert fastpath.fast_path_applies("parquet", "canonical")
    assert not fastpath.fast_path_applies("json", "canonical")
    assert not fastpath.fast_path_applies("jsonl", "otel")


def test_vertical_space_lines_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python's bytes.strip() also removes vertical tabs and form feeds.
    path = tmp_path / "calls.jsonl"
    good = json.dumps(GOOD_CALLS[0]).encode()
    path.write_bytes(b"\x0c\n" + good + b"\n \x0b\t\n" + good.replace(b"c1", b"c2"))

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    assert len(stored(fast, "calls")) == 2
    assert quarantined(fast) == []
    assert_agree(fast, slow, "calls")


NUMBERS_AND_ESCAPES: list[Any] = [
    1e16,
    -1e17,
    1e21,
    0.00001,
    2.5e-5,
    1e-7,
    5e-324,
    1.7976931348623157e308,
    123456789012345678.0,
    10**30,
    -(10**30),
    0.1,
    0.0001,
    1234567.0,
    -0.0,
    "\u001f",
    "tab\there",
    "\u00e9\u2028",
    "back\\slash u0041",
]


@pytest.mark.parametrize("value", NUMBERS_AND_ESCAPES)
def test_jsonl_objects_written_as_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: Any
) -> None:
    record = {"call_id": "c1", "ts": "2026-03-01T00:00:00Z", "tool": "t"}
    lines = [
        record | {"arguments": {"x": value}},
        record | {"call_id": "c2", "arguments": {"a": {"x": [value]}}},
        record | {"call_id": "c3", "actor_chain": ["bot", str(value)]},
    ]
    path = write_lines(tmp_path / "calls.jsonl", lines)

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    assert len(stored(fast, "calls")) == 3
    assert_agree(fast, slow, "calls")


def test_csv_objects_written_as_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(
        "call_id,ts,tool,arguments,actor_chain\n"
        'c1,2026-03-01T00:00:00Z,t,"{""x"": 1e16}",\n'
        'c2,2026-03-01T00:00:00Z,t,"{""x"": 0.000025}",\n'
        'c3,2026-03-01T00:00:00Z,t,"{""x"": ""\\u001f""}","[""a\\u001fb""]"\n'
        'c4,2026-03-01T00:00:00Z,t,"{""x"": 1.5}","[""a""]"\n',
        encoding="utf-8",
    )

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    assert len(stored(fast, "calls")) == 4
    assert_agree(fast, slow, "calls")
