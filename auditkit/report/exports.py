"""Findings exports: CSV for spreadsheets, Parquet for data tools.

Both files hold every column of the ``findings`` table for the period, sorted by
``(ts, call_id, finding_id)``, with every string passed through
:func:`auditkit.safety.clean_text` (secrets redacted, control characters
removed). Neither contains a generation time, so the same workspace and period give
byte-identical files.
"""

from __future__ import annotations

import csv
import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from auditkit.report.period import Period
from auditkit.safety import CLEANING_TRIGGER, clean_text, neutralize_csv_cell

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import duckdb

logger = logging.getLogger(__name__)

# Rows fetched from DuckDB at a time; bounds memory on large workspaces.
BATCH_ROWS = 50_000
# Rows per Parquet row group. Fixed, so the file layout does not depend on how DuckDB
# happened to split its result into batches.
ROW_GROUP_ROWS = 100_000

FINDINGS_ORDER = "ts, call_id, finding_id"


def finding_batches(
    con: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    verdicts: Sequence[str] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Yield the period's findings as cleaned Arrow batches in ``(ts, call_id)`` order.

    Parameters
    ----------
    con
        Connection to a workspace with a ``findings`` table.
    period
        Reporting period; a finding belongs to it by its call time ``ts``.
    verdicts
        Keep only these verdicts; ``None`` keeps all.
    """
    where, params = period.where("ts")
    if verdicts is not None:
        where = f"{where} AND list_contains(?, verdict)"
        params = [*params, list(verdicts)]

    # S608: the SQL joins fixed text and trusted names; values are parameters.
    sql = f"SELECT * FROM findings WHERE {where} ORDER BY {FINDINGS_ORDER}"  # noqa: S608
    reader = con.sql(sql, params=params).to_arrow_reader(BATCH_ROWS)
    for batch in reader:
        yield clean_batch(batch)


def clean_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Return ``batch`` with every string column passed through ``clean_text``."""
    columns: list[pa.Array] = []
    fields: list[pa.Field] = []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if not _is_text(field.type):
            columns.append(column)
            fields.append(field)
            continue

        columns.append(_clean_column(column))
        fields.append(pa.field(field.name, pa.string(), nullable=field.nullable))

    return pa.RecordBatch.from_arrays(columns, schema=pa.schema(fields))


def _clean_column(column: pa.Array) -> pa.Array:
    # Clean each distinct value once, and only values that can change: most columns
    # repeat a few values (verdicts, agents, tools), most ids contain nothing to
    # clean, and the Python regular expressions dominate the export's run time.
    text = column.cast(pa.string())
    flagged = pc.match_substring_regex(text, CLEANING_TRIGGER)
    if not pc.any(flagged).as_py():
        return text
    encoded = pc.dictionary_encode(text)
    dictionary = encoded.dictionary.to_pylist()
    distinct = [_clean_value(value) for value in dictionary]
    return pc.take(pa.array(distinct, type=pa.string()), encoded.indices)


def write_findings_csv(
    con: duckdb.DuckDBPyConnection, path: str | Path, period: Period | None = None
) -> int:
    r"""Write the period's findings to a CSV file and return the number of rows.

    Strings are cleaned, then formula-neutralised
    (:func:`~auditkit.safety.neutralize_csv_cell`). Timestamps are written as
    ISO 8601 UTC with microseconds and a ``Z``, booleans as ``true``/``false``, and
    missing values as empty cells. Lines end in ``\n`` and the file is UTF-8.
    """
    rows = 0
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        header_written = False
        for batch in finding_batches(con, period or Period()):
            if not header_written:
                writer.writerow(batch.schema.names)
                header_written = True
            cells = [_csv_column(column).to_pylist() for column in batch.columns]
            writer.writerows(zip(*cells, strict=True))
            rows += batch.num_rows

        if not header_written:
            writer.writerow(_findings_columns(con))

    logger.info("wrote %d findings to %s", rows, path)
    return rows


def write_findings_parquet(
    con: duckdb.DuckDBPyConnection, path: str | Path, period: Period | None = None
) -> int:
    """Write the period's findings to a Parquet file and return the number of rows.

    Columns keep their DuckDB types (timestamps as microsecond UTC instants without a
    zone, as the workspace stores them). Row groups hold 100,000 rows each.
    """
    batches = finding_batches(con, period or Period())
    first = next(batches, None)
    if first is None:
        schema = _empty_schema(con)
        pq.write_table(schema.empty_table(), path)
        return 0

    rows = 0
    with pq.ParquetWriter(path, first.schema) as writer:
        for table in _fixed_row_groups(first, batches):
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            rows += table.num_rows

    logger.info("wrote %d findings to %s", rows, path)
    return rows


def _fixed_row_groups(
    first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]
) -> Iterator[pa.Table]:
    pending = pa.Table.from_batches([first])
    for batch in rest:
        pending = pa.concat_tables([pending, pa.Table.from_batches([batch])])
        while pending.num_rows >= ROW_GROUP_ROWS:
            yield pending.slice(0, ROW_GROUP_ROWS).combine_chunks()
            pending = pending.slice(ROW_GROUP_ROWS)

    while pending.num_rows > ROW_GROUP_ROWS:
        yield pending.slice(0, ROW_GROUP_ROWS).combine_chunks()
        pending = pending.slice(ROW_GROUP_ROWS)
    if pending.num_rows:
        yield pending.combine_chunks()


def _is_text(data_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_string_view(data_type)
    )


def _clean_value(value: str | None) -> str | None:
    if value is None:
        return None
    return clean_text(value)


def _csv_column(column: pa.Array) -> pa.Array:
    # Column-wise equivalent of _csv_cell, so that writing a row costs no Python call
    # per cell.
    kind = column.type
    if pa.types.is_timestamp(kind):
        text = pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ")
    elif pa.types.is_boolean(kind):
        text = pc.if_else(column, "true", "false")
    elif _is_text(kind):
        text = column.cast(pa.string())
        formula = pc.match_substring_regex(text, _FORMULA_START)
        text = pc.if_else(formula, pc.binary_join_element_wise("'", text, ""), text)
    elif pa.types.is_integer(kind):
        text = column.cast(pa.string())
    else:
        text = pa.array([_csv_cell(value) for value in column.to_pylist()], pa.string())
    return pc.fill_null(text, "")


# The same first characters as FORMULA_PREFIXES, as an RE2 pattern.
_FORMULA_START = r"^[=+\-@\t\r]"


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, str):
        return neutralize_csv_cell(value)
    return str(value)


def _findings_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        column[0] for column in con.sql("SELECT * FROM findings LIMIT 0").description
    ]


def _empty_schema(con: duckdb.DuckDBPyConnection) -> pa.Schema:
    empty = con.sql("SELECT * FROM findings LIMIT 0").to_arrow_table()
    return clean_batch(pa.RecordBatch.from_pylist([], schema=empty.schema)).schema
