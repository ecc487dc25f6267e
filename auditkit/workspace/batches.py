"""Batch writes of validated records and quarantined ones, through Arrow tables.

No value read from an input file is ever written into SQL text: rows reach DuckDB
as registered Arrow tables, and the SQL names only tables and columns that the
canonical models define.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from auditkit.models import INPUT_MODELS, InputKind
from auditkit.safety import redact_secrets
from auditkit.workspace.schema import LOCATION_COLUMNS, RECORD_KEYS, model_columns

if TYPE_CHECKING:
    from collections.abc import Sequence

    import duckdb
    from pydantic import BaseModel

    from auditkit.workspace.validation import Problem

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "TIMESTAMP": pa.timestamp("us"),
    "BIGINT": pa.int64(),
}
_BATCH_VIEW = "auditkit_batch"
_STAGING_TABLE = "auditkit_staging"
_POSITION_COLUMN = "staging_position"


def table_columns(kind: InputKind) -> list[str]:
    """Return the columns of a kind's table: model fields, then location columns."""
    return [*model_columns(INPUT_MODELS[kind]), *LOCATION_COLUMNS]


def arrow_schema(kind: InputKind) -> pa.Schema:
    """Return the Arrow schema of a kind's rows, matching the workspace table."""
    columns = model_columns(INPUT_MODELS[kind]) | LOCATION_COLUMNS
    fields = [
        pa.field(name, _ARROW_TYPES[sql_type.removesuffix(" NOT NULL")])
        for name, sql_type in columns.items()
    ]
    return pa.schema([*fields, pa.field(_POSITION_COLUMN, pa.int64())])


class StagingTable:
    """Rows of one file, written in batches to a temporary table, then merged.

    :meth:`merge` inserts into the kind's table the first row of each record id
    that the table does not hold yet, and counts the others as duplicates.
    """

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        kind: InputKind,
        *,
        source_file: str,
        load_id: str,
    ) -> None:
        self.connection = connection
        self.kind = kind
        self.source_file = source_file
        self.load_id = load_id
        self.staged = 0
        self._schema = arrow_schema(kind)
        self._fields = list(INPUT_MODELS[kind].model_fields)
        self._varchar_fields = [
            name
            for name, sql_type in model_columns(INPUT_MODELS[kind]).items()
            if sql_type.startswith("VARCHAR")
        ]
        self._create_table()

    def add(self, rows: Sequence[tuple[BaseModel, int]]) -> None:
        """Write validated records, each with its source line, to the staging table."""
        if not rows:
            return
        records = [self._row(instance, line) for instance, line in rows]
        for offset, record in enumerate(records):
            record[_POSITION_COLUMN] = self.staged + offset
        batch = pa.Table.from_pylist(records, schema=self._schema)
        _insert_arrow(self.connection, _STAGING_TABLE, list(self._schema.names), batch)
        self.staged += len(records)

    def merge(self) -> tuple[int, int]:
        """Insert the staged rows that are new; return (accepted, duplicate) counts."""
        columns = ", ".join(_quoted(name) for name in table_columns(self.kind))
        key = _quoted(RECORD_KEYS[self.kind])
        table = _quoted(self.kind.value)
        # S608: the SQL names only model columns, and values stay in the staging table.
        query = (
            f"INSERT INTO {table} ({columns}) "  # noqa: S608
            f"SELECT {columns} FROM {_STAGING_TABLE} AS staged "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS stored "
            f"WHERE stored.{key} = staged.{key}) "
            f"QUALIFY row_number() OVER (PARTITION BY staged.{key} "
            f"ORDER BY staged.{_POSITION_COLUMN}) = 1"
        )
        result = self.connection.execute(query).fetchone()
        accepted = int(result[0]) if result else 0
        self.connection.execute(f"DROP TABLE {_STAGING_TABLE}")
        return accepted, self.staged - accepted

    def _create_table(self) -> None:
        columns = ", ".join(
            f"{_quoted(field.name)} {_sql_type(field.type)}" for field in self._schema
        )
        self.connection.execute(
            f"CREATE OR REPLACE TEMP TABLE {_STAGING_TABLE} ({columns})"
        )

    def _row(self, instance: BaseModel, line: int) -> dict[str, Any]:
        row = {name: getattr(instance, name) for name in self._fields}
        # Text columns also hold enums (a str subclass) and JSON lists and objects.
        for name in self._varchar_fields:
            value = row[name]
            if value is not None and type(value) is not str:
                row[name] = _column_value(value)
        row["source_file"] = self.source_file
        row["source_line"] = line
        row["load_id"] = self.load_id
        return row


def insert_quarantine(
    connection: duckdb.DuckDBPyConnection,
    load_id: str,
    kind: InputKind,
    problems: Sequence[Problem],
) -> None:
    """Store bad records in the quarantine table, one row per record."""
    columns = [
        "load_id",
        "source_file",
        "source_line",
        "kind",
        "field",
        "reason",
        "record",
    ]
    batch = pa.table(
        {
            "load_id": [load_id] * len(problems),
            "source_file": [problem.path for problem in problems],
            "source_line": pa.array([problem.line for problem in problems], pa.int64()),
            "kind": [kind.value] * len(problems),
            "field": pa.array([problem.field for problem in problems], pa.string()),
            "reason": [redact_secrets(problem.reason) for problem in problems],
            "record": pa.array(
                [_redacted(problem.record) for problem in problems], pa.string()
            ),
        }
    )
    _insert_arrow(connection, "quarantine", columns, batch)


def _redacted(text: str | None) -> str | None:
    # A rejected record may carry the token that authorised the call; the quarantine
    # keeps the record for review, never the whole secret.
    return None if text is None else redact_secrets(text)


def _insert_arrow(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    columns: list[str],
    batch: pa.Table,
) -> None:
    column_list = ", ".join(_quoted(name) for name in columns)
    # S608: the SQL names only known tables and columns; values come through Arrow.
    query = (
        f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {_BATCH_VIEW}"  # noqa: S608
    )
    connection.register(_BATCH_VIEW, batch)
    try:
        connection.execute(query)
    finally:
        connection.unregister(_BATCH_VIEW)


def _column_value(value: Any) -> Any:
    # Lists and objects are stored as JSON text, enums as their code.
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def _sql_type(arrow_type: pa.DataType) -> str:
    for sql_type, known in _ARROW_TYPES.items():
        if arrow_type == known:
            return sql_type
    message = f"no DuckDB type for Arrow type {arrow_type}"
    raise TypeError(message)


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
