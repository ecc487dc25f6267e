"""``auditkit findings``: list and export findings with filters."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import typer

from auditkit.analysis.findings import FindingFilter, select_findings
from auditkit.cli.common import (
    DEFAULT_WORKSPACE,
    WorkspaceOption,
    fail,
    print_table,
    reports_errors,
    require_workspace,
    time_option,
)
from auditkit.models import Flag, Severity, Verdict
from auditkit.report.exports import clean_batch
from auditkit.safety import clean_text, neutralize_csv_cell

HELP = """List findings, filtered, as a table, CSV, JSON or Parquet.

Times are ISO 8601 (without an offset they are UTC; a date alone is midnight UTC);
--since is inclusive and --until exclusive.

Examples:

    auditkit findings --verdict stale_authority --min-severity high

    auditkit findings --agent finance-assistant --output-format csv > findings.csv
"""

TABLE_COLUMNS = [
    "ts",
    "call_id",
    "verdict",
    "reason",
    "severity",
    "certainty",
    "subject",
    "actor",
    "tool",
    "resource",
    "flags",
]


class OutputFormat(StrEnum):
    """Output format of ``auditkit findings``."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"


@reports_errors
def findings_command(
    verdict: Annotated[
        list[Verdict] | None, typer.Option(help="Keep this verdict (repeatable).")
    ] = None,
    flag: Annotated[
        list[Flag] | None,
        typer.Option(help="Keep findings with this flag (repeatable)."),
    ] = None,
    user: Annotated[str | None, typer.Option(help="Subject (user) id.")] = None,
    agent: Annotated[str | None, typer.Option(help="Actor (agent) id.")] = None,
    tool: Annotated[str | None, typer.Option(help="Tool name.")] = None,
    since: Annotated[str | None, typer.Option(help="Start time, inclusive.")] = None,
    until: Annotated[str | None, typer.Option(help="End time, exclusive.")] = None,
    min_severity: Annotated[
        Severity | None, typer.Option(help="Keep findings at or above this severity.")
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option(help="table, csv, json or parquet.")
    ] = OutputFormat.TABLE,
    output: Annotated[
        Path | None,
        typer.Option(help="File to write; standard output when omitted (not parquet)."),
    ] = None,
    limit: Annotated[
        int, typer.Option(help="Most rows shown in table format.", min=1)
    ] = 50,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """List findings, filtered."""
    import auditkit

    spec = FindingFilter(
        verdict=tuple(verdict or ()),
        flag=tuple(flag or ()),
        user=user,
        agent=agent,
        tool=tool,
        since=time_option(since, "--since"),
        until=time_option(until, "--until"),
        min_severity=min_severity,
    )
    require_workspace(workspace)
    with auditkit.open(workspace) as ws:
        frame = select_findings(ws.connection, spec)
    _write(frame, output_format, output, limit)


def _write(
    frame: pd.DataFrame, output_format: OutputFormat, output: Path | None, limit: int
) -> None:
    if output_format is OutputFormat.TABLE:
        shown = frame.head(limit)
        rows = shown[TABLE_COLUMNS].astype(object).values.tolist()
        title = f"{len(frame)} findings" + (
            f" (first {limit} shown)" if len(frame) > limit else ""
        )
        print_table(title, TABLE_COLUMNS, rows)
        return
    if output_format is OutputFormat.PARQUET:
        if output is None:
            fail("parquet output needs a file", hint="add --output findings.parquet")
        table = pa.Table.from_batches(
            [clean_batch(batch) for batch in pa.Table.from_pandas(frame).to_batches()]
        )
        pq.write_table(table, output)
        return
    text = _csv_text(frame) if output_format is OutputFormat.CSV else _json_text(frame)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def _cleaned(frame: pd.DataFrame) -> pd.DataFrame:
    cleaned = frame.copy()
    for column in cleaned.columns:
        if cleaned[column].dtype == object or pd.api.types.is_string_dtype(
            cleaned[column]
        ):
            cleaned[column] = cleaned[column].map(
                lambda value: clean_text(value) if isinstance(value, str) else value
            )
    return cleaned


def _csv_text(frame: pd.DataFrame) -> str:
    cleaned = _cleaned(frame)
    for column in cleaned.columns:
        cleaned[column] = cleaned[column].map(
            lambda value: (
                neutralize_csv_cell(value) if isinstance(value, str) else value
            )
        )
    return str(cleaned.to_csv(index=False, lineterminator="\n", date_format=_ISO))


def _json_text(frame: pd.DataFrame) -> str:
    text = _cleaned(frame).to_json(orient="records", date_format="iso", lines=True)
    return str(text)


_ISO = "%Y-%m-%dT%H:%M:%S.%fZ"


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("findings", help=HELP)(findings_command)
