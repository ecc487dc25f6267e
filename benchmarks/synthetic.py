"""Deterministic synthetic worlds for the scale benchmark, generated inside DuckDB.

Every value derives from ``hash(row, seed, column)``, so a world depends only on its
size, its seed and the DuckDB version (whose hash function it uses). Nothing loops in
Python per call: calls are written straight from ``range(n)`` to Parquet.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

USERS = 10_000
AGENTS = 200
GROUPS = 100
NAMESPACES = 50
ACTIONS_PER_NAMESPACE = 10  # 50 x 10 = 500 permissions
DAYS = 180
OFFBOARDED_PER_MILLE = 20  # 2% of users
START = "2026-01-01 00:00:00"


@dataclass(frozen=True)
class World:
    """Files of one generated world."""

    folder: Path
    calls: int
    seed: int
    calls_parquet: Path
    calls_jsonl: Path | None
    entitlements: Path
    seconds: float


def generate(folder: Path, calls: int, *, seed: int = 7, jsonl: bool = False) -> World:
    """Write a world of ``calls`` calls under ``folder``; reuse it if complete."""
    marker = folder / "world.json"
    if marker.exists():
        stored = json.loads(marker.read_text())
        if (
            stored["calls"] == calls
            and stored["seed"] == seed
            and (not jsonl or stored["calls_jsonl"])
        ):
            return _world(folder, stored)

    started = time.perf_counter()
    entitlements = folder / "entitlements"
    entitlements.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    _write_entitlements(con, entitlements, seed)
    calls_parquet = folder / "calls.parquet"
    _write_calls(con, calls_parquet, calls, seed)
    calls_jsonl = None
    if jsonl:
        calls_jsonl = folder / "calls.jsonl"
        _write_calls_jsonl(con, calls_parquet, calls_jsonl)
    con.close()

    world = World(
        folder,
        calls,
        seed,
        calls_parquet,
        calls_jsonl,
        entitlements,
        time.perf_counter() - started,
    )
    record = {
        key: str(value) if isinstance(value, Path) else value
        for key, value in asdict(world).items()
    }
    marker.write_text(json.dumps(record, indent=2))
    return world


def _world(folder: Path, stored: dict[str, object]) -> World:
    jsonl = stored["calls_jsonl"]
    return World(
        folder,
        int(str(stored["calls"])),
        int(str(stored["seed"])),
        Path(str(stored["calls_parquet"])),
        Path(str(jsonl)) if jsonl else None,
        Path(str(stored["entitlements"])),
        float(str(stored["seconds"])),
    )


def _copy(
    con: duckdb.DuckDBPyConnection,
    query: str,
    path: Path,
    params: dict[str, object],
) -> None:
    used = {
        name: value
        for name, value in params.items()
        if re.search(rf"\${name}\b", query)
    }
    relation = con.sql(query, params=used)
    relation.write_parquet(str(path), compression="zstd")


def _write_entitlements(
    con: duckdb.DuckDBPyConnection, folder: Path, seed: int
) -> None:
    params = {
        "seed": seed,
        "users": USERS,
        "agents": AGENTS,
        "groups": GROUPS,
        "namespaces": NAMESPACES,
        "actions": ACTIONS_PER_NAMESPACE,
        "days": DAYS,
        "offboarded": OFFBOARDED_PER_MILLE,
        "start": START,
    }
    start = "CAST($start AS TIMESTAMPTZ)"
    user = "'u' || lpad(CAST(u AS VARCHAR), 5, '0')"
    # Catalog: one tool per permission; actions 0-3 read, the others write.
    _copy(
        con,
        """
        SELECT 'svc' || lpad(CAST(n AS VARCHAR), 2, '0') || '.act' || a AS tool,
               'svc' || lpad(CAST(n AS VARCHAR), 2, '0') || ':'
                   || CASE WHEN a < 4 THEN 'Read' ELSE 'Write' END || a AS action,
               'svc' || lpad(CAST(n AS VARCHAR), 2, '0') || '/{doc}'
                   AS resource_template,
               CASE WHEN a < 4 THEN 'read' ELSE 'write' END AS risk_tier
        FROM range($namespaces) s(n), range($actions) t(a)
    """,
        folder / "catalog.parquet",
        params,
    )
    # Coverage: the inputs are complete over the whole period.
    _copy(
        con,
        f"""
        SELECT 'cov1' AS coverage_id, {start} - INTERVAL 30 DAY AS valid_from,
               {start} + INTERVAL ($days + 1) DAY AS valid_to, 'benchmark' AS source
    """,
        folder / "coverage.parquet",
        params,
    )
    # Grants: each group holds wildcard allows on two namespaces, re-granted once in
    # the period; each agent holds one namespace fully and one read-only.
    _copy(
        con,
        f"""
        WITH group_grants AS (
            SELECT 'gg' || g || '-' || k || '-' || v AS grant_id,
                   'group' AS principal_type,
                   'g' || lpad(CAST(g AS VARCHAR), 3, '0') AS principal_id,
                   'svc' || lpad(
                       CAST((g * 7 + k * 13) % $namespaces AS VARCHAR), 2, '0'
                   ) AS ns,
                   k, v,
                   CAST(hash(g, k, $seed, 11) % ($days * 24) AS INTEGER) AS cut_hour
            FROM range($groups) a(g), range(2) b(k), range(2) c(v)
        ),
        agent_grants AS (
            SELECT 'ag' || a || '-' || k AS grant_id, 'agent' AS principal_type,
                   'agent' || lpad(CAST(a AS VARCHAR), 3, '0') AS principal_id,
                   'svc' || lpad(
                       CAST((a * 3 + k * 17) % $namespaces AS VARCHAR), 2, '0'
                   ) AS ns, k
            FROM range($agents) x(a), range(2) y(k)
        )
        SELECT grant_id, principal_type, principal_id, 'allow' AS effect,
               ns || ':' || CASE WHEN k = 0 THEN '*' ELSE 'Read*' END AS action,
               ns || '/*' AS resource,
               CASE WHEN v = 0 THEN {start} - INTERVAL 30 DAY
                    ELSE {start} + to_hours(cut_hour + 48) END AS valid_from,
               CASE WHEN v = 0 THEN {start} + to_hours(cut_hour) END AS valid_to
        FROM group_grants
        UNION ALL
        SELECT grant_id, principal_type, principal_id, 'allow', ns || ':'
                   || CASE WHEN k = 0 THEN '*' ELSE 'Read*' END,
               '*', {start} - INTERVAL 30 DAY, NULL
        FROM agent_grants
    """,
        folder / "grants.parquet",
        params,
    )
    # Memberships: each user is in two groups; a quarter of memberships move once in
    # the period, and offboarded users lose every membership when they leave.
    _copy(
        con,
        f"""
        WITH members AS (
            SELECT u, m, {user} AS user_id,
                   'g' || lpad(CAST(hash(u, m, $seed, 21) % $groups AS VARCHAR), 3, '0')
                       AS group_id,
                   hash(u, m, $seed, 22) % 4 = 0 AS moves,
                   CAST(hash(u, m, $seed, 23) % ($days * 24) AS INTEGER) AS move_hour,
                   hash(u, $seed, 24) % 1000 < $offboarded AS offboarded,
                   CAST(hash(u, $seed, 25) % ($days * 24) AS INTEGER) AS leave_hour
            FROM range($users) a(u), range(2) b(m)
        )
        SELECT 'm' || u || '-' || m || '-0' AS membership_id, 'user' AS member_type,
               user_id AS member_id, 'group' AS parent_type, group_id AS parent_id,
               {start} - INTERVAL 30 DAY AS valid_from,
               CASE WHEN moves THEN {start} + to_hours(move_hour)
                    WHEN offboarded THEN {start} + to_hours(leave_hour) END AS valid_to
        FROM members
        UNION ALL
        SELECT 'm' || u || '-' || m || '-1', 'user', user_id, 'group',
               'g' || lpad(CAST((hash(u, m, $seed, 26) % $groups) AS VARCHAR), 3, '0'),
               {start} + to_hours(move_hour),
               CASE WHEN offboarded AND leave_hour > move_hour
                    THEN {start} + to_hours(leave_hour) END
        FROM members
        WHERE moves AND NOT (offboarded AND leave_hour <= move_hour)
    """,
        folder / "memberships.parquet",
        params,
    )
    # Events: the offboarded users' deactivations.
    _copy(
        con,
        f"""
        SELECT 'e' || u AS event_id, {start} + to_hours(
                   CAST(hash(u, $seed, 25) % ($days * 24) AS INTEGER)) AS ts,
               'user' AS principal_type, {user} AS principal_id,
               'deactivated' AS event_type
        FROM range($users) a(u)
        WHERE hash(u, $seed, 24) % 1000 < $offboarded
    """,
        folder / "events.parquet",
        params,
    )


def _write_calls(
    con: duckdb.DuckDBPyConnection, path: Path, calls: int, seed: int
) -> None:
    params = {
        "calls": calls,
        "seed": seed,
        "users": USERS,
        "agents": AGENTS,
        "namespaces": NAMESPACES,
        "actions": ACTIONS_PER_NAMESPACE,
        "span": DAYS * 86_400_000_000,
        "start": START,
    }
    _copy(
        con,
        """
        SELECT 'c' || lpad(CAST(i AS VARCHAR), 9, '0') AS call_id,
               CAST($start AS TIMESTAMPTZ)
                   + to_microseconds(CAST(hash(i, $seed, 1) % $span AS BIGINT)) AS ts,
               'svc' || lpad(CAST(hash(i, $seed, 2) % $namespaces AS VARCHAR), 2, '0')
                   || '.act' || (hash(i, $seed, 3) % $actions) AS tool,
               'u' || lpad(CAST(hash(i, $seed, 4) % $users AS VARCHAR), 5, '0')
                   AS subject,
               'agent' || lpad(CAST(hash(i, $seed, 5) % $agents AS VARCHAR), 3, '0')
                   AS actor,
               '{"doc":"d' || (hash(i, $seed, 6) % 100000) || '"}' AS arguments,
               'allowed' AS outcome
        FROM range($calls) t(i)
    """,
        path,
        params,
    )


@dataclass(frozen=True)
class Month:
    """Files of a month-long workspace: two loads of calls and a change of grants."""

    first: Path
    last: Path
    change: Path


def write_month(
    calls_parquet: Path, folder: Path, *, span_days: int, month_days: int
) -> Month:
    """Squeeze a world's calls into ``month_days`` days and split off the last day.

    The last day also brings a deny of every action of one namespace to one group,
    from noon of that day, so that an increment has an entitlement change to handle.
    """
    month = Month(
        first=folder / "month-calls-before-last-day.parquet",
        last=folder / "month-calls-last-day.parquet",
        change=folder / "month-grants-last-day.parquet",
    )
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    params = {
        "calls": str(calls_parquet),
        "start": START,
        "factor": span_days / month_days,
        "last_day": month_days - 1,
    }
    squeezed = """
        SELECT * REPLACE (
            make_timestamp(CAST(
                epoch_us(CAST($start AS TIMESTAMPTZ))
                + (epoch_us(ts) - epoch_us(CAST($start AS TIMESTAMPTZ))) / $factor
                AS BIGINT
            ))::TIMESTAMPTZ AS ts
        )
        FROM read_parquet($calls)
    """
    last_day = "CAST($start AS TIMESTAMPTZ) + to_days(CAST($last_day AS INTEGER))"
    _copy(con, f"SELECT * FROM ({squeezed}) WHERE ts < {last_day}", month.first, params)
    _copy(con, f"SELECT * FROM ({squeezed}) WHERE ts >= {last_day}", month.last, params)
    _copy(
        con,
        f"""
        SELECT 'deny-last-day' AS grant_id, 'group' AS principal_type,
               'g000' AS principal_id, 'deny' AS effect, 'svc00:*' AS action,
               '*' AS resource, {last_day} + INTERVAL 12 HOUR AS valid_from,
               CAST(NULL AS TIMESTAMPTZ) AS valid_to
        """,
        month.change,
        params,
    )
    con.close()
    return month


def _write_calls_jsonl(
    con: duckdb.DuckDBPyConnection, parquet: Path, path: Path
) -> None:
    # COPY takes no parameters; both paths are the benchmark's own.
    con.execute(f"""
        COPY (
            SELECT call_id, strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ') AS ts, tool,
                   subject, actor, json(arguments) AS arguments, outcome
            FROM read_parquet('{parquet}')
        ) TO '{path}' (FORMAT json)
    """)
