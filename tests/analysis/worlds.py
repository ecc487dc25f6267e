"""Small worlds for the analysis tests, written straight into a DuckDB workspace."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from auditkit.evaluate import evaluate
from auditkit.models import INPUT_MODELS, InputKind
from auditkit.workspace.schema import all_ddl

if TYPE_CHECKING:
    import duckdb

Record = dict[str, Any]


def at(text: str) -> datetime:
    """Return the naive UTC instant written as ``YYYY-MM-DD HH:MM``."""
    return datetime.fromisoformat(text)


def build_world(
    con: duckdb.DuckDBPyConnection, records: dict[InputKind, list[Record]]
) -> None:
    """Create the workspace tables, insert ``records`` and evaluate every call."""
    for statement in all_ddl():
        con.execute(statement)
    for kind, rows in records.items():
        _insert(con, kind, rows)
    evaluate(con)


def _insert(
    con: duckdb.DuckDBPyConnection, kind: InputKind, rows: list[Record]
) -> None:
    if not rows:
        return
    fields = list(INPUT_MODELS[kind].model_fields)
    prepared = []
    for line, row in enumerate(rows, start=1):
        record = {name: row.get(name) for name in fields}
        if isinstance(record.get("arguments"), dict):
            record["arguments"] = json.dumps(record["arguments"])
        record |= {"source_file": f"{kind.value}.jsonl", "source_line": line}
        record["load_id"] = "test-load"
        prepared.append(record)
    frame = pd.DataFrame(prepared).astype(object)
    con.register("test_rows", frame)
    con.execute(f"INSERT INTO {kind.value} BY NAME SELECT * FROM test_rows")  # noqa: S608 - kind is an enum value
    con.unregister("test_rows")
