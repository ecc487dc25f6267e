"""One benchmark stage per process, so each stage's peak memory is its own.

Run as ``python -m benchmarks.stages STAGE JSON_ARGUMENTS``; the last line printed is
a JSON object with ``seconds`` (wall time of the measured part) and ``peak_rss_mb``.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from auditkit.evaluate import evaluate as run_evaluation
from auditkit.evaluate.engine import STEPS, split_statements, step_sql, template_pieces
from auditkit.report.exports import write_findings_csv, write_findings_parquet
from auditkit.report.html import write_report
from auditkit.workspace import Workspace
from benchmarks.baseline import run_baseline
from benchmarks.synthetic import DAYS as SYNTHETIC_DAYS
from benchmarks.synthetic import write_month

if TYPE_CHECKING:
    from collections.abc import Callable


def _settings(arguments: dict[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if arguments.get("memory_limit"):
        settings["memory_limit"] = arguments["memory_limit"]
    if arguments.get("threads"):
        settings["threads"] = int(arguments["threads"])
    return settings


def _connect(path: str, arguments: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(path)
    if arguments.get("memory_limit"):
        con.execute("SET memory_limit = ?", [arguments["memory_limit"]])
    if arguments.get("threads"):
        con.execute("SET threads = ?", [int(arguments["threads"])])
    return con


def load(arguments: dict[str, Any]) -> dict[str, Any]:
    """Load the entitlements, then time the load of the calls file."""

    with Workspace.open(arguments["workspace"], **_settings(arguments)) as workspace:
        workspace.load(arguments["entitlements"])
        started = time.perf_counter()
        result = workspace.load(arguments["calls"], "calls")
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows_accepted": result.rows_accepted,
        "rows_quarantined": result.rows_quarantined,
    }


def read_json(arguments: dict[str, Any]) -> dict[str, Any]:
    """Time DuckDB's own read_json of the JSONL file into a table."""
    con = _connect(arguments["workspace"], arguments)
    started = time.perf_counter()
    con.execute(
        "CREATE TABLE calls AS SELECT * FROM read_json(?, "
        "format = 'newline_delimited', "
        "columns = {call_id: 'VARCHAR', ts: 'TIMESTAMPTZ', tool: 'VARCHAR', "
        "subject: 'VARCHAR', actor: 'VARCHAR', arguments: 'JSON', outcome: 'VARCHAR'})",
        [arguments["calls"]],
    )
    seconds = time.perf_counter() - started
    rows = con.execute("SELECT count(*) FROM calls").fetchall()[0][0]
    con.close()
    return {"seconds": seconds, "rows": rows}


def floor(arguments: dict[str, Any]) -> dict[str, Any]:
    """Time reading the calls Parquet and writing one flag per call."""
    con = _connect(arguments["workspace"], arguments)
    started = time.perf_counter()
    con.execute(
        "CREATE TABLE flags AS SELECT call_id, starts_with(tool, 'svc0') AS flag "
        "FROM read_parquet(?)",
        [arguments["calls"]],
    )
    seconds = time.perf_counter() - started
    con.close()
    return {"seconds": seconds}


def evaluate(arguments: dict[str, Any]) -> dict[str, Any]:
    """Time one evaluation of the loaded workspace."""

    with Workspace.open(arguments["workspace"], **_settings(arguments)) as workspace:
        started = time.perf_counter()
        summary = run_evaluation(workspace.connection, workspace.settings)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "verdicts": summary.verdicts}


def evaluate_steps(arguments: dict[str, Any]) -> dict[str, Any]:
    """Time each evaluation step alone, in a transaction that is rolled back."""

    with Workspace.open(arguments["workspace"], **_settings(arguments)) as workspace:
        con = workspace.connection
        catalog = con.sql("SELECT tool, resource_template FROM catalog").df()
        params: dict[str, object] = {"case_sensitive_namespaces": []}
        con.execute("BEGIN TRANSACTION")
        con.register("ak_template_pieces_frame", template_pieces(catalog))
        con.execute(
            "CREATE OR REPLACE TEMP TABLE ak_template_pieces AS "
            "SELECT * FROM ak_template_pieces_frame"
        )
        steps: dict[str, float] = {}
        started = time.perf_counter()
        for name in STEPS:
            step_started = time.perf_counter()
            for statement in split_statements(step_sql(name)):
                used = {k: v for k, v in params.items() if f"${k}" in statement}
                con.execute(statement, used or None)
            steps[name] = time.perf_counter() - step_started
        seconds = time.perf_counter() - started
        con.execute("ROLLBACK")
    return {"seconds": seconds, "steps": steps}


