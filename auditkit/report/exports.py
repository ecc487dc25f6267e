"""Findings exports: CSV for spreadsheets, Parquet for data tools.

Both files hold every column of the ``findings`` table for the period, sorted by
``(ts, call_id, finding_id)``, with every string passed through
:func:`auditkit.safety.clean_text` (secrets redacted, control characters
removed). Neither contains a generation time, so the same workspace and period give
byte-identical files.

The work runs in DuckDB. :func:`cleaned_findings` selects the period's rows, cleans
their strings and sorts them, and the writers here and in :mod:`auditkit.report.ocsf`
read that source. DuckDB builds each CSV and OCSF line, and a second thread writes the
lines to the file. The SQL tests every string against :data:`CLEANING_TRIGGER`
and hands only the strings that match to ``clean_text``, which is registered as a
Python function on the connection while the source is open.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from duckdb.func import PythonUDFType

from auditkit.report.period import Period
from auditkit.safety import CLEANING_TRIGGER, clean_text

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator, Sequence

logger = logging.getLogger(__name__)

# Rows fetched from DuckDB at a time; bounds memory on large workspaces.
BATCH_ROWS = 50_000
# Rows per Parquet row group. Fixed, so the file layout does not depend on how DuckDB
# happened to split its result into batches.
ROW_GROUP_ROWS = 100_000

FINDINGS_ORDER = "ts, call_id, finding_id"

# Batches of lines handed to the writing thread and not yet written; bounds memory.
_WRITES_IN_FLIGHT = 2


# Column of whether any cell of a CSV row needs quotes, inside write_cleaned_csv.
_NEEDS_QUOTES = "auditkit_needs_quotes"

# Column of the joined strings' trigger test, inside cleaned_findings' query.
_ROW_MATCHES = "auditkit_row_matches"

# Boolean column that cleaned_findings adds: the finding's verdict, before cleaning,
# is one of the verdicts the report lists (the OCSF export's rows).
REPORTED_COLUMN = "auditkit_reported"

ISO_MICROSECONDS = "%Y-%m-%dT%H:%M:%S.%fZ"

# The first characters of FORMULA_PREFIXES, as an RE2 pattern.
FORMULA_START = r"^[=+\-@\t\r]"

_INTEGER_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
    | {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)


@dataclass(frozen=True)
class CleanedFindings:
    """A period's findings with every string cleaned, in export order.

    ``source`` is a SQL FROM item (a temporary table, or a subquery that needs
    ``params``) whose rows are the findings sorted by ``(ts, call_id, finding_id)``.
    Its columns are those of ``findings``, listed in ``types`` with their DuckDB types,
    and :data:`REPORTED_COLUMN`. A projection or filter over it keeps that order.
    """

    con: duckdb.DuckDBPyConnection
    source: str
    params: dict[str, Any]
    types: dict[str, str]


@contextlib.contextmanager
def cleaned_findings(
    con: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    reported_verdicts: Sequence[str] = (),
    materialize: bool = False,
) -> Iterator[CleanedFindings]:
    """Open the period's cleaned, sorted findings as a source for the writers.

    Parameters
    ----------
    con
        Connection to a workspace with a ``findings`` table.
    period
        Reporting period; a finding belongs to it by its call time ``ts``.
    reported_verdicts
        Verdicts for which :data:`REPORTED_COLUMN` is true.
    materialize
        Clean and sort once into a temporary table, for a caller that writes several
        files; otherwise each query over the source cleans and sorts again.

    While the block runs, ``clean_text`` is registered on ``con`` and
    ``preserve_insertion_order`` is on; both are restored, and the table dropped,
    on exit.
    """
    types = findings_column_types(con)
    where, params = period_filter(period, "ts")
    params["reported_verdicts"] = list(reported_verdicts)

    with _export_session(con) as clean_function:
        select = _cleaned_select_sql(types, where, clean_function)
        if not materialize:
            yield CleanedFindings(con, f"({select})", params, types)
            return

        table = f"auditkit_findings_{uuid.uuid4().hex}"
        con.execute(f"CREATE TEMPORARY TABLE {table} AS {select}", params)
        try:
            yield CleanedFindings(con, table, {}, types)
        finally:
            con.execute(f"DROP TABLE IF EXISTS temp.{table}")


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
    with cleaned_findings(con, period, reported_verdicts=verdicts or ()) as cleaned:
        where = REPORTED_COLUMN if verdicts is not None else "TRUE"
        yield from _cleaned_batches(cleaned, where)


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


@contextlib.contextmanager
def registered_function(
    con: duckdb.DuckDBPyConnection,
    function: Callable[..., Any],
    *,
    vectorized: bool = False,
) -> Iterator[str]:
    """Register ``function``, from VARCHAR to VARCHAR, on ``con``; yield its SQL name.

    The name is new for each call, because DuckDB shares the functions of a
    connection with all its cursors, and the function is removed on exit. A
    ``vectorized`` function takes and returns Arrow arrays; DuckDB passes it only the
    values that are not NULL.
    """
    name = f"auditkit_{function.__name__.strip('_')}_{uuid.uuid4().hex}"
    kind = PythonUDFType.ARROW if vectorized else PythonUDFType.NATIVE
    con.create_function(
        name,
        function,
        [duckdb.sqltypes.VARCHAR],
        duckdb.sqltypes.VARCHAR,
        type=kind,
    )
    try:
        yield name
    finally:
        con.remove_function(name)


def sql_string(text: str) -> str:
    """Quote fixed text from auditkit's own code as a SQL string literal.

    Log-derived text never goes through this function: it reaches SQL as parameters.
    """
    return "'" + text.replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """Quote a column or table name for SQL."""
    return '"' + name.replace('"', '""') + '"'


def period_filter(period: Period, column: str) -> tuple[str, dict[str, Any]]:
    """Return a SQL condition on ``column`` (a trusted name) for the period.

    The bounds are the named parameters ``$since`` and ``$until``, which the returned
    dictionary holds.
    """
    conditions: list[str] = []
    params: dict[str, Any] = {}
    if period.since is not None:
        conditions.append(f"{column} >= $since")
        params["since"] = period.since
    if period.until is not None:
        conditions.append(f"{column} < $until")
        params["until"] = period.until

    return " AND ".join(conditions) or "TRUE", params


def findings_column_types(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Return the columns of ``findings``, in table order, with their DuckDB types."""
    relation = con.sql("SELECT * FROM findings LIMIT 0")
    return {
        name: str(kind)
        for name, kind in zip(relation.columns, relation.types, strict=True)
    }


