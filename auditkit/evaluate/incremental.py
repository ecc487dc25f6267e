"""Decide which calls an evaluation must revisit, and record what it saw.

An incremental evaluation gives the findings a full evaluation would give, by revisiting
only the calls whose findings can differ (``docs/incremental.md`` has the argument):

- calls of a load that no evaluation has seen yet;
- calls at or after ``since``, the earliest instant of any reached grant, inactive
  period or coverage interval that differs from those of the last evaluation;
- every call that shares a token id with one of those, because the
  ``token_forwarded`` flag counts the resource servers of all calls of a token.

A change of the rules (the step files or the auditkit version), of the catalog or of
the settings the evaluation reads makes the next evaluation a full one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditkit import __version__

if TYPE_CHECKING:
    from datetime import datetime

    import duckdb

    from auditkit.settings import Settings

# Above this share of the calls, a full run replaces every finding instead of deleting
# and inserting the revisited ones; both give the same rows. NOTE: 0.5 is a guess at the
# break-even point, not a measured one.
FULL_RUN_SHARE = 0.5

STATE_DDL = (
    """
    CREATE TABLE IF NOT EXISTS evaluation_state (
        rules_fingerprint VARCHAR NOT NULL,
        settings_fingerprint VARCHAR NOT NULL,
        catalog_fingerprint VARCHAR NOT NULL,
        evaluated_at TIMESTAMP NOT NULL,
        calls BIGINT NOT NULL
    )
    """,
    "CREATE TABLE IF NOT EXISTS evaluation_loads (load_id VARCHAR NOT NULL)",
    """
    CREATE TABLE IF NOT EXISTS evaluation_entitlements (
        fingerprint VARCHAR NOT NULL,
        earliest TIMESTAMP
    )
    """,
)

# One row per derived entitlement row the call steps read: each reached grant (with
# its path, interval, snapshot windows and ids), each inactive period and each merged
# coverage interval. ``earliest`` is the first instant at which the row can change a
# finding: its start, its end or the start of a snapshot window.
_ENTITLEMENT_ROWS_SQL = """
CREATE OR REPLACE TEMP TABLE ak_entitlement_rows AS
SELECT
    md5('reach' || CAST(to_json(r) AS VARCHAR)) AS fingerprint,
    least(r.valid_from, r.valid_to, r.from_earliest, r.to_earliest) AS earliest
FROM ak_reach AS r
UNION ALL
SELECT
    md5('inactive' || CAST(to_json(i) AS VARCHAR)),
    least(i.valid_from, i.valid_to)
FROM ak_inactive AS i
UNION ALL
SELECT
    md5('coverage' || CAST(to_json(v) AS VARCHAR)),
    least(v.valid_from, v.valid_to)
FROM ak_coverage AS v
"""

_CHANGES_SQL = """
WITH changed AS (
    (
        SELECT fingerprint, earliest FROM ak_entitlement_rows
        EXCEPT ALL
        SELECT fingerprint, earliest FROM evaluation_entitlements
    )
    UNION ALL
    (
        SELECT fingerprint, earliest FROM evaluation_entitlements
        EXCEPT ALL
        SELECT fingerprint, earliest FROM ak_entitlement_rows
    )
)
SELECT count(*), min(earliest) FROM changed
"""

_CATALOG_FINGERPRINT_SQL = """
SELECT md5(coalesce(string_agg(
    CAST(to_json({
        'tool': tool,
        'action': action,
        'resource_template': resource_template,
        'risk_tier': risk_tier,
        'resource_server': resource_server
    }) AS VARCHAR),
    chr(10) ORDER BY tool
), ''))
FROM catalog
"""

# Calls of unseen loads, or at or after the change instant (NULL when nothing changed).
_REVISIT_CONDITION = """
    c.load_id NOT IN (SELECT load_id FROM evaluation_loads)
    OR c.ts >= CAST($since AS TIMESTAMP)
