"""Scale benchmark: generate worlds, then time each stage in its own process.

Usage::

    .venv/bin/python -m benchmarks.run --calls 1M,10M [--memory-limit 1GB]
        [--threads 2] [--data /tmp/auditkit-bench] [--out results.json]

Prints a table and writes JSON (``benchmarks/results/<date>.json`` by default).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas

from benchmarks.synthetic import generate

RESULTS = Path(__file__).resolve().parent / "results"
JSONL_MAX_CALLS = 1_000_000
ALL_STAGES = (
    "load",
    "load_jsonl",
    "read_json",
    "floor",
    "evaluate",
    "evaluate_steps",
    "export_csv",
    "export_parquet",
    "report",
    "pandas_baseline",
    "increment",
)


def parse_count(text: str) -> int:
    """Parse ``1M``, ``500K`` or ``2000`` into a number of calls."""
    factors = {"K": 1_000, "M": 1_000_000}
    suffix = text[-1].upper()
    if suffix in factors:
        return int(float(text[:-1]) * factors[suffix])
    return int(text)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pandas": pandas.__version__,
    }


def run_stage(stage: str, arguments: dict[str, Any]) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.stages", stage, json.dumps(arguments)]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        tail = completed.stderr.strip().splitlines()[-3:]
        return {"error": " | ".join(tail), "process_seconds": wall}
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    result["process_seconds"] = wall
    return result


def run_size(
    calls: int, options: argparse.Namespace, stages: list[str]
) -> dict[str, Any]:
    folder = Path(options.data) / f"calls-{calls}"
    world = generate(folder, calls, seed=options.seed, jsonl=calls <= JSONL_MAX_CALLS)
    print(
        f"world of {calls:,} calls ready in {world.seconds:.1f} s at {folder}",
        flush=True,
    )
    settings = {"memory_limit": options.memory_limit, "threads": options.threads}
    workspace = folder / "workspace.duckdb"
    jsonl_workspace = folder / "workspace-jsonl.duckdb"
    arguments: dict[str, dict[str, Any]] = {
        "load": {"workspace": str(workspace), "calls": str(world.calls_parquet)},
        "load_jsonl": {
            "workspace": str(jsonl_workspace),
            "calls": str(world.calls_jsonl),
        },
        "read_json": {
            "workspace": str(folder / "read-json.duckdb"),
            "calls": str(world.calls_jsonl),
        },
        "floor": {
            "workspace": str(folder / "floor.duckdb"),
            "calls": str(world.calls_parquet),
        },
        "evaluate": {"workspace": str(workspace)},
        "evaluate_steps": {"workspace": str(workspace)},
        "export_csv": {
            "workspace": str(workspace),
            "out": str(folder / "findings.csv"),
        },
        "export_parquet": {
            "workspace": str(workspace),
            "out": str(folder / "findings.parquet"),
        },
        "report": {"workspace": str(workspace), "out": str(folder / "report")},
        "pandas_baseline": {
            "calls": str(world.calls_parquet),
            "out": str(folder / "baseline.parquet"),
        },
        "increment": {"calls": str(world.calls_parquet), "folder": str(folder)},
    }
    results: dict[str, Any] = {"calls": calls, "world_seconds": world.seconds}
    for stage in stages:
        if stage in ("load_jsonl", "read_json") and world.calls_jsonl is None:
            continue
        stage_arguments = {
            **arguments[stage],
            **settings,
            "entitlements": str(world.entitlements),
        }
        for key in ("workspace",):
            target = Path(stage_arguments.get(key, ""))
            if (
                stage in ("load", "load_jsonl", "read_json", "floor")
                and target.exists()
            ):
                target.unlink()
        name = "load" if stage == "load_jsonl" else stage
        result = run_stage(name, stage_arguments)
        if "seconds" in result:
            result["calls_per_second"] = calls / result["seconds"]
        results[stage] = result
        print(f"  {stage:<16} {_cell(result)}", flush=True)
    return results


def _cell(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"failed: {result['error']}"
    if "full_over_increment" in result:
        return (
            f"{result['seconds']:9.2f} s for the last day "
            f"({result['load_seconds']:.2f} s load, "
            f"{result['evaluate_seconds']:.2f} s evaluating "
            f"{result['evaluated']:,} calls) against {result['full_seconds']:.2f} s "
            f"for all {result['month_calls']:,}: "
            f"{result['full_over_increment']:.1f}x, "
            f"{result['differing_findings']} findings differ"
        )
    return (
        f"{result['seconds']:9.2f} s {result['calls_per_second']:>13,.0f} calls/s "
        f"{result['peak_rss_mb']:8.0f} MiB peak RSS"
    )


def targets(size: dict[str, Any]) -> dict[str, Any]:
    """Compare one size's figures with the benchmark's targets."""
    checks: dict[str, Any] = {}
    evaluate = size.get("evaluate", {})
    if "seconds" in evaluate:
        rate = evaluate["calls_per_second"]
        checks["evaluate_2M_calls_per_s"] = rate >= 2_000_000
        baseline = size.get("pandas_baseline", {})
        if "seconds" in baseline:
            checks["evaluate_vs_pandas"] = baseline["seconds"] / evaluate["seconds"]
        floor = size.get("floor", {})
        if "seconds" in floor:
            checks["evaluate_vs_floor"] = evaluate["seconds"] / floor["seconds"]
    load_jsonl = size.get("load_jsonl", {})
    read_json = size.get("read_json", {})
    if "seconds" in load_jsonl and "seconds" in read_json:
        checks["jsonl_vs_read_json"] = read_json["seconds"] / load_jsonl["seconds"]
    increment = size.get("increment", {})
    if "full_over_increment" in increment:
        checks["full_over_increment"] = increment["full_over_increment"]
        checks["increment_equals_full"] = increment["differing_findings"] == 0
    report = size.get("report", {})
    if "seconds" in report:
        checks["report_seconds"] = report["seconds"]
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="1M", help="sizes, such as 1M,10M")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory_limit")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads")
    parser.add_argument("--stages", default=",".join(ALL_STAGES))
    parser.add_argument(
        "--data", default=str(Path(tempfile.gettempdir()) / "auditkit-bench")
    )
    parser.add_argument("--out", default=None, help="JSON results file")
    options = parser.parse_args()

    stages = [stage for stage in options.stages.split(",") if stage]
    sizes = [parse_count(text) for text in options.calls.split(",")]
    record: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "machine": machine(),
        "settings": {"memory_limit": options.memory_limit, "threads": options.threads},
        "sizes": [],
    }
    print(json.dumps(record["machine"]))
    for calls in sizes:
        size = run_size(calls, options, stages)
        size["targets"] = targets(size)
        print(f"  targets: {json.dumps(size['targets'])}", flush=True)
        record["sizes"].append(size)

    out = (
        Path(options.out)
        if options.out
        else RESULTS / (datetime.now(UTC).strftime("%Y-%m-%d-%H%M%S") + ".json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