def write_lines(
    cleaned: CleanedFindings,
    line: str,
    path: str | Path,
    *,
    where: str = "TRUE",
    header: str | None = None,
) -> int:
    r"""Write one line per row of ``cleaned``, after ``header`` if one is given.

    ``line`` is a SQL expression over the columns of ``cleaned.source`` that gives the
    line without its newline, and is never NULL. Each line is written as it is, as
    UTF-8, followed by ``\n``, in the source's order. A second thread writes the file
    while DuckDB builds the next batch of lines. Returns the number of rows written,
    the header excluded.
    """
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    sql = f"""
        SELECT concat({line}, chr(10)) AS line FROM {cleaned.source} WHERE {where}
    """  # noqa: S608
    reader = cleaned.con.sql(sql, params=cleaned.params).to_arrow_reader(BATCH_ROWS)
    rows = 0
    pending: deque[Future[int]] = deque()
    with reader, Path(path).open("wb") as handle, ThreadPoolExecutor(1) as writer:
        if header is not None:
            handle.write(header.encode("utf-8") + b"\n")
        for batch in reader:
            pending.append(writer.submit(handle.write, _string_bytes(batch.column(0))))
            rows += batch.num_rows
            if len(pending) > _WRITES_IN_FLIGHT:
                pending.popleft().result()
        for write in pending:
            write.result()

    return rows


def write_findings_csv(
    con: duckdb.DuckDBPyConnection, path: str | Path, period: Period | None = None
) -> int:
    r"""Write the period's findings to a CSV file and return the number of rows.

    Strings are cleaned, then formula-neutralised
    (:func:`~auditkit.safety.neutralize_csv_cell`). Timestamps are written as
    ISO 8601 UTC with microseconds and a ``Z``, booleans as ``true``/``false``, and
    missing values as empty cells. A cell that contains a comma, a double quote or a
    newline is quoted, its quotes doubled, as Python's ``csv.writer`` does by default.
    Lines end in ``\n`` and the file is UTF-8.
    """
    with cleaned_findings(con, period or Period()) as cleaned:
        return write_cleaned_csv(cleaned, path)


