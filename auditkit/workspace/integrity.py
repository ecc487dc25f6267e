"""Consistency checks of a workspace file: tables, load log, quarantine and ids.

A workspace is consistent when every input table and log table exists with the
columns of :mod:`auditkit.workspace.schema`, every stored or quarantined row belongs
to a load in ``load_log``, the counts of each ``load_log`` row match the rows stored
under its ``load_id``, and no record id is stored twice. A load that was interrupted,
even by ``SIGKILL``, must leave the file consistent, because a load is one DuckDB
transaction.

The check only reads. :func:`check_workspace_file` opens the file read-only and
without creating tables, so a missing table is reported instead of re-created.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from auditkit.errors import WorkspaceError
from auditkit.models import INPUT_MODELS, InputKind
from auditkit.workspace.schema import LOCATION_COLUMNS, RECORD_KEYS, model_columns

if TYPE_CHECKING:
    from collections.abc import Iterator

logger = logging.getLogger(__name__)

LOAD_LOG_COLUMNS = (
    "load_id",
    "source_file",
    "sha256",
    "kind",
    "rows_accepted",
    "rows_quarantined",
    "rows_duplicate",
    "loaded_at",
)
QUARANTINE_COLUMNS = (
    "load_id",
    "source_file",
    "source_line",
    "kind",
    "field",
    "reason",
    "record",
)
# Offending ids or load ids named in one problem's message; the count is exact.
SHOWN_IDS = 5


@dataclass(frozen=True)
class IntegrityProblem:
    """One inconsistency: a stable ``code``, the table it is in, and a message."""

    code: str
    table: str
    message: str


@dataclass(frozen=True)
class IntegrityReport:
    """Outcome of :func:`check_integrity`: the tables checked and every problem.

    ``ok`` is true when ``problems`` is empty. ``row_counts`` holds the rows of
    each checked table that exists.
    """

    path: str
    row_counts: dict[str, int]
    problems: tuple[IntegrityProblem, ...]

    @property
    def ok(self) -> bool:
        """Whether the workspace passed every check."""
        return not self.problems

    def to_text(self) -> str:
        """Return the report as plain text lines, problems first."""
        lines = [f"workspace {self.path}: {self._verdict()}"]
        lines.extend(
            f"problem [{problem.code}] {problem.table}: {problem.message}"
            for problem in self.problems
        )
        lines.extend(
            f"table {name}: {count} rows" for name, count in self.row_counts.items()
        )
        return "\n".join(lines)

    def _verdict(self) -> str:
        if self.ok:
            return "consistent"
        return f"{len(self.problems)} problems found"

    def _repr_html_(self) -> str:
        items = "".join(
            f"<li><code>{html.escape(problem.code)}</code> "
            f"{html.escape(problem.table)}: {html.escape(problem.message)}</li>"
            for problem in self.problems
        )
        problems = f"<ul>{items}</ul>" if items else ""
        title = html.escape(f"workspace {self.path}: {self._verdict()}")
        return f"<div><strong>{title}</strong>{problems}</div>"


def expected_columns() -> dict[str, tuple[str, ...]]:
    """Return the columns each input and log table must have, by table name."""
    tables: dict[str, tuple[str, ...]] = {}
    for kind in InputKind:
        columns = [*model_columns(INPUT_MODELS[kind]), *LOCATION_COLUMNS]
        tables[kind.value] = tuple(columns)
    tables["load_log"] = LOAD_LOG_COLUMNS
    tables["quarantine"] = QUARANTINE_COLUMNS
    return tables


def check_integrity(
    connection: duckdb.DuckDBPyConnection, path: str = "<connection>"
) -> IntegrityReport:
    """Check that a workspace's tables, load log and quarantine agree.

    Parameters
    ----------
    connection
        Open connection to the workspace; it is only read.
    path
        Name of the workspace shown in the report.

    Returns
    -------
    IntegrityReport
        Row counts of the tables checked, and every problem found.

    Examples
    --------
    >>> from auditkit.workspace import Workspace
    >>> with Workspace.open(":memory:") as workspace:
    ...     check_integrity(workspace.connection).ok
    True
    """
    present = _table_columns(connection)
    problems = list(_schema_problems(present))
    # Tables missing a column are reported once above and left out of later checks.
    complete = {
        name
        for name, columns in expected_columns().items()
        if set(columns) <= set(present.get(name, ()))
    }
    if {"load_log", "quarantine"} <= complete:
        problems.extend(_load_problems(connection, complete))
    problems.extend(_duplicate_problems(connection, complete))

    counts = {name: _count(connection, name) for name in sorted(complete)}
    report = IntegrityReport(path, counts, tuple(problems))
    logger.debug("checked workspace %s: %d problems", path, len(problems))
    return report


def check_workspace_file(path: str | Path) -> IntegrityReport:
    """Open a workspace file read-only and check it (see :func:`check_integrity`).

    Raises
    ------
    WorkspaceError
        If the file does not exist, is not a DuckDB database, or another process
        holds it open for writing.
    """
    location = Path(path)
    if not location.is_file():
        message = f"workspace {location} not found"
        raise WorkspaceError(message)

    connection = _connect_read_only(location)
    try:
        return check_integrity(connection, str(location))
    finally:
        connection.close()


def _connect_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as error:
        if "lock" in str(error).lower():
            message = (
                f"workspace {path} is in use by another process; "
                "wait for it to finish or check a copy"
            )
            raise WorkspaceError(message) from error
        message = f"cannot open workspace {path}: {error}"
        raise WorkspaceError(message) from error
    except duckdb.Error as error:
        message = f"cannot open workspace {path}: {error}"
        raise WorkspaceError(message) from error


def _table_columns(connection: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = connection.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(str(table), []).append(str(column))
    return tables


def _schema_problems(present: dict[str, list[str]]) -> Iterator[IntegrityProblem]:
    for table, columns in expected_columns().items():
        if table not in present:
            yield IntegrityProblem("missing_table", table, "the table does not exist")
            continue
        missing = [column for column in columns if column not in present[table]]
        if missing:
            message = f"missing columns: {', '.join(missing)}"
            yield IntegrityProblem("missing_column", table, message)


def _load_problems(
    connection: duckdb.DuckDBPyConnection, complete: set[str]
) -> Iterator[IntegrityProblem]:
    for table in sorted(complete - {"load_log"}):
        yield from _orphan_problems(connection, table)

    for kind in InputKind:
        if kind.value in complete:
            yield from _count_problems(connection, kind)
    yield from _quarantine_count_problems(connection)


def _orphan_problems(
    connection: duckdb.DuckDBPyConnection, table: str
) -> Iterator[IntegrityProblem]:
    # S608: the table name comes from expected_columns(), never from input data.
    query = (
        f"SELECT load_id, count(*) FROM {_quoted(table)} AS stored "  # noqa: S608
        "WHERE NOT EXISTS (SELECT 1 FROM load_log "
        "WHERE load_log.load_id = stored.load_id) "
        "GROUP BY load_id ORDER BY load_id"
    )
    rows = connection.execute(query).fetchall()
    if rows:
        total = sum(int(row[1]) for row in rows)
        message = (
            f"{total} rows belong to loads missing from load_log: "
            f"{_shown([str(row[0]) for row in rows])}"
        )
        yield IntegrityProblem("orphan_rows", table, message)


def _count_problems(
    connection: duckdb.DuckDBPyConnection, kind: InputKind
) -> Iterator[IntegrityProblem]:
    # S608: the table name is an InputKind value, never input data.
    query = (
        "SELECT log.load_id, log.rows_accepted, count(stored.load_id) "  # noqa: S608
        f"FROM load_log AS log LEFT JOIN {_quoted(kind.value)} AS stored "
        "ON stored.load_id = log.load_id WHERE log.kind = ? "
        "GROUP BY log.load_id, log.rows_accepted "
        "HAVING log.rows_accepted <> count(stored.load_id) ORDER BY log.load_id"
    )
    rows = connection.execute(query, [kind.value]).fetchall()
    for load_id, logged, stored in rows:
        message = (
            f"load {load_id} logs {logged} accepted rows but the table holds {stored}"
        )
        yield IntegrityProblem("count_mismatch", kind.value, message)


def _quarantine_count_problems(
    connection: duckdb.DuckDBPyConnection,
) -> Iterator[IntegrityProblem]:
    rows = connection.execute(
        "SELECT log.load_id, log.rows_quarantined, count(bad.load_id) "
        "FROM load_log AS log LEFT JOIN quarantine AS bad "
        "ON bad.load_id = log.load_id "
        "GROUP BY log.load_id, log.rows_quarantined "
        "HAVING log.rows_quarantined <> count(bad.load_id) ORDER BY log.load_id"
    ).fetchall()
    for load_id, logged, stored in rows:
        message = (
            f"load {load_id} logs {logged} quarantined rows but the quarantine "
            f"table holds {stored}"
        )
        yield IntegrityProblem("count_mismatch", "quarantine", message)


def _duplicate_problems(
    connection: duckdb.DuckDBPyConnection, complete: set[str]
) -> Iterator[IntegrityProblem]:
    for kind, key in RECORD_KEYS.items():
        if kind.value not in complete:
            continue
        # S608: table and key names come from the schema module, never input data.
        query = (
            f"SELECT {_quoted(key)}, count(*) FROM {_quoted(kind.value)} "  # noqa: S608
            f"GROUP BY {_quoted(key)} HAVING count(*) > 1 ORDER BY {_quoted(key)}"
        )
        rows = connection.execute(query).fetchall()
        if rows:
            message = (
                f"{len(rows)} {key} values are stored more than once: "
                f"{_shown([str(row[0]) for row in rows])}"
            )
            yield IntegrityProblem("duplicate_id", kind.value, message)


def _count(connection: duckdb.DuckDBPyConnection, table: str) -> int:
    # S608: the table name comes from expected_columns(), never from input data.
    query = f"SELECT count(*) FROM {_quoted(table)}"  # noqa: S608
    rows = connection.execute(query).fetchall()
    return int(rows[0][0])


def _shown(values: list[str]) -> str:
    # Ids come from input files, so they are quoted with repr and never all listed.
    text = ", ".join(repr(value) for value in values[:SHOWN_IDS])
    if len(values) > SHOWN_IDS:
        text = f"{text} and {len(values) - SHOWN_IDS} more"
    return text


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
