"""A small organisation with one incident of each kind, spread over two weeks.

Week one is ``[2026-03-01, 2026-03-08)``, week two ``[2026-03-08, 2026-03-15)``.

- ``bob`` exports through ``bot`` in both weeks without holding ``doc:Export``: a
  ``user_over_scope`` incident that persists.
- ``ghost-bot``, which has no grant, reads for ``ann`` in week one only: an
  ``agent_over_scope`` incident that is resolved in week two.
- ``ann`` loses ``doc:Read`` at 2026-03-10 00:00, and ``bot`` keeps reading with a
  token issued before that: a ``stale_authority`` incident new in week two.
- ``bob`` exports a resource whose name carries markup in week two: a second new
  incident whose text must come out escaped.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from auditkit.evaluate import evaluate
from auditkit.workspace.schema import all_ddl

if TYPE_CHECKING:
    import duckdb

WEEK_ONE = ("2026-03-01T00:00:00Z", "2026-03-08T00:00:00Z")
WEEK_TWO = ("2026-03-08T00:00:00Z", "2026-03-15T00:00:00Z")
MARKUP_RESOURCE = "doc/<script>alert(1)</script>"

CATALOG = [
    {
        "tool": "read_doc",
        "action": "doc:Read",
        "resource_template": "doc/{id}",
        "risk_tier": "read",
    },
    {
        "tool": "export_doc",
        "action": "doc:Export",
        "resource_template": "doc/{id}",
        "risk_tier": "export",
    },
]

GRANTS = [
    _grant := {
        "grant_id": "g-ann-read",
        "principal_type": "user",
        "principal_id": "ann",
        "effect": "allow",
        "action": "doc:Read",
        "resource": "doc/*",
        "valid_from": datetime(2026, 3, 1),
        "valid_to": datetime(2026, 3, 10),
    },
    {
        **_grant,
        "grant_id": "g-bob-read",
        "principal_id": "bob",
        "valid_to": None,
    },
    {
        **_grant,
        "grant_id": "g-bot-all",
        "principal_type": "agent",
        "principal_id": "bot",
        "action": "doc:*",
        "valid_to": None,
    },
]

COVERAGE = [{"coverage_id": "cov-1", "valid_from": datetime(2026, 3, 1)}]


def call(
    call_id: str, ts: datetime, tool: str, subject: str, actor: str, **fields: Any
) -> dict[str, Any]:
    """Return one call record with its arguments as JSON text."""
    return {
        "call_id": call_id,
        "ts": ts,
        "tool": tool,
        "subject": subject,
        "actor": actor,
        "arguments": '{"id": "1"}',
        "outcome": "allowed",
        **fields,
    }


WEEK_ONE_CALLS = [
    call("c-01", datetime(2026, 3, 2, 9), "read_doc", "ann", "bot"),
    call("c-02", datetime(2026, 3, 3, 9), "export_doc", "bob", "bot"),
    call("c-03", datetime(2026, 3, 4, 9), "read_doc", "ann", "ghost-bot"),
]
WEEK_TWO_CALLS = [
    call("c-11", datetime(2026, 3, 9, 9), "read_doc", "ann", "bot"),
    call("c-12", datetime(2026, 3, 9, 10), "export_doc", "bob", "bot"),
    call(
        "c-13",
        datetime(2026, 3, 11, 9),
        "read_doc",
        "ann",
        "bot",
        token_id="tok-ann-1",
        token_issued_at=datetime(2026, 3, 9, 8),
    ),
    call(
        "c-14",
        datetime(2026, 3, 11, 10),
        "export_doc",
        "bob",
        "bot",
        action="doc:Export",
        resource=MARKUP_RESOURCE,
    ),
]
EXTRA_DAY_CALLS = [
    call("c-21", datetime(2026, 3, 12, 9), "read_doc", "bob", "bot"),
    call("c-22", datetime(2026, 3, 12, 10), "export_doc", "bob", "bot"),
]


def insert(
    con: duckdb.DuckDBPyConnection, table: str, records: list[dict[str, Any]]
) -> None:
    """Insert records into a workspace table by column name."""
    frame = pd.DataFrame(records)
    frame["source_file"] = f"{table}.jsonl"
    frame["source_line"] = range(1, len(frame) + 1)
    frame["load_id"] = "test-load"
    con.register("incoming_rows", frame)
    # S608: table names come from this module, never from the records.
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_rows")  # noqa: S608
    con.unregister("incoming_rows")


def build_world(con: duckdb.DuckDBPyConnection, *, extra_day: bool = False) -> None:
    """Create the workspace tables, insert the organisation and evaluate it."""
    for statement in all_ddl():
        con.execute(statement)
    insert(con, "catalog", CATALOG)
    insert(con, "grants", GRANTS)
    insert(con, "coverage", COVERAGE)
    calls = WEEK_ONE_CALLS + WEEK_TWO_CALLS + (EXTRA_DAY_CALLS if extra_day else [])
    insert(con, "calls", calls)
    evaluate(con)


def finding_id_of(con: duckdb.DuckDBPyConnection, call_id: str) -> str:
    """Return the finding id of one call."""
    row = con.execute(
        "SELECT finding_id FROM findings WHERE call_id = ?", [call_id]
    ).fetchone()
    assert row is not None
    return str(row[0])
