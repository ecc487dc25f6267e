"""A hand-written findings world with counts known in advance.

The tables follow docs/findings.md and the load log of the workspace schema, so the
report can be tested before and apart from the evaluation engine.

Findings (all in March 2026, UTC):

| call | day | user | agent | verdict | severity | server |
| --- | --- | --- | --- | --- | --- | --- |
| c1 | 03-01 | ann | agent-mail | within_scope | info | mail |
| c2 | 03-01 | ann | agent-mail | within_scope | info | mail |
| c3 | 03-01 | bob | agent-crm | user_over_scope | high | crm |
| c4 | 03-02 | bob | agent-crm | stale_authority | critical | crm |
| c5 | 03-02 | carol | agent-crm | agent_over_scope | medium | crm |
| c6 | 03-03 | dave | (none) | indeterminate | low | (none) |
| c7 | 03-03 | bob | agent-crm | stale_authority | high | crm |
| c8 | 03-04 | ann | agent-mail | within_scope | low | mail |

c6 carries HTML payloads in its tool, resource and action; c7 a formula in its
resource and a JWT as its token id.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

SCRIPT_PAYLOAD = "<script>alert(1)</script>"
IMG_PAYLOAD = "<img src=x onerror=alert(1)>"
FORMULA_PAYLOAD = '=HYPERLINK("http://attacker.example/x","click")'
JWT_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJlX3ZhbHVl"

FLAGS = ("run_as_user", "token_expired", "audience_mismatch", "token_forwarded")
FLAGS = (*FLAGS, "enforcement_gap")

FINDINGS_DDL = f"""
CREATE TABLE findings (
    finding_id VARCHAR, call_id VARCHAR, ts TIMESTAMP, subject VARCHAR,
    actor VARCHAR, actor_chain VARCHAR, tool VARCHAR, action VARCHAR,
    resource VARCHAR, risk_tier VARCHAR, resource_server VARCHAR, audience VARCHAR,
    token_id VARCHAR, session_id VARCHAR, outcome VARCHAR,
    delegation_start TIMESTAMP, verdict VARCHAR, reason VARCHAR,
    user_result VARCHAR, user_reason VARCHAR, agent_result VARCHAR,
    agent_reason VARCHAR, certainty VARCHAR, severity VARCHAR, flags VARCHAR,
    {", ".join(f"flag_{flag} BOOLEAN" for flag in FLAGS)},
    user_evidence VARCHAR, agent_evidence VARCHAR, source_file VARCHAR,
    source_line BIGINT
)
"""

STALE_WINDOWS_DDL = """
CREATE TABLE stale_windows (
    window_id VARCHAR, subject VARCHAR, actor VARCHAR, revoked_at TIMESTAMP,
    revocation_source VARCHAR, revocation_kind VARCHAR, first_call_id VARCHAR,
    last_call_id VARCHAR, first_call_at TIMESTAMP, last_call_at TIMESTAMP,
    calls BIGINT, resources VARCHAR, duration_seconds DOUBLE
)
"""

LOAD_LOG_DDL = """
CREATE TABLE load_log (
    load_id VARCHAR PRIMARY KEY, source_file VARCHAR NOT NULL, sha256 VARCHAR NOT NULL,
    kind VARCHAR NOT NULL, rows_accepted BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL, rows_duplicate BIGINT NOT NULL,
    loaded_at TIMESTAMP NOT NULL
)
"""


def finding(call_id: str, ts: str, **fields: Any) -> dict[str, Any]:
    """Return one findings row with defaults for every column not given."""
    flags = [flag for flag in FLAGS if fields.pop(f"flag_{flag}", False)]
    row: dict[str, Any] = {
        "finding_id": hashlib.sha256(f"call:{call_id}".encode()).hexdigest()[:16],
        "call_id": call_id,
        "ts": datetime.fromisoformat(ts),
        "subject": "ann",
        "actor": "agent-mail",
        "actor_chain": None,
        "tool": "mail.send",
        "action": "mail:Send",
        "resource": "mailbox:ann",
        "risk_tier": "write",
        "resource_server": "mail",
        "audience": None,
        "token_id": None,
        "session_id": "s-1",
        "outcome": "allowed",
        "delegation_start": None,
        "verdict": "within_scope",
        "reason": "permission_held",
        "user_result": "held",
        "user_reason": "permission_held",
        "agent_result": "held",
        "agent_reason": "permission_held",
        "certainty": "exact",
        "severity": "info",
        "user_evidence": "g-ann-mail",
        "agent_evidence": "g-agent-mail",
        "source_file": "logs/calls.jsonl",
        "source_line": int(call_id[1:]),
    }
    row.update(fields)
    row["flags"] = ",".join(flags)
    for flag in FLAGS:
        row[f"flag_{flag}"] = flag in flags
    return row


def march_findings() -> list[dict[str, Any]]:
    """Return the eight findings listed in the module docstring."""
    crm = {
        "subject": "bob",
        "actor": "agent-crm",
        "tool": "crm.export",
        "action": "crm:Export",
        "resource": "crm:accounts",
        "resource_server": "crm",
        "risk_tier": "export",
        "actor_chain": '["agent-crm"]',
    }
    return [
        finding("c1", "2026-03-01T09:00:00"),
        finding("c2", "2026-03-01T10:00:00"),
        finding(
            "c3",
            "2026-03-01T11:00:00",
            **crm,
            verdict="user_over_scope",
            reason="no_matching_grant",
            user_result="not_held",
            severity="high",
            flag_enforcement_gap=True,
        ),
        finding(
            "c4",
            "2026-03-02T08:00:00",
            **{**crm, "tool": "crm.delete", "resource": "crm:accounts/1"},
            verdict="stale_authority",
            reason="principal_inactive",
            user_result="stale",
            severity="critical",
            delegation_start=datetime(2026, 3, 1, 23, 0),
            flag_enforcement_gap=True,
        ),
        finding(
            "c5",
            "2026-03-02T09:00:00",
            **{**crm, "subject": "carol", "tool": "crm.read", "risk_tier": "read"},
            verdict="agent_over_scope",
            reason="no_matching_grant",
            agent_result="not_held",
            severity="medium",
        ),
        finding(
            "c6",
            "2026-03-03T12:00:00",
            subject="dave",
            actor=None,
            tool=SCRIPT_PAYLOAD,
            action=SCRIPT_PAYLOAD,
            resource=IMG_PAYLOAD,
            resource_server="",
            risk_tier="",
            verdict="indeterminate",
            reason="unmapped_tool",
            user_result="undecided",
            agent_result="run_as_user",
            certainty="indeterminate",
            severity="low",
            flag_run_as_user=True,
        ),
        finding(
            "c7",
            "2026-03-03T13:00:00",
            **{**crm, "resource": FORMULA_PAYLOAD},
            token_id=JWT_TOKEN,
            verdict="stale_authority",
            reason="principal_inactive",
            user_result="stale",
            severity="high",
            flag_enforcement_gap=True,
            flag_token_forwarded=True,
        ),
        finding(
            "c8",
            "2026-03-04T07:00:00",
            severity="low",
            flag_token_expired=True,
        ),
    ]


def stale_windows_rows() -> list[tuple[Any, ...]]:
    """Return two windows: bob's in March (37 hours) and erin's in February."""
    return [
        (
            "w-bob",
            "bob",
            "agent-crm",
            datetime(2026, 3, 2, 0, 0),
            "ev-bob-off",
            "event",
            "c4",
            "c7",
            datetime(2026, 3, 2, 8, 0),
            datetime(2026, 3, 3, 13, 0),
            2,
            "crm:accounts,crm:accounts/1",
            37 * 3600.0,
        ),
        (
            "w-erin",
            "erin",
            "agent-x",
            datetime(2026, 2, 1, 0, 0),
            "g-erin",
            "grant",
            "c90",
            "c90",
            datetime(2026, 2, 2, 0, 0),
            datetime(2026, 2, 2, 0, 0),
            1,
            "x:1",
            86400.0,
        ),
    ]


def create_world(path: Path) -> None:
    """Write the findings, windows and load log tables into a DuckDB file."""
    con = duckdb.connect(str(path))
    try:
        con.execute(FINDINGS_DDL)
        con.execute(STALE_WINDOWS_DDL)
        con.execute(LOAD_LOG_DDL)
        rows = march_findings()
        columns = list(rows[0])
        placeholders = ", ".join("?" for _ in columns)
        con.executemany(
            f"INSERT INTO findings ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608
            [[row[column] for column in columns] for row in rows],
        )
        con.executemany(
            "INSERT INTO stale_windows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            stale_windows_rows(),
        )
        con.executemany(
            "INSERT INTO load_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    "l1",
                    "logs/calls.jsonl",
                    "a" * 64,
                    "calls",
                    8,
                    1,
                    0,
                    datetime(2026, 4, 1),
                ),
                (
                    "l2",
                    "iam/grants.csv",
                    "b" * 64,
                    "grants",
                    12,
                    0,
                    2,
                    datetime(2026, 4, 1),
                ),
            ],
        )
    finally:
        con.close()


@pytest.fixture(scope="session")
def march_world_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file holding the March world, shared by read-only tests."""
    path = tmp_path_factory.mktemp("march") / "march.duckdb"
    create_world(path)
    return path


@pytest.fixture(scope="session")
def march_reports(
    march_world_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """Two report folders written from the March world, one after the other."""
    from auditkit.report.html import write_report

    folder = tmp_path_factory.mktemp("reports")
    con = duckdb.connect(str(march_world_file), read_only=True)
    try:
        first = write_report(con, folder / "first", title="March <b>review</b>")
        second = write_report(con, folder / "second", title="March <b>review</b>")
    finally:
        con.close()
    return first.out_dir, second.out_dir


@pytest.fixture
def march_world(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a DuckDB file holding the March findings world."""
    path = tmp_path / "march.duckdb"
    create_world(path)
    con = duckdb.connect(str(path))
    yield con
    con.close()


@pytest.fixture
def empty_world(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a DuckDB file with an empty findings table and no windows."""
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    con.execute(FINDINGS_DDL)
    yield con
    con.close()