def write_cleaned_csv(cleaned: CleanedFindings, path: str | Path) -> int:
    """Write ``cleaned`` as :func:`write_findings_csv` does; return the rows written."""
    # Each step in its own SELECT, so that no expression is computed twice: the cell
    # texts with formulas neutralised, whether any cell of the row needs quotes, then
    # the line.
    names = [sql_identifier(name) for name in cleaned.types]
    cells = ", ".join(
        f"{_csv_text_sql(name, kind)} AS {name}"
        for name, kind in zip(names, cleaned.types.values(), strict=True)
    )
    needs_quotes = _needs_quotes_sql(f"concat({', '.join(names)})")
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    source = f"""(
        SELECT *, {needs_quotes} AS {_NEEDS_QUOTES}
        FROM (SELECT {cells} FROM {cleaned.source})
    )"""  # noqa: S608
    plain = ", ',', ".join(f"coalesce({name}, '')" for name in names)
    line = (
        f"CASE WHEN {_NEEDS_QUOTES} THEN {_quoted_csv_line_sql(names)} "
        f"ELSE concat({plain}) END"
    )
    csv_cells = CleanedFindings(cleaned.con, source, cleaned.params, cleaned.types)
    rows = write_lines(csv_cells, line, path, header=_csv_header(list(cleaned.types)))

    logger.info("wrote %d findings to %s", rows, path)
    return rows


def write_findings_parquet(
    con: duckdb.DuckDBPyConnection, path: str | Path, period: Period | None = None
) -> int:
    """Write the period's findings to a Parquet file and return the number of rows.

    Columns keep their DuckDB types (timestamps as microsecond UTC instants without a
    zone, as the workspace stores them). Row groups hold 100,000 rows each.
    """
    with cleaned_findings(con, period or Period()) as cleaned:
        return write_cleaned_parquet(cleaned, path)


def write_cleaned_parquet(cleaned: CleanedFindings, path: str | Path) -> int:
    """Write ``cleaned`` as :func:`write_findings_parquet` does; return the rows.

    A second thread encodes and writes each row group while DuckDB gives the rows of
    the next one.
    """
    with contextlib.closing(_cleaned_batches(cleaned)) as batches:
        first = next(batches, None)
        if first is None:
            schema = _empty_schema(cleaned.con)
            pq.write_table(schema.empty_table(), path)
            return 0

        rows = 0
        pending: deque[Future[None]] = deque()
        with (
            pq.ParquetWriter(path, first.schema) as parquet,
            ThreadPoolExecutor(1) as writer,
        ):
            for table in _fixed_row_groups(first, batches):
                pending.append(
                    writer.submit(parquet.write_table, table, ROW_GROUP_ROWS)
                )
                rows += table.num_rows
                if len(pending) > _WRITES_IN_FLIGHT:
                    pending.popleft().result()
            for write in pending:
                write.result()

    logger.info("wrote %d findings to %s", rows, path)
    return rows


@contextlib.contextmanager
def _export_session(con: duckdb.DuckDBPyConnection) -> Iterator[str]:
    # Yields the SQL name of clean_text. The writers rely on DuckDB keeping the order
    # of sorted rows through projections, which preserve_insertion_order = false
    # would let it drop.
    setting = con.execute("SELECT current_setting('preserve_insertion_order')")
    was_preserved = bool(setting.fetchall()[0][0])
    con.execute("SET preserve_insertion_order = true")
    try:
        with registered_function(con, _clean_column, vectorized=True) as name:
            yield name
    finally:
        if not was_preserved:
            con.execute("SET preserve_insertion_order = false")


def _cleaned_select_sql(types: dict[str, str], where: str, clean_function: str) -> str:
    # One test of the trigger on all strings of a row, joined, finds the rows with
    # nothing to clean: most of them, and the per-column tests cost far more. A
    # column can only match where the joined text does.
    text_columns = [
        f"findings.{sql_identifier(name)}"
        for name, kind in types.items()
        if kind == "VARCHAR"
    ]
    trigger = sql_string(CLEANING_TRIGGER)
    row_matches = "false"
    if text_columns:
        joined = f"concat_ws(chr(10), {', '.join(text_columns)})"
        row_matches = f"regexp_matches({joined}, {trigger})"

    columns = []
    for name, kind in types.items():
        column = f"findings.{sql_identifier(name)}"
        if kind == "VARCHAR":
            # Only text that the trigger matches goes to Python: any other text has
            # nothing to redact or strip.
            cleaned = (
                f"CASE WHEN regexp_matches({column}, {trigger}) "
                f"THEN {clean_function}({column}) ELSE {column} END"
            )
            column = f"CASE WHEN {_ROW_MATCHES} THEN {cleaned} ELSE {column} END"
        columns.append(f"{column} AS {sql_identifier(name)}")

    order = ", ".join(f"findings.{key.strip()}" for key in FINDINGS_ORDER.split(","))
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    return f"""
        SELECT {", ".join(columns)},
               list_contains(CAST($reported_verdicts AS VARCHAR[]), findings.verdict)
                   AS {REPORTED_COLUMN}
        FROM (
            SELECT *, {row_matches} AS {_ROW_MATCHES} FROM findings WHERE {where}
        ) AS findings
        ORDER BY {order}
    """  # noqa: S608


