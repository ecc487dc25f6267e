"""``auditkit agentdojo``: how many successful AgentDojo attacks the audit catches."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from auditkit.cli.common import print_table, reports_errors, stdout

HELP = """Evaluate recorded AgentDojo runs and count the successful prompt-injection
attacks caught (at least one call with verdict agent_over_scope, user_over_scope or
stale_authority), the benign successful runs flagged, the excluded attacks and the
scope tools never used.

RUNS_DIR is laid out as AgentDojo's runs/ folder:
<model>/<suite>/<user_task>/<attack|none>/<injection_task|none>.json. The suite
environments (suites/) and ground_truth_tools.json are read beside it unless given.

Example:

    auditkit agentdojo data/agentdojo/runs --scope arguments --read-tier
"""

COLUMNS = [
    "model",
    "suite",
    "traces",
    "successful attacks",
    "caught",
    "caught %",
    "benign successful",
    "flagged",
    "flagged %",
    "drift",
]


class ScopeLevel(StrEnum):
    """How much of a task's ground-truth calls the agent's scope keeps."""

    TOOLS = "tools"
    ARGUMENTS = "arguments"


@reports_errors
def agentdojo_command(
    runs_dir: Annotated[
        Path, typer.Argument(help="Folder laid out as AgentDojo's runs/.")
    ],
    scope: Annotated[
        ScopeLevel,
        typer.Option(help="Scope per task: tool names only, or tools and resources."),
    ] = ScopeLevel.ARGUMENTS,
    read_tier: Annotated[
        bool,
        typer.Option(
            "--read-tier",
            help="Also allow every read tool of the suite on any resource.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per model and suite.")
    ] = False,
    suites_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder of <suite>/environment.yaml; default suites/ beside."
        ),
    ] = None,
    ground_truth: Annotated[
        Path | None,
        typer.Option(help="Ground-truth file; default ground_truth_tools.json beside."),
    ] = None,
    benchmark_version: Annotated[
        str | None,
        typer.Option(help="Ground-truth version, such as v1; default the best match."),
    ] = None,
) -> None:
    """Count the successful AgentDojo attacks the audit catches."""
    from auditkit.studies.agentdojo import run_study

    result = run_study(
        runs_dir,
        scope=scope.value,
        read_tier=read_tier,
        suites_dir=suites_dir,
        ground_truth_path=ground_truth,
        benchmark_version=benchmark_version,
    )
    if as_json:
        stdout.print_json(json.dumps([row.to_dict() for row in result.results]))
        return
    summary = result.summary().drop(columns=["excluded", "missed"])
    rows = [list(row.values()) for row in summary.to_dict("records")]
    title = (
        f"AgentDojo {result.benchmark_version}, scope {result.scope}"
        f"{' with read tier' if result.read_tier else ''}"
    )
    print_table(title, COLUMNS, rows)
    reasons = [list(row.values()) for row in result.reasons().to_dict("records")]
    if reasons:
        columns = ["model", "suite", "excluded or missed", "reason", "attacks"]
        print_table("Successful attacks excluded or missed", columns, reasons)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("agentdojo", help=HELP)(agentdojo_command)
