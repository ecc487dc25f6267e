"""Workspace tables, derived once from the canonical models."""

from __future__ import annotations

import types
import typing
from datetime import datetime
from enum import Enum
from typing import Any

from auditkit.models import INPUT_MODELS, InputKind

if typing.TYPE_CHECKING:
    from pydantic import BaseModel

# Columns every input table carries besides the model's fields.
LOCATION_COLUMNS: dict[str, str] = {
    "source_file": "VARCHAR NOT NULL",
    "source_line": "BIGINT NOT NULL",
    "load_id": "VARCHAR NOT NULL",
}

# The field that identifies a record of each kind: loading an id twice adds nothing.
RECORD_KEYS: dict[InputKind, str] = {
    InputKind.CALLS: "call_id",
    InputKind.GRANTS: "grant_id",
    InputKind.MEMBERSHIPS: "membership_id",
    InputKind.EVENTS: "event_id",
    InputKind.CATALOG: "tool",
    InputKind.COVERAGE: "coverage_id",
}

LOAD_LOG_DDL = """
CREATE TABLE IF NOT EXISTS load_log (
    load_id VARCHAR PRIMARY KEY,
    source_file VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    rows_accepted BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    rows_duplicate BIGINT NOT NULL,
    loaded_at TIMESTAMP NOT NULL
)
"""

QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS quarantine (
    load_id VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    kind VARCHAR NOT NULL,
    field VARCHAR,
    reason VARCHAR NOT NULL,
    record VARCHAR
)
"""


def column_type(annotation: Any) -> str:
    """Return the DuckDB type that stores a model field of this annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return column_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return column_type(members[0])
    if origin in (list, dict):
        # Lists and objects are stored as JSON text, which every engine can read.
        return "VARCHAR"
    if annotation is datetime:
        return "TIMESTAMP"
    if annotation is int:
        return "BIGINT"
    if isinstance(annotation, type) and issubclass(annotation, str | Enum):
        return "VARCHAR"
    message = f"no column type for annotation {annotation!r}"
    raise TypeError(message)


def model_columns(model: type[BaseModel]) -> dict[str, str]:
    """Return the model's columns as name to DuckDB type, in field order."""
    columns: dict[str, str] = {}
    for name, field in model.model_fields.items():
        sql_type = column_type(field.annotation)
        columns[name] = f"{sql_type} NOT NULL" if field.is_required() else sql_type
    return columns


def input_table_ddl(kind: InputKind) -> str:
    """Return the CREATE TABLE statement for one input kind."""
    columns = model_columns(INPUT_MODELS[kind]) | LOCATION_COLUMNS
    body = ",\n    ".join(f"{name} {sql_type}" for name, sql_type in columns.items())
    return f"CREATE TABLE IF NOT EXISTS {kind.value} (\n    {body}\n)"


def all_ddl() -> list[str]:
    """Return every statement that creates the workspace's input and log tables."""
    statements = [input_table_ddl(kind) for kind in InputKind]
    return [*statements, LOAD_LOG_DDL, QUARANTINE_DDL]