"""


@dataclass(frozen=True)
class Plan:
    """The choice of an evaluation: every call, or those copied to ``temp.calls``."""

    full: bool
    reason: str
    since: datetime | None = None
    revisited: int = 0


def rules_fingerprint(step_texts: list[str]) -> str:
    """Return a digest of the step files and the auditkit version."""
    digest = hashlib.sha256(__version__.encode())
    for text in step_texts:
        digest.update(b"\0" + text.encode())
    return digest.hexdigest()


def settings_fingerprint(settings: Settings) -> str:
    """Return a digest of the settings that change findings."""
    read = {
        "case_sensitive_action_namespaces": list(
            settings.case_sensitive_action_namespaces
        )
    }
    return hashlib.sha256(json.dumps(read, sort_keys=True).encode()).hexdigest()


def catalog_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """Return a digest of the catalog columns the evaluation reads."""
    return str(con.execute(_CATALOG_FINGERPRINT_SQL).fetchall()[0][0])


def collect_entitlement_rows(con: duckdb.DuckDBPyConnection) -> None:
    """Digest the derived entitlement rows; run after the entitlement steps."""
    con.execute(_ENTITLEMENT_ROWS_SQL)


def plan(
    con: duckdb.DuckDBPyConnection, rules: str, settings: str, catalog: str
) -> Plan:
    """Compare the inputs with the last evaluation's and choose what to revisit.

    ``collect_entitlement_rows`` must have run. When the plan is incremental, the
    calls to revisit are copied to ``temp.calls``, which shadows the workspace's
    ``calls`` table for the call steps.
    """
    reason = _full_run_reason(con, rules, settings, catalog)
    if reason is not None:
        return Plan(full=True, reason=reason)
    findings = _count(con, "SELECT count(*) FROM findings")

    changes, since = con.execute(_CHANGES_SQL).fetchall()[0]
    if changes and since is None:
        # A changed row without any instant cannot be placed in time.
        return Plan(full=True, reason="an entitlement changed at no known instant")

    workspace_calls = workspace_table(con, "calls")
    params = {"since": since}
    # S608 below: workspace_calls is the connection's own database name, quoted, and
    # the condition is fixed text; values are parameters.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE ak_revisit_tokens AS
        SELECT DISTINCT c.token_id
        FROM {workspace_calls} AS c
        WHERE c.token_id IS NOT NULL AND ({_REVISIT_CONDITION})
        """,  # noqa: S608
        params,
    )
    revisited = f"""
        FROM {workspace_calls} AS c
        WHERE {_REVISIT_CONDITION}
            OR c.token_id IN (SELECT token_id FROM ak_revisit_tokens)
    """  # noqa: S608
    counts = con.execute(
        f"""
        SELECT
            count(*),
            count(*) FILTER (
                WHERE c.load_id NOT IN (SELECT load_id FROM evaluation_loads)
            )
        FROM {workspace_calls} AS c
        """,  # noqa: S608
    ).fetchall()[0]
    total, unseen = int(counts[0]), int(counts[1])
    if findings + unseen != total:
        return Plan(full=True, reason="calls were removed or changed outside a load")
    revisit = _count(con, f"SELECT count(*) {revisited}", params)
    if revisit > FULL_RUN_SHARE * total:
        return Plan(full=True, reason="most calls need a new evaluation", since=since)
    con.execute(f"CREATE OR REPLACE TEMP TABLE calls AS SELECT c.* {revisited}", params)
    return Plan(full=False, reason="incremental", since=since, revisited=revisit)


def _full_run_reason(
    con: duckdb.DuckDBPyConnection, rules: str, settings: str, catalog: str
) -> str | None:
    if not _has_state(con):
        return "no earlier evaluation"
    state = con.execute(
        "SELECT rules_fingerprint, settings_fingerprint, catalog_fingerprint, calls "
        "FROM evaluation_state"
    ).fetchall()
    if len(state) != 1:
        return "no earlier evaluation"
    previous_rules, previous_settings, previous_catalog, previous_calls = state[0]
    findings = _count(con, "SELECT count(*) FROM findings")
    checks = [
        (previous_rules != rules, "the evaluation rules changed"),
        (previous_settings != settings, "the evaluation settings changed"),
        (previous_catalog != catalog, "the catalog changed"),
        (findings != previous_calls, "the findings changed since the last evaluation"),
    ]
    return next((reason for failed, reason in checks if failed), None)


def workspace_table(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """Return the quoted name of a workspace table that no temporary table shadows."""
    database = str(con.execute("SELECT current_database()").fetchall()[0][0])
    return '"' + database.replace('"', '""') + '".main.' + name


def merge_findings(con: duckdb.DuckDBPyConnection, new_findings: str) -> None:
    """Replace the findings of the revisited calls by the rows of ``new_findings``."""
    con.execute(
        "DELETE FROM findings WHERE call_id IN (SELECT call_id FROM temp.calls)"
    )
    # S608: new_findings is the engine's own temporary table name.
    con.execute(f"INSERT INTO findings SELECT * FROM {new_findings}")  # noqa: S608


def record(
    con: duckdb.DuckDBPyConnection, rules: str, settings: str, catalog: str
) -> None:
    """Store what this evaluation saw, for the next one to compare with."""
    for statement in STATE_DDL:
        con.execute(statement)
    calls = _count(con, "SELECT count(*) FROM findings")
    con.execute("DELETE FROM evaluation_state")
    con.execute(
        "INSERT INTO evaluation_state VALUES (?, ?, ?, now()::TIMESTAMP, ?)",
        [rules, settings, catalog, calls],
    )
    con.execute("DELETE FROM evaluation_loads")
    # S608: the table name is the connection's own database name, quoted.
    con.execute(
        "INSERT INTO evaluation_loads SELECT DISTINCT load_id FROM "  # noqa: S608
        + workspace_table(con, "calls")
    )
    con.execute("DELETE FROM evaluation_entitlements")
    con.execute(
        "INSERT INTO evaluation_entitlements "
        "SELECT fingerprint, earliest FROM ak_entitlement_rows"
    )


def _has_state(con: duckdb.DuckDBPyConnection) -> bool:
    names = {
        str(name)
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary"
        ).fetchall()
    }
    return {"findings", "evaluation_state", "evaluation_loads"} <= names and (
        "evaluation_entitlements" in names
    )


def _count(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object] | None = None
) -> int:
    return int(con.execute(sql, params).fetchall()[0][0])
