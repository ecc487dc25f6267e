"""``auditkit evaluate``: recompute every call's verdict."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from auditkit.cli.common import (
    DEFAULT_WORKSPACE,
    WorkspaceOption,
    print_table,
    reports_errors,
    require_workspace,
)
from auditkit.evaluate import EvaluationSummary
from auditkit.models import Verdict

HELP = """Evaluate every loaded call and print the count of each verdict.

Writes the findings and stale_windows tables of the workspace. Only the calls that
new loads and entitlement changes can touch are evaluated again, with the same
findings as a full run; --full evaluates every call. With --engine
spark the same rules run on Apache Spark (needs a Java runtime); the findings are
the same as DuckDB's.

Examples:

    auditkit evaluate --workspace audit.duckdb

    auditkit evaluate --engine spark --spark-master 'local[2]'
"""


class Engine(StrEnum):
    """The engine that runs the evaluation."""

    DUCKDB = "duckdb"
    SPARK = "spark"


def print_summary(summary: EvaluationSummary) -> None:
    """Print the verdict counts of an evaluation, in verdict order."""
    rows = [
        [verdict.value, summary.verdicts.get(verdict.value, 0)] for verdict in Verdict
    ]
    rows.append(["stale-authority windows", summary.stale_windows])
    title = f"{summary.calls} calls evaluated ({summary.reason})"
    if summary.incremental:
        title = f"{summary.calls} calls, {summary.evaluated} evaluated again"
    print_table(title, ["verdict", "calls"], rows)


@reports_errors
def evaluate_command(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    engine: Annotated[
        Engine, typer.Option(help="Run the evaluation in DuckDB or on Apache Spark.")
    ] = Engine.DUCKDB,
    spark_master: Annotated[
        str | None,
        typer.Option(
            metavar="<url>",
            help="Spark master URL: local[N], spark://host:port, yarn, k8s://... "
            "[default: the AUDITKIT_SPARK_MASTER setting, else local[2]]",
        ),
    ] = None,
    spark_staging: Annotated[
        Path | None,
        typer.Option(
            metavar="<path>",
            help="Folder for the Parquet files Spark reads and writes; on a cluster, "
            "one every executor can read. [default: a temporary folder]",
        ),
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Evaluate every call, not only those that the changes since the "
            "last evaluation can touch (DuckDB engine).",
        ),
    ] = False,
) -> None:
    """Evaluate the loaded calls."""
    import auditkit

    require_workspace(workspace)
    with auditkit.open(workspace) as ws:
        if engine is Engine.SPARK:
            from auditkit.evaluate.spark import spark_session

            session = spark_session(spark_master or ws.settings.spark_master)
            summary = ws.evaluate(engine="spark", spark=session, staging=spark_staging)
        else:
            summary = ws.evaluate(full=full)
    print_summary(summary)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("evaluate", help=HELP)(evaluate_command)
