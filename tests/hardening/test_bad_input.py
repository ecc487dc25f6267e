"""Every loader on bad input: each case is loaded, quarantined or rejected, as listed.

The corpus files are in ``corpus/``; Parquet cases and the 50 MB document are built
in the test's folder. A loaded case states its accepted rows and every quarantined
line, so a good row that went missing fails the test. A rejected case checks that the
message names the file, line and field and gives a hint, and that the workspace is
left unchanged. After every load the workspace passes the integrity check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditkit.errors import InputError
from auditkit.workspace import ErrorPolicy, Workspace
from auditkit.workspace.integrity import check_integrity

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

NEW_YORK = {"default_timezone": "America/New_York"}


@dataclass(frozen=True)
class Loaded:
    """A file that loads: its accepted rows, and (line, field, reason) per bad one."""

    file: str
    accepted: int
    quarantined: tuple[tuple[int, str | None, str], ...] = ()
    duplicate: int = 0
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejected:
    """A file whose load raises InputError at ``line`` and ``field``."""

    file: str
    reason: str
    line: int | None
    field_name: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    errors: ErrorPolicy = "quarantine"


LOADED = [
    # JSONL
    Loaded("calls-truncated-last-line.jsonl", 2, ((3, None, "invalid JSON"),)),
    Loaded("calls-malformed-line.jsonl", 2, ((2, None, "invalid JSON"),)),
    Loaded("calls-invalid-utf8.jsonl", 2, ((2, None, "invalid UTF-8: byte 0xff"),)),
    Loaded("calls-deep-nesting.jsonl", 2, ((2, None, "nested deeper than"),)),
    Loaded(
        "calls-wrong-types.jsonl",
        2,
        (
            (2, "call_id", "valid string (got int 12345)"),
            (3, "ts", "expected an ISO 8601 timestamp string, got int"),
            (4, "arguments", "should be an object"),
            (5, "outcome", "'allowed', 'denied' or 'error'"),
            (6, "actor_chain", "valid array"),
        ),
    ),
    Loaded(
        "calls-missing-field.jsonl",
        1,
        ((2, "tool", "Field required"), (3, "tool", "at least 1 character")),
    ),
    Loaded("calls-extra-fields.jsonl", 2),
    Loaded("calls-empty.jsonl", 0),
    Loaded("calls-blank-lines.jsonl", 2),
    Loaded("calls-crlf.jsonl", 2),
    Loaded("calls-bom.jsonl", 2),
    Loaded("calls-duplicates.jsonl", 2, duplicate=2),
    Loaded("calls-out-of-order.jsonl", 3),
    Loaded("calls-timestamp-forms.jsonl", 5),
    Loaded(
        "calls-naive-timestamps.jsonl",
        0,
        ((1, "ts", "has no time zone"), (2, "ts", "has no time zone")),
    ),
    Loaded("calls-naive-timestamps.jsonl", 2, settings=NEW_YORK),
    Loaded(
        "calls-dst-fold.jsonl",
        2,
        ((2, "ts", "ambiguous or skipped in zone America/New_York"),),
        settings=NEW_YORK,
    ),
    Loaded(
        "calls-dst-gap.jsonl",
        1,
        ((1, "ts", "ambiguous or skipped in zone America/New_York"),),
        settings=NEW_YORK,
    ),
    Loaded(
        "calls-numeric-looking-ids.jsonl", 3, ((4, "call_id", "valid string (got int"),)
    ),
    Loaded(
        "calls-not-objects.jsonl",
        2,
        (
            (2, None, "expected a JSON object, got an array"),
            (3, None, "expected a JSON object, got a string"),
            (4, None, "expected a JSON object, got null"),
            (5, None, "NaN is not valid JSON"),
        ),
    ),
    Loaded(
        "catalog-unknown-enum.jsonl",
        1,
        ((2, "risk_tier", "'read', 'write', 'delete'"),),
    ),
    Loaded("coverage-inverted.jsonl", 1),
    # JSON documents: the line is the position in the array.
    Loaded("calls-array.json", 3),
    Loaded("calls-single-object.json", 1),
    Loaded(
        "calls-array-mixed.json",
        2,
        (
            (2, None, "expected a JSON object, got a number"),
            (3, "call_id", "valid string (got int 7)"),
        ),
    ),
    Loaded("calls-truncated-array.json", 0, ((27, None, "invalid JSON"),)),
    Loaded("calls-invalid-utf8.json", 0, ((1, None, "invalid UTF-8: byte 0xc3"),)),
    Loaded("calls-deep-nesting.json", 0, ((1, None, "nested deeper than"),)),
    Loaded("calls-empty.json", 0, ((1, None, "invalid JSON: Expecting value"),)),
    # CSV: the line is the first line of the row.
    Loaded("calls-header-only.csv", 0),
    Loaded("calls-empty.csv", 0),
    Loaded("calls-extra-cells.csv", 2, ((3, None, "row has 8 cells"),)),
    Loaded("calls-short-row.csv", 1, ((3, "tool", "Field required"),)),
    Loaded("calls-multiline-cell.csv", 2, ((6, "ts", "invalid timestamp"),)),
    Loaded("calls-invalid-utf8.csv", 2, ((3, None, "invalid UTF-8 in a cell"),)),
    Loaded(
        "calls-truncated-quote.csv", 1, ((3, "arguments", "invalid JSON object text"),)
    ),
    Loaded(
        "grants-wrong-types.csv",
        2,
        (
            (3, "seq", "valid integer"),
            (4, "principal_type", "'user', 'group', 'role' or 'agent'"),
            (5, "effect", "'allow', 'deny' or 'boundary'"),
            (6, "valid_from", "invalid timestamp 'yesterday'"),
        ),
    ),
    Loaded("grants-missing-column.csv", 0, ((2, "resource", "Field required"),)),
    Loaded("grants-duplicates.csv", 2, duplicate=1),
    Loaded("memberships-numeric-ids.csv", 2),
    Loaded("events-timestamps.csv", 2, ((4, "ts", "has no time zone"),)),
    Loaded("events-timestamps.csv", 3, settings=NEW_YORK),
    # Adapters, detected from the first record.
    Loaded(
        "traces-otel-bad-records.jsonl",
        2,
        (
            (2, None, "invalid JSON"),
            (3, "gen_ai.tool.call.arguments", "invalid JSON text"),
            (4, None, "not an OpenTelemetry span"),
        ),
    ),
    Loaded(
        "gateway-mcp-bad-records.jsonl",
        1,
        (
            (2, None, "invalid JSON"),
            (3, "message.id", "response id '99' has no request"),
            (4, "message.params.name", "missing tool name"),
            (5, "timestamp", "expected an ISO 8601 timestamp string, got int 12"),
        ),
    ),
    Loaded(
        "cloudtrail-bad-records.jsonl",
        3,
        (
            (2, "Records[0].eventTime", "missing timestamp"),
            (3, None, "not a CloudTrail event"),
            (4, "Records[1].eventTime", "month must be in 1..12"),
        ),
    ),
    Loaded(
        "audit-gcp-bad-records.jsonl",
        3,
        (
            (3, "protoPayload.methodName", "missing methodName"),
            (4, "timestamp", "missing timestamp"),
            (5, "protoPayload", "not a Cloud Audit Logs entry"),
        ),
    ),
]

REJECTED = [
    Rejected("calls-truncated-gzip.jsonl", "cannot read the file", None),
    Rejected("calls-invalid-utf8-header.csv", "invalid UTF-8 in the CSV header", 1),
    Rejected("calls-malformed-line.jsonl", "invalid JSON", 2, errors="raise"),
    Rejected("calls-wrong-types.jsonl", "valid string", 2, "call_id", errors="raise"),
    Rejected(
        "calls-dst-fold.jsonl",
        "ambiguous or skipped",
        2,
        "ts",
        settings=NEW_YORK,
        errors="raise",
    ),
    Rejected(
        "calls-wrong-types.jsonl", "5 invalid records", 2, "call_id", errors="collect"
    ),
]


def _case_id(case: Loaded | Rejected) -> str:
    parts = [case.file]
    if case.settings:
        parts.append("new-york")
    errors = getattr(case, "errors", "quarantine")
    if errors != "quarantine":
        parts.append(errors)
    return "-".join(parts)


def _quarantine(workspace: Workspace) -> list[tuple[Any, ...]]:
    query = "SELECT source_line, field, reason FROM quarantine ORDER BY source_line"
    return workspace.sql(query).fetchall()


def _assert_consistent(workspace: Workspace) -> None:
    report = check_integrity(workspace.connection)
    assert report.ok, report.to_text()


@pytest.mark.parametrize("case", LOADED, ids=_case_id)
def test_bad_input_loaded(case: Loaded, corpus: Path, tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "audit.duckdb", **case.settings) as workspace:
        result = workspace.load(corpus / case.file)
        stored = _quarantine(workspace)

        assert result.rows_accepted == case.accepted
        assert result.rows_duplicate == case.duplicate
        assert result.rows_quarantined == len(case.quarantined)
        assert [(line, name) for line, name, _ in stored] == [
            (line, name) for line, name, _ in case.quarantined
        ]
        for (_, _, reason), (_, _, expected) in zip(
            stored, case.quarantined, strict=True
        ):
            assert expected in reason
        _assert_consistent(workspace)


@pytest.mark.parametrize("case", REJECTED, ids=_case_id)
def test_bad_input_rejected(case: Rejected, corpus: Path, tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "audit.duckdb", **case.settings) as workspace:
        with pytest.raises(InputError, match=case.reason) as raised:
            workspace.load(corpus / case.file, errors=case.errors)
        counts = workspace.row_counts()

    error = raised.value
    assert case.file in str(error)
    assert error.line == case.line
    assert error.field == case.field_name
    assert error.hint
    assert error.hint in str(error)
    assert set(counts.values()) == {0}


# Parquet cases, built from Arrow tables.

UTC_TS = pa.timestamp("us", "UTC")
MARCH_2 = 1_772_442_000_000_000  # 2026-03-02T09:00:00Z in microseconds


def _calls_table(**columns: Any) -> pa.Table:
    count = len(next(iter(columns.values()))) if columns else 2
    base: dict[str, Any] = {
        "call_id": [f"c{index}" for index in range(1, count + 1)],
        "ts": pa.array([MARCH_2] * count, UTC_TS),
        "tool": ["crm.read_ticket"] * count,
    }
    return pa.table(base | columns)


def _write_parquet(table: pa.Table) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / "calls.parquet"
        pq.write_table(table, path)
        return path

    return build


def _cut_parquet(keep: Callable[[int], int]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        whole = folder / "whole.parquet"
        pq.write_table(_calls_table(), whole)
        data = whole.read_bytes()
        path = folder / "calls.parquet"
        path.write_bytes(data[: keep(len(data))])
        return path

    return build


def _text_as_parquet(folder: Path) -> Path:
    path = folder / "calls.parquet"
    path.write_text('{"call_id": "c1"}\n')
    return path


PARQUET_LOADED = [
    ("good", _write_parquet(_calls_table()), 2, ()),
    (
        "empty",
        _write_parquet(_calls_table().slice(0, 0)),
        0,
        (),
    ),
    (
        "integer-ids",
        _write_parquet(_calls_table(call_id=[7, 8])),
        0,
        ((1, "call_id"), (2, "call_id")),
    ),
    (
        "missing-id",
        _write_parquet(_calls_table(call_id=["c1", None])),
        1,
        ((2, "call_id"),),
    ),
    (
        "nanoseconds",
        _write_parquet(
            _calls_table(
                ts=pa.array([MARCH_2 * 1000 + 789] * 2, pa.timestamp("ns", "UTC"))
            )
        ),
        2,
        (),
    ),
    (
        "struct-arguments-and-extra-column",
        _write_parquet(
            _calls_table(arguments=[{"ticket": "T-1"}, {"ticket": "T-2"}], extra=[1, 2])
        ),
        2,
        (),
    ),
    (
        "duplicate-ids",
        _write_parquet(_calls_table(call_id=["c1", "c1"])),
        1,
        (),
    ),
]

PARQUET_REJECTED = [
    ("cut-in-half", _cut_parquet(lambda size: size // 2), "cannot read the Parquet"),
    ("cut-footer", _cut_parquet(lambda size: size - 10), "cannot read the Parquet"),
    ("magic-only", _cut_parquet(lambda size: 4), "cannot read the Parquet"),
    ("text-named-parquet", _text_as_parquet, "not a Parquet file"),
]


@pytest.mark.parametrize(
    ("name", "build", "expected"),
    [
        (name, build, (accepted, quarantined))
        for name, build, accepted, quarantined in PARQUET_LOADED
    ],
    ids=[case[0] for case in PARQUET_LOADED],
)
def test_bad_parquet_loaded(
    name: str,
    build: Callable[[Path], Path],
    expected: tuple[int, tuple[tuple[int, str], ...]],
    workspace: Workspace,
    tmp_path: Path,
) -> None:
    result = workspace.load(build(tmp_path))
    stored = [(line, field) for line, field, _ in _quarantine(workspace)]

    assert result.rows_accepted == expected[0]
    assert stored == list(expected[1])
    _assert_consistent(workspace)


def test_parquet_naive_time_zone(tmp_path: Path) -> None:
    naive = _calls_table(ts=pa.array([MARCH_2] * 2, pa.timestamp("us")))
    path = _write_parquet(naive)(tmp_path)

    with Workspace.open(tmp_path / "audit.duckdb", **NEW_YORK) as workspace:
        workspace.load(path)
        stored = workspace.sql("SELECT DISTINCT ts FROM calls").fetchall()

    assert stored == [(datetime(2026, 3, 2, 14, 0),)]


@pytest.mark.parametrize(
    ("name", "build", "reason"),
    PARQUET_REJECTED,
    ids=[case[0] for case in PARQUET_REJECTED],
)
def test_bad_parquet_rejected(
    name: str,
    build: Callable[[Path], Path],
    reason: str,
    workspace: Workspace,
    tmp_path: Path,
) -> None:
    with pytest.raises(InputError, match=reason) as raised:
        workspace.load(build(tmp_path))

    assert "calls.parquet" in str(raised.value)
    assert raised.value.hint
    assert set(workspace.row_counts().values()) == {0}


# Values that must survive exactly.


def test_timestamps_stored_in_utc(corpus: Path, workspace: Workspace) -> None:
    workspace.load(corpus / "calls-timestamp-forms.jsonl")
    stored = dict(workspace.sql("SELECT call_id, ts FROM calls").fetchall())
    nine = datetime(2026, 3, 2, 9, 0)

    assert stored["utc-z"] == nine
    assert stored["offset-plus"] == nine
    assert stored["offset-minus"] == nine
    assert stored["space-separator"] == nine
    assert stored["nanoseconds"] == datetime(2026, 3, 2, 9, 0, 0, 123456)


def test_fold_neighbours_in_new_york(corpus: Path, tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "audit.duckdb", **NEW_YORK) as workspace:
        workspace.load(corpus / "calls-dst-fold.jsonl")
        stored = dict(workspace.sql("SELECT call_id, ts FROM calls").fetchall())

    assert stored == {
        "before": datetime(2026, 11, 1, 4, 30),
        "after": datetime(2026, 11, 1, 8, 30),
    }


def test_numeric_looking_ids_kept(corpus: Path, workspace: Workspace) -> None:
    workspace.load(corpus / "calls-numeric-looking-ids.jsonl")
    workspace.load(corpus / "memberships-numeric-ids.csv")
    call_ids = {row[0] for row in workspace.sql("SELECT call_id FROM calls").fetchall()}
    members = workspace.sql(
        "SELECT member_id, parent_id FROM memberships ORDER BY membership_id"
    ).fetchall()

    assert call_ids == {"012345678901", "1e3", "00"}
    assert members == [("0042", "7"), ("1.50", "1e3")]


def test_first_duplicate_kept(corpus: Path, workspace: Workspace) -> None:
    workspace.load(corpus / "calls-duplicates.jsonl")
    tool = workspace.sql("SELECT tool FROM calls WHERE call_id = 'c1'").fetchall()

    assert tool == [("first",)]


def test_fifty_megabyte_single_line(workspace: Workspace, tmp_path: Path) -> None:
    blob = "x" * (50 * 1024 * 1024)
    records = [
        {
            "call_id": "big",
            "ts": "2026-03-02T09:00:00Z",
            "tool": "t",
            "arguments": {"blob": blob},
        },
        {"call_id": "small", "ts": "2026-03-02T09:00:00Z", "tool": "t"},
    ]
    path = tmp_path / "calls.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    del blob, records

    result = workspace.load(path)
    sizes = workspace.sql(
        "SELECT call_id, length(arguments) FROM calls ORDER BY call_id"
    ).fetchall()

    assert path.stat().st_size > 50 * 1024 * 1024
    assert result.rows_accepted == 2
    assert sizes[0][1] > 50 * 1024 * 1024
    assert sizes[1] == ("small", None)


def test_mcp_response_paired_on_load(workspace: Workspace, tmp_path: Path) -> None:
    message = {"jsonrpc": "2.0", "id": 1}
    request = {
        "timestamp": "2026-03-01T08:00:00Z",
        "session_id": "s1",
        "direction": "request",
        "principal": "alice",
        "message": message
        | {"method": "tools/call", "params": {"name": "read_ticket", "arguments": {}}},
    }
    response = {
        "timestamp": "2026-03-01T08:00:01Z",
        "session_id": "s1",
        "direction": "response",
        "message": message | {"result": {"content": [], "isError": False}},
    }
    path = tmp_path / "gateway.jsonl"
    path.write_text(json.dumps(request) + "\n" + json.dumps(response) + "\n")

    result = workspace.load(path)

    assert result.rows_quarantined == 0