def increment(arguments: dict[str, Any]) -> dict[str, Any]:
    """Time one day's increment of a 30-day workspace against a full evaluation.

    The world's calls are squeezed into 30 days and split into days 1-29 and day 30;
    day 30 also brings one entitlement change (a deny for one group, from noon). One
    workspace loads everything and evaluates in full; the other evaluates days 1-29,
    then loads day 30 and the change and evaluates incrementally. Both must hold the
    same findings.
    """
    folder = Path(arguments["folder"])
    days = write_month(
        Path(arguments["calls"]), folder, span_days=SYNTHETIC_DAYS, month_days=30
    )
    full_path = folder / "month-full.duckdb"
    growing_path = folder / "month-increment.duckdb"
    for path in (full_path, growing_path):
        path.unlink(missing_ok=True)

    with Workspace.open(full_path, **_settings(arguments)) as workspace:
        workspace.load(arguments["entitlements"])
        workspace.load(days.first, "calls")
        workspace.load(days.last, "calls")
        workspace.load(days.change, "grants")
        started = time.perf_counter()
        run_evaluation(workspace.connection, workspace.settings)
        full_seconds = time.perf_counter() - started

    with Workspace.open(growing_path, **_settings(arguments)) as workspace:
        workspace.load(arguments["entitlements"])
        workspace.load(days.first, "calls")
        run_evaluation(workspace.connection, workspace.settings, incremental=True)
        started = time.perf_counter()
        workspace.load(days.last, "calls")
        workspace.load(days.change, "grants")
        loaded = time.perf_counter()
        summary = run_evaluation(
            workspace.connection, workspace.settings, incremental=True
        )
        finished = time.perf_counter()
        calls = summary.calls

    differing = _differing_findings(full_path, growing_path)
    return {
        "seconds": finished - started,
        "full_seconds": full_seconds,
        "load_seconds": loaded - started,
        "evaluate_seconds": finished - loaded,
        "month_calls": calls,
        "evaluated": summary.evaluated,
        "incremental": summary.incremental,
        "reason": summary.reason,
        "full_over_increment": full_seconds / (finished - started),
        "differing_findings": differing,
    }


def _differing_findings(first: Path, second: Path) -> int:
    con = duckdb.connect()
    con.execute("ATTACH ? AS first (READ_ONLY)", [str(first)])
    con.execute("ATTACH ? AS second (READ_ONLY)", [str(second)])
    rows = con.execute(
        """
        SELECT count(*) FROM (
            (SELECT * FROM first.findings EXCEPT ALL SELECT * FROM second.findings)
            UNION ALL
            (SELECT * FROM second.findings EXCEPT ALL SELECT * FROM first.findings)
        )
        """
    ).fetchall()
    con.close()
    return int(rows[0][0])


def export_csv(arguments: dict[str, Any]) -> dict[str, Any]:
    """Time the findings CSV export."""

    with Workspace.open(arguments["workspace"], **_settings(arguments)) as workspace:
        started = time.perf_counter()
        rows = write_findings_csv(workspace.connection, arguments["out"])
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows}


def export_parquet(arguments: dict[str, Any]) -> dict[str, Any]:
    """Time the findings Parquet export."""

    with Workspace.open(arguments["workspace"], **_settings(arguments)) as workspace:
        started = time.perf_counter()
        rows = write_findings_parquet(workspace.connection, arguments["out"])
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows}


def report(arguments: dict[str, Any]) -> dict[str, Any]:
    """Time write_report over the whole period."""

    with Workspace.open(arguments["workspace"], **_settings(arguments)) as workspace:
        started = time.perf_counter()
        write_report(workspace.connection, arguments["out"])
        seconds = time.perf_counter() - started
    return {"seconds": seconds}


def pandas_baseline(arguments: dict[str, Any]) -> dict[str, Any]:
    """Time the pandas merge_asof baseline, reading and writing included."""

    started = time.perf_counter()
    counts = run_baseline(
        Path(arguments["calls"]),
        Path(arguments["entitlements"]),
        Path(arguments["out"]),
    )
    return {"seconds": time.perf_counter() - started, "counts": counts}


STAGES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "load": load,
    "read_json": read_json,
    "floor": floor,
    "evaluate": evaluate,
    "evaluate_steps": evaluate_steps,
    "increment": increment,
    "export_csv": export_csv,
    "export_parquet": export_parquet,
    "report": report,
    "pandas_baseline": pandas_baseline,
}


def main() -> None:
    stage, text = sys.argv[1], sys.argv[2]
    result = STAGES[stage](json.loads(text))
    # ru_maxrss is in KiB on Linux.
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
