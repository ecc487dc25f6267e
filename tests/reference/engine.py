"""Run the engine on a reference world in an in-memory DuckDB and read its results."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from auditkit.models import INPUT_MODELS, InputKind
from auditkit.settings import Settings
from auditkit.workspace.schema import LOCATION_COLUMNS, all_ddl, model_columns
from tests.reference.evaluator import (
    Evaluation,
    FindingRow,
    Record,
    WindowRow,
    World,
    window_order,
)

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

_WORLD_FIELDS: dict[InputKind, str] = {
    InputKind.CALLS: "calls",
    InputKind.GRANTS: "grants",
    InputKind.MEMBERSHIPS: "memberships",
    InputKind.EVENTS: "events",
    InputKind.CATALOG: "catalog",
    InputKind.COVERAGE: "coverage",
}


def engine_missing() -> str | None:
    """Return why the engine cannot be imported, or None when it can."""
    try:
        from auditkit.evaluate import evaluate  # noqa: F401
    except ImportError as error:
        return f"the evaluation engine is not importable yet: {error}"
    return None


@dataclass(frozen=True)
class EngineResult:
    """The engine's ``findings`` and ``stale_windows`` tables."""

    findings: pd.DataFrame
    windows: pd.DataFrame


def _columns(kind: InputKind) -> list[str]:
    return [*model_columns(INPUT_MODELS[kind]), *LOCATION_COLUMNS]


def _cell(value: Any) -> Any:
    # The workspace stores lists and objects as JSON text.
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _insert(
    con: duckdb.DuckDBPyConnection, kind: InputKind, records: Iterable[Record]
) -> None:
    columns = _columns(kind)
    values: list[Any] = []
    for line, record in enumerate(records, start=1):
        location = {
            "source_file": "world.jsonl",
            "source_line": line,
            "load_id": "world",
        }
        row = record | location
        values += [_cell(row.get(name)) for name in columns]
    if not values:
        return
    marks = "(" + ", ".join("?" for _ in columns) + ")"
    rows = ", ".join([marks] * (len(values) // len(columns)))
    names = ", ".join(columns)
    con.execute(f"INSERT INTO {kind.value} ({names}) VALUES {rows}", values)  # noqa: S608 - names come from the models


def load_world(con: duckdb.DuckDBPyConnection, world: World) -> None:
    """Create the input tables in ``con`` if needed and replace their rows by ``world``.

    A connection can so serve many worlds in turn, which keeps property tests fast.
    """
    for statement in all_ddl():
        con.execute(statement)
    for kind, name in _WORLD_FIELDS.items():
        con.execute(f"DELETE FROM {kind.value}")  # noqa: S608 - an enum value
        _insert(con, kind, getattr(world, name))


def run_engine(
    world: World,
    *,
    case_sensitive_action_namespaces: tuple[str, ...] = (),
    con: duckdb.DuckDBPyConnection | None = None,
) -> EngineResult:
    """Load ``world`` into ``con`` (a new in-memory DuckDB by default), run the engine.

    Returns the engine's ``findings`` and ``stale_windows`` tables as DataFrames.
    """
    from auditkit.evaluate import evaluate

    con = con or duckdb.connect()
    load_world(con, world)
    settings = Settings(
        case_sensitive_action_namespaces=case_sensitive_action_namespaces
    )
    evaluate(con, settings)
    findings = con.execute("SELECT * FROM findings ORDER BY call_id").df()
    windows = con.execute("SELECT * FROM stale_windows").df()
    return EngineResult(findings=findings, windows=windows)


def _text(value: Any) -> str | None:
    # The engine may store an absent reason as NULL or as empty text.
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NaT or value == "":
        return None
    return str(value)


def _instant(value: Any) -> datetime:
    return pd.Timestamp(value).to_pydatetime()


def _finding(row: dict[str, Any]) -> FindingRow:
    return FindingRow(
        call_id=str(row["call_id"]),
        verdict=str(row["verdict"]),
        reason=str(row["reason"]),
        user_result=str(row["user_result"]),
        user_reason=_text(row["user_reason"]),
        agent_result=str(row["agent_result"]),
        agent_reason=_text(row["agent_reason"]),
        certainty=str(row["certainty"]),
        severity=str(row["severity"]),
        flags=_text(row["flags"]) or "",
        action=_text(row["action"]),
        resource=_text(row["resource"]),
    )


def _window(row: dict[str, Any]) -> WindowRow:
    return WindowRow(
        subject=str(row["subject"]),
        actor=_text(row["actor"]),
        revoked_at=_instant(row["revoked_at"]),
        revocation_source=str(row["revocation_source"]),
        revocation_kind=str(row["revocation_kind"]),
        first_call_id=str(row["first_call_id"]),
        last_call_id=str(row["last_call_id"]),
        first_call_at=_instant(row["first_call_at"]),
        last_call_at=_instant(row["last_call_at"]),
        calls=int(row["calls"]),
        resources=_text(row["resources"]) or "",
        duration_seconds=float(row["duration_seconds"]),
    )


def engine_evaluation(
    world: World,
    *,
    case_sensitive_action_namespaces: tuple[str, ...] = (),
    con: duckdb.DuckDBPyConnection | None = None,
) -> Evaluation:
    """Run the engine and return its results in the reference's shape."""
    result = run_engine(
        world,
        case_sensitive_action_namespaces=case_sensitive_action_namespaces,
        con=con,
    )
    findings = [_finding(row) for row in result.findings.to_dict("records")]
    windows = [_window(row) for row in result.windows.to_dict("records")]
    windows.sort(key=lambda row: window_order(row.subject, row.actor, row.revoked_at))
    return Evaluation(findings=findings, windows=windows)
