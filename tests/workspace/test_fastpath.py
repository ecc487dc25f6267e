"""The SQL load path agrees with the record-by-record pydantic path.

Each case loads the same file twice: once through :func:`load_inputs` (which takes
the SQL path for canonical JSONL, CSV and Parquet) and once with the SQL path
switched off, and compares the stored rows and the quarantine.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import duckdb
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


# Each common UTC form, valid and with each part just out of range, and forms that
# only the regular expression reads.
TIMESTAMPS = [
    "2026-03-01T09:00:00.123456Z",
    "2026-03-01T09:00:00.123Z",
    "2026-03-01T09:00:00Z",
    "2026-03-01T09:00:00.123456+00:00",
    "2026-03-01T09:00:00.123+00:00",
    "2026-03-01T09:00:00+00:00",
    "2024-02-29T23:59:59.999999Z",
    "2026-02-29T09:00:00Z",
    "2026-04-31T09:00:00.000001Z",
    "2026-00-01T09:00:00Z",
    "2026-13-01T09:00:00Z",
    "2026-01-00T09:00:00Z",
    "2026-01-32T09:00:00Z",
    "2026-01-01T24:00:00Z",
    "2026-01-01T29:00:00.000Z",
    "2026-01-01T23:60:00Z",
    "2026-01-01T23:59:60Z",
    "0999-01-01T00:00:00Z",
    "1000-01-01T00:00:00Z",
    "8999-12-31T23:59:59Z",
    "9000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "2026-1-01T09:00:00Z",
    "2026-01-01T9:00:00Z",
    " 026-01-01T09:00:00Z",
    "+026-01-01T09:00:00Z",
    "2026-01-01T09:00:00 Z",
    "2026-01-01T09:00:00.12345Z",
    "2026-01-01T09:00:00.1234567Z",
    "2026-01-01 09:00:00Z",
    "2026-01-01T09:00:00z",
    "2026-01-01T09:00:00+0000",
    "2026-01-01T09:00:00-00:00",
    "2026-01-01T09:00:00.123456Z ",
    "\uff12\uff10\uff12\uff16-01-01T09:00:00Z",  # full-width digits
]


def test_timestamp_forms_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [
        {"call_id": f"c{index}", "ts": ts, "tool": "t", "token_issued_at": ts}
        for index, ts in enumerate(TIMESTAMPS)
    ]
    path = write_lines(tmp_path / "calls.jsonl", lines)

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    assert len(stored(fast, "calls")) >= 10
    assert_agree(fast, slow, "calls")


def test_first_line_of_id_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Line 1 starts with a space, so pydantic checks it. Line 2 repeats its id and
    # is checked in SQL, yet line 1 is the one stored.
    first = json.dumps({"call_id": "c1", "ts": "2026-03-01T00:00:00Z", "tool": "a"})
    second = {"call_id": "c1", "ts": "2026-03-01T00:00:00Z", "tool": "b"}
    path = write_lines(tmp_path / "calls.jsonl", [" " + first, second, GOOD_CALLS[2]])

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    assert [row[2] for row in stored(fast, "calls")] == ["a", "t"]
    assert_agree(fast, slow, "calls")


def test_repeated_key_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lines with keys beyond the model's fields, and one line among them that
    # repeats a field's key. Python keeps the last value and DuckDB the first.
    lines = [
        json.dumps(record | {"extra": index})
        for index, record in enumerate(GOOD_CALLS[:5])
    ]
    lines.insert(
        3,
        '{"call_id": "r1", "tool": "first", "ts": '
        '"2026-03-01T00:00:00Z", "x": 1, "tool": "last"}',
    )
    path = write_lines(tmp_path / "calls.jsonl", lines)

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    tools = {row[0]: row[2] for row in stored(fast, "calls")}
    assert tools["r1"] == "last"
    assert_agree(fast, slow, "calls")


def test_repeated_unknown_key_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = (
        '{"call_id": "c1", "ts": "2026-03-01T00:00:00Z", "tool": "t", "x": 1, "x": 2}'
    )
    path = write_lines(tmp_path / "calls.jsonl", [line])

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    assert len(stored(fast, "calls")) == 1
    assert_agree(fast, slow, "calls")


def test_escaped_key_names_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "too\u006c" is the key "tool", and the second line names that key twice.
    lines = [
        '{"call_id": "c1", "ts": "2026-03-01T00:00:00Z", "too\\u006c": "t"}',
        '{"call_id": "c2", "ts": "2026-03-01T00:00:00Z", "tool": "a", '
        '"too\\u006c": "b"}',
    ]
    path = write_lines(tmp_path / "calls.jsonl", lines)

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    assert [row[2] for row in stored(fast, "calls")] == ["t", "b"]
    assert_agree(fast, slow, "calls")


@pytest.mark.parametrize(
    "line",
    [
        '{"call_id": "c1", "ts": "2026-03-01T00:00:00Z", "tool": "t", "x": [1,]}',
        '{"call_id": "c1", "ts": "2026-03-01T00:00:00Z", "tool": "t", "x": [1, \t]}',
        '{"call_id": "c1", "ts": "2026-03-01T00:00:00Z", "tool": "t", "x": {"a": 1,}}',
        '{"call_id": "c1", "ts": "2026-03-01T00:00:00Z", "tool": "t", "x": -Infinity}',
        '{"call_id": "c1", "ts": "2026-03-01T00:00:00Z", "tool": "t", "x": NaN}',
    ],
)
def test_lenient_json_quarantined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str
) -> None:
    path = write_lines(tmp_path / "calls.jsonl", [GOOD_CALLS[0], line])

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    assert len(quarantined(fast)) == 1
    assert_agree(fast, slow, "calls")


def test_no_field_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_lines(tmp_path / "calls.jsonl", [{"x": 1}, {}, '{"y": '])

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    assert len(quarantined(fast)) == 3
    assert_agree(fast, slow, "calls")


LENIENT_LINES = [
    b'{"a": [1, 2]}',
    b'{"a": [1, 2,]}',
    b'{"a": [1, 2,  \t ]}',
    b'{"a": {"b": 1,\r}}',
    b'{"a": "NaN"}',
    b'{"a": "Infinity"}',
    b'{"a": "x, ]"}',
    b'{"a": 1}',
    b"",
    b"x" * 40,
]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64, 1 << 20])
def test_lenient_search_spans_chunks(chunk_size: int) -> None:
    # The reference checks each line alone with the SQL pattern. The search may
    # only add alarms, and on these lines it adds none.
    pattern = re.compile(fastpath._LENIENT_JSON.encode())
    for first in range(len(LENIENT_LINES)):
        for second in range(len(LENIENT_LINES)):
            lines = [LENIENT_LINES[first], b'{"b": 2}' * 3, LENIENT_LINES[second]]
            data = b"\n".join(lines)
            expected = any(pattern.search(line) for line in lines)
            search = fastpath._LenientSearch()
            for start in range(0, len(data), chunk_size):
                search.feed(data[start : start + chunk_size])
            assert search.finish() == expected, (data, chunk_size)


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 1 << 20])
@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1}\r\n{"b": 2}\r\n',
        b'{"a": 1}\r\n\r\n{"b": 2}',
        b'\n{"a": 1}\n',
        b'{"a": 1}\n\n',
        b'{"a": 1}\r{"b": 2}\r\n',
        b'{"a": 1}\n\r\n',
        b"\r\n",
        b'{"a": 1}',
    ],
)
def test_scan_counts_across_chunks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, chunk_size: int, data: bytes
) -> None:
    monkeypatch.setattr(fastpath, "_SCAN_CHUNK", chunk_size)
    path = tmp_path / "lines.jsonl"
    path.write_bytes(data)

    scan = fastpath._scan_text(path, blank_lines=True)

    lines = data.split(b"\n")
    assert scan.valid
    assert scan.carriage_returns == data.count(b"\r")
    assert scan.crlf == data.count(b"\r\n")
    assert scan.newlines == data.count(b"\n")
    assert scan.blank_line == any(not line.strip(b"\r") for line in lines[:-1])
    assert scan.ends_with_newline == data.endswith(b"\n")


def test_field_named_by_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only line 2,500 names token_id and outcome, and only the last line names
    # session_id, after a leading space that sends it through pydantic.
    lines: list[Any] = [
        {"call_id": f"c{index}", "ts": "2026-03-01T00:00:00Z", "tool": "t"}
        for index in range(3000)
    ]
    lines[2499] |= {"token_id": "tok-1", "outcome": "denied"}
    last = {"call_id": "c-last", "ts": "2026-03-01T00:00:00Z", "tool": "t"}
    lines.append(" " + json.dumps(last | {"session_id": "s1"}))
    path = write_lines(tmp_path / "calls.jsonl", lines)

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    rows = {row[0]: row for row in stored(fast, "calls")}
    assert rows["c2499"][9] == "tok-1"
    assert rows["c2499"][14] == "denied"
    assert rows["c-last"][15] == "s1"
    assert_agree(fast, slow, "calls")


def test_required_field_named_by_no_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [{"call_id": f"c{index}", "tool": "t"} for index in range(3)]
    path = write_lines(tmp_path / "calls.jsonl", lines)

    fast, slow = load_both(tmp_path, monkeypatch, path, "calls")

    assert [row[1] for row in quarantined(fast)] == ["ts", "ts", "ts"]
    assert_agree(fast, slow, "calls")


UTC_FORMS = [
    "2026-05-26T13:51:21.292023Z",
    "2024-02-29T23:59:59.999Z",
    "1000-01-01T00:00:00Z",
    "8999-12-31T23:59:59.000001+00:00",
    "2026-05-26T13:51:21.292+00:00",
    "2026-05-26T13:51:21+00:00",
]


def timestamp_variants(text: str) -> list[str]:
    # Each character replaced by every printable ASCII character and a few others
    # (tab, no-break space, full-width and Arabic-Indic digits), and each run of
    # digits led by spaces, signs or zeros.
    others = [chr(code) for code in range(32, 127)] + [
        "\t",
        "\u00a0",
        "\uff12",
        "\u0662",
    ]
    variants = [
        text[:index] + other + text[index + 1 :]
        for index in range(len(text))
        for other in others
    ]
    for run in re.finditer(r"[0-9]+", text):
        for lead in (" ", "+", "-", "0"):
            for width in range(1, len(run.group())):
                start = run.start()
                variants.append(text[:start] + lead * width + text[start + width :])
    return variants


@pytest.mark.parametrize("text", UTC_FORMS)
def test_instant_sql_matches_python(text: str) -> None:
    # Whatever the SQL reads must be what Python's parser reads from the same text.
    from auditkit.models.timestamps import parse_instant

    variants = timestamp_variants(text)
    connection = duckdb.connect()
    query = (
        f"SELECT value, {fastpath._text_instant('value')} "  # noqa: S608
        "FROM unnest($values) AS t(value)"
    )
    read = dict(
        connection.execute(query, {"values": variants, "zone": None}).fetchall()
    )

    assert read[text] == parse_instant(text)
    for variant, instant in read.items():
        if instant is None:
            continue
        try:
            expected = parse_instant(variant)
        except ValueError:
            expected = None
        assert instant == expected, variant
