"""The SQL exports against the Python rules they implement, on hostile strings.

DuckDB builds the CSV and OCSF lines and cleans the strings in SQL. Each test here
builds a findings table from generated values, runs the export, and compares its bytes
with what the Python rules give for the same rows: ``clean_text`` and
``neutralize_csv_cell`` from :mod:`auditkit.safety`, ``csv.writer``, and
:func:`auditkit.report.ocsf.finding_to_ocsf` serialised with ``json.dumps``.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import auditkit
from auditkit.report.exports import (
    ISO_MICROSECONDS,
    finding_batches,
    write_findings_csv,
    write_findings_parquet,
)
from auditkit.report.html import write_report
from auditkit.report.ocsf import finding_to_ocsf, write_ocsf_jsonl
from auditkit.report.period import REPORTED_VERDICTS, Period
from auditkit.safety import REDACTION_MARK, clean_text, neutralize_csv_cell
from tests.report.conftest import FINDINGS_DDL, finding

if TYPE_CHECKING:
    from pathlib import Path

# Fragments that exercise every rule: formula starts, CSV and JSON specials, terminal
# controls, C1 controls, secrets and key names, and letters that case-fold to the
# ASCII letters of the key names (U+0130, U+0131, long s, Kelvin sign).
HOSTILE_PIECES = [
    *"=+-@\t\r\n\",';\\ []{}:/",
    "\x00", "\x07", "\x1b", "\x1b[31m", "\x1b]0;title\x07", "\x7f", "\x85", "\x9b",
    "\u2028", "\ufeff", "é", "😀", "\u0131", "\u0130", "\u017f", "\u212a",
    "token=", "TOKEN: ", "password=", "Authorization: Bearer ", "bearer ",
    "api_key=", "ap\u0131_key=", "secret", "private_key",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2ln", "AKIAIOSFODNN7EXAMPLE",
    "sk-abcdefghijklmnop1234", "abc", "12345678", "null", "None",
]  # fmt: skip

hostile_text = st.one_of(
    st.lists(st.sampled_from(HOSTILE_PIECES), max_size=6).map("".join),
    st.text(max_size=12),
)
optional_text = st.one_of(st.none(), hostile_text)

# actor_chain values: JSON lists in the forms the fast SQL path reads, JSON that only
# Python reads the same way, and text that is not JSON at all.
plain_strings = st.text(
    alphabet=st.characters(exclude_characters='"\\', exclude_categories=("Cc", "Cs")),
    max_size=6,
)
actor_chains = st.one_of(
    st.none(),
    st.just(""),
    st.lists(plain_strings, max_size=3).map(json.dumps),
    st.lists(plain_strings, max_size=3).map(
        lambda items: json.dumps(items, ensure_ascii=False, separators=(" , ", ":"))
    ),
    st.lists(hostile_text, max_size=3).map(json.dumps),
    st.sampled_from(
        [
            "NaN",
            "[1, 2.50, 1e400]",
            '{"b": 1, "a": [true, null]}',
            '["x",]',
            " [ ] ",
            '"str"',
            '["a"]x',
            '\t["a"]\n',
            '["a\\u001b", "\\u00e9"]',
        ]
    ),
    hostile_text,
)

TEXT_COLUMNS = (
    "subject", "actor", "tool", "action", "resource", "risk_tier", "resource_server",
    "audience", "token_id", "session_id", "outcome", "reason", "user_result",
    "user_reason", "agent_result", "agent_reason", "certainty", "user_evidence",
    "agent_evidence", "source_file",
)  # fmt: skip

hostile_rows = st.lists(
    st.fixed_dictionaries(
        {
            **dict.fromkeys(TEXT_COLUMNS, optional_text),
            "verdict": st.sampled_from([*REPORTED_VERDICTS, "within_scope", "other"]),
            "severity": st.sampled_from(["info", "low", "high", "critical", "weird"]),
            "flags": st.one_of(st.none(), hostile_text, st.just(",run_as_user,,x")),
            "actor_chain": actor_chains,
            "delegation_start": st.one_of(
                st.none(), st.just(datetime(2026, 2, 28, 23, 59, 59, 999999))
            ),
            "flag_token_expired": st.booleans(),
        }
    ),
    min_size=1,
    max_size=8,
)

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        # Each example overwrites the same file in tmp_path.
        HealthCheck.function_scoped_fixture,
    ],
)


def _world(
    rows: list[dict[str, Any]],
) -> tuple[duckdb.DuckDBPyConnection, list[dict[str, Any]]]:
    # One findings row per generated dictionary, a millisecond and a half apart.
    start = datetime(2026, 3, 1, 8, 0)
    findings = []
    for index, values in enumerate(rows):
        ts = start + timedelta(microseconds=1_500 * index + 250)
        row = finding(f"c{index + 1}", ts.isoformat(), **values)
        row["flags"] = values["flags"]
        findings.append(row)

    con = duckdb.connect()
    con.execute(FINDINGS_DDL)
    columns = list(findings[0])
    placeholders = ", ".join("?" for _ in columns)
    con.executemany(
        f"INSERT INTO findings ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608
        [[row[column] for column in columns] for row in findings],
    )
    return con, findings


def _findings_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in con.execute("DESCRIBE findings").fetchall()]


def _cleaned(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: clean_text(value) if isinstance(value, str) else value
        for key, value in row.items()
    }


def _reference_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime(ISO_MICROSECONDS)
    if isinstance(value, str):
        return neutralize_csv_cell(clean_text(value))
    return str(value)


def _reference_csv(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_reference_cell(row[column]) for column in columns])
    return buffer.getvalue().encode("utf-8")


def _reference_ocsf(rows: list[dict[str, Any]], product_version: str) -> bytes:
    lines = []
    for row in rows:
        if row["verdict"] not in REPORTED_VERDICTS:
            continue
        event = finding_to_ocsf(_cleaned(row), product_version=product_version)
        text = json.dumps(
            event, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        lines.append(text + "\n")
    return "".join(lines).encode("utf-8")


@given(rows=hostile_rows)
@PROPERTY
def test_csv_matches_csv_writer(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    con, findings = _world(rows)
    path = tmp_path / "findings.csv"

    assert write_findings_csv(con, path) == len(findings)
    assert path.read_bytes() == _reference_csv(_findings_columns(con), findings)


@given(rows=hostile_rows)
@PROPERTY
def test_ocsf_matches_python_mapping(
    rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    con, findings = _world(rows)
    path = tmp_path / "findings.ocsf.jsonl"

    write_ocsf_jsonl(con, path, product_version='0.1.0-"dev"')
    assert path.read_bytes() == _reference_ocsf(findings, '0.1.0-"dev"')


@given(rows=hostile_rows)
@PROPERTY
def test_batches_hold_clean_text(rows: list[dict[str, Any]]) -> None:
    con, findings = _world(rows)
    batches = list(finding_batches(con, Period()))
    exported = [row for batch in batches for row in batch.to_pylist()]

    assert exported == [_cleaned(row) for row in findings]


@given(texts=st.lists(hostile_text, min_size=1, max_size=30))
@PROPERTY
def test_every_text_column_cleaned_like_clean_text(texts: list[str]) -> None:
    # The same values in one column, then spread over all text columns of one row,
    # so that both the per-row and the per-column trigger tests see them.
    one_column = [_defaults() | {"tool": text} for text in texts]
    spread = _defaults() | dict(zip(TEXT_COLUMNS, texts, strict=False))
    con, findings = _world([*one_column, spread])
    batches = finding_batches(con, Period())
    exported = [row for batch in batches for row in batch.to_pylist()]

    for got, row in zip(exported, findings, strict=True):
        for column in TEXT_COLUMNS:
            expected = None if row[column] is None else clean_text(row[column])
            assert got[column] == expected, column


def _defaults() -> dict[str, Any]:
    # A violation with every text column left at its default of the March world.
    return {
        "verdict": "user_over_scope",
        "severity": "high",
        "flags": "",
        "actor_chain": None,
        "delegation_start": None,
        "flag_token_expired": False,
    }


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (datetime(1970, 1, 1, 0, 0, 0, 900), 0),
        (datetime(1969, 12, 31, 23, 59, 59, 999_500), -1),
        (datetime(1969, 12, 31, 23, 59, 59, 998_000), -2),
        (datetime(1969, 12, 31, 23, 59, 59, 997_999), -3),
        (datetime(2026, 3, 1, 11, 0, 0, 999_999), 1_772_362_800_999),
    ],
)
def test_ocsf_time_floors_to_milliseconds(
    ts: datetime, expected: int, tmp_path: Path
) -> None:
    con, _ = _world([_defaults()])
    con.execute("UPDATE findings SET ts = ?", [ts])
    path = tmp_path / "findings.ocsf.jsonl"
    write_ocsf_jsonl(con, path, product_version="0.1.0")

    assert json.loads(path.read_text(encoding="utf-8"))["time"] == expected


def test_dotless_i_key_is_redacted(tmp_path: Path) -> None:
    # Python's case-insensitive match reads a dotless i (U+0131) as "i"; RE2 does
    # not.
    con, _ = _world([{**_defaults(), "resource": "x?ap\u0131_key=abcdefgh"}])
    path = tmp_path / "findings.csv"
    write_findings_csv(con, path)
    text = path.read_text(encoding="utf-8")

    assert "abcdefgh" not in text
    assert "ap\u0131_key=abcd" + REDACTION_MARK in text


def _ordered_world(tmp_path: Path, rows: int) -> duckdb.DuckDBPyConnection:
    # Many rows in random order with repeated times and call ids, so that the sort
    # needs all three keys, on four threads.
    con = duckdb.connect(str(tmp_path / "ordered.duckdb"))
    con.execute(FINDINGS_DDL)
    con.execute(
        """
        INSERT INTO findings (finding_id, call_id, ts, verdict, severity, resource)
        SELECT md5(i::VARCHAR)[:16], 'c' || (hash(i) % 500)::VARCHAR,
               TIMESTAMP '2026-03-01' + INTERVAL (hash(i * 7) % 2000) SECOND,
               'user_over_scope', 'high', 'r,' || i::VARCHAR
        FROM range(?) AS t(i)
        ORDER BY hash(i * 13)
        """,
        [rows],
    )
    con.execute("SET threads = 4")
    return con


def test_exports_keep_sort_order(tmp_path: Path) -> None:
    con = _ordered_world(tmp_path, 120_000)
    expected = con.execute(
        "SELECT finding_id FROM findings ORDER BY ts, call_id, finding_id"
    ).fetchall()
    path = tmp_path / "findings.csv"
    write_findings_csv(con, path)
    with path.open(encoding="utf-8", newline="") as handle:
        written = [row["finding_id"] for row in csv.DictReader(handle)]
    ocsf_path = tmp_path / "findings.ocsf.jsonl"
    write_ocsf_jsonl(con, ocsf_path, product_version="0.1.0")
    with ocsf_path.open(encoding="utf-8") as handle:
        events = [json.loads(line)["metadata"]["uid"] for line in handle]

    assert written == [row[0] for row in expected]
    assert events == [row[0] for row in expected]


def test_report_exports_match_single_exports(tmp_path: Path) -> None:
    # write_report cleans and sorts once into a temporary table; the single exports
    # query the findings table each time. Both must give the same bytes.
    con = _ordered_world(tmp_path, 30_000)
    report = write_report(con, tmp_path / "report")
    write_findings_csv(con, tmp_path / "findings.csv")
    write_findings_parquet(con, tmp_path / "findings.parquet")
    write_ocsf_jsonl(
        con, tmp_path / "findings.ocsf.jsonl", product_version=auditkit.__version__
    )

    for name in ("findings.csv", "findings.parquet", "findings.ocsf.jsonl"):
        assert (report.out_dir / name).read_bytes() == (tmp_path / name).read_bytes()


def test_exports_leave_connection_as_found(tmp_path: Path) -> None:
    con = _ordered_world(tmp_path, 100)
    con.execute("SET preserve_insertion_order = false")
    write_report(con, tmp_path / "report")
    write_findings_csv(con, tmp_path / "findings.csv")

    functions = con.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name LIKE 'auditkit%'"
    ).fetchall()
    tables = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'auditkit%'"
    ).fetchall()
    setting = con.execute(
        "SELECT current_setting('preserve_insertion_order')"
    ).fetchall()
    assert functions[0][0] == 0
    assert tables[0][0] == 0
    assert setting[0][0] is False


def test_batches_stopped_early_free_connection(tmp_path: Path) -> None:
    con = _ordered_world(tmp_path, 200_000)
    batches = finding_batches(con, Period())
    next(batches)
    batches.close()

    rows = con.execute("SELECT count(*) FROM findings").fetchall()
    functions = con.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name LIKE 'auditkit%'"
    ).fetchall()
    assert rows[0][0] == 200_000
    assert functions[0][0] == 0


def test_ocsf_reads_table_without_optional_columns(tmp_path: Path) -> None:
    # finding_to_ocsf reads a missing column as None; so does the SQL.
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE findings AS SELECT 'f1' AS finding_id, 'c1' AS call_id, "
        "TIMESTAMP '2026-03-01 10:00' AS ts, 'user_over_scope' AS verdict, "
        "'high' AS severity"
    )
    path = tmp_path / "findings.ocsf.jsonl"
    write_ocsf_jsonl(con, path, product_version="0.1.0")
    row = {
        "finding_id": "f1",
        "call_id": "c1",
        "ts": datetime(2026, 3, 1, 10, 0),
        "verdict": "user_over_scope",
        "severity": "high",
    }

    assert path.read_bytes() == _reference_ocsf([row], "0.1.0")