def _cleaned_batches(
    cleaned: CleanedFindings, where: str = "TRUE"
) -> Generator[pa.RecordBatch]:
    columns = ", ".join(sql_identifier(name) for name in cleaned.types)
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    sql = f"SELECT {columns} FROM {cleaned.source} WHERE {where}"  # noqa: S608
    reader = cleaned.con.sql(sql, params=cleaned.params).to_arrow_reader(BATCH_ROWS)
    with reader:
        yield from reader


def _clean_column(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    # Clean each distinct value once, and only values that can change: most columns
    # repeat a few values (verdicts, agents, tools), most ids contain nothing to
    # clean, and the Python regular expressions are slow. DuckDB passes a chunked
    # array when it calls this as a function in SQL.
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    text = column.cast(pa.string())
    flagged = pc.match_substring_regex(text, CLEANING_TRIGGER)
    if not pc.any(flagged).as_py():
        return text
    encoded = pc.dictionary_encode(text)
    dictionary = encoded.dictionary.to_pylist()
    distinct = [_clean_value(value) for value in dictionary]
    return pc.take(pa.array(distinct, type=pa.string()), encoded.indices)


def _csv_text_sql(column: str, kind: str) -> str:
    # The text of one cell before quoting, NULL for a missing value.
    if kind == "BOOLEAN":
        return f"CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' END"
    if kind in _INTEGER_TYPES:
        return f"CAST({column} AS VARCHAR)"
    if kind == "TIMESTAMP":
        return f"strftime({column}, {sql_string(ISO_MICROSECONDS)})"
    # NOTE: the findings table has no column of another type. One would be written
    # as DuckDB casts it to text, and neutralised as a string, but not cleaned.
    text = column if kind == "VARCHAR" else f"CAST({column} AS VARCHAR)"
    # neutralize_csv_cell: an apostrophe before a cell that starts like a formula. An
    # IN list would do, but DuckDB plans one as a join, which loses the sort order.
    return (
        f"CASE WHEN regexp_matches({text}, {sql_string(FORMULA_START)}) "
        f"THEN '''' || {text} ELSE {text} END"
    )


def _needs_quotes_sql(text: str) -> str:
    # csv.writer's default QUOTE_MINIMAL with lineterminator "\n" quotes a cell with
    # the delimiter, the quote character or a character of the line terminator.
    return (
        f"(contains({text}, ',') OR contains({text}, '\"') "
        f"OR contains({text}, chr(10)))"
    )


def _quoted_csv_line_sql(columns: list[str]) -> str:
    # A quoted cell has its quotes doubled. A missing value is an empty cell.
    cells = []
    for column in columns:
        quoted = f"'\"' || replace({column}, '\"', '\"\"') || '\"'"
        cells.append(
            f"CASE WHEN {column} IS NULL THEN '' "
            f"WHEN {_needs_quotes_sql(column)} THEN {quoted} ELSE {column} END"
        )
    separated = ", ',', ".join(cells)
    return f"concat({separated})"


def _csv_header(names: list[str]) -> str:
    # The header line without its newline.
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(names)
    return buffer.getvalue().removesuffix("\n")


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


def _string_bytes(column: pa.Array) -> pa.Buffer:
    # The UTF-8 bytes of every value of a string array without nulls, back to back.
    text = column if column.type == pa.string() else column.cast(pa.large_string())
    offset_type = np.int32 if text.type == pa.string() else np.int64
    _, offset_buffer, data = text.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=offset_type)
    first = int(offsets[text.offset])
    last = int(offsets[text.offset + len(text)])
    return data.slice(first, last - first)


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


def _empty_schema(con: duckdb.DuckDBPyConnection) -> pa.Schema:
    empty = con.sql("SELECT * FROM findings LIMIT 0").to_arrow_table()
    return clean_batch(pa.RecordBatch.from_pylist([], schema=empty.schema)).schema
