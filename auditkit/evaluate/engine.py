"""Run the evaluation SQL on a DuckDB connection holding the input tables."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

import pyarrow as pa

from auditkit.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Mapping

    import duckdb
    import pandas as pd

logger = logging.getLogger(__name__)

# The evaluation steps, in the order they run. Each file creates the tables the next
# ones read; the last two write the ``findings`` and ``stale_windows`` tables.
STEPS: tuple[str, ...] = (
    "01_resolved_calls.sql",
    "02_permissions.sql",
    "03_membership_paths.sql",
    "04_reached_grants.sql",
    "05_inactive_periods.sql",
    "06_side_states.sql",
    "07_revocations.sql",
    "08_findings.sql",
    "09_stale_windows.sql",
)

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True)
class EvaluationSummary:
    """Counts of one evaluation run."""

    calls: int
    verdicts: dict[str, int]
    stale_windows: int


def step_sql(name: str) -> str:
    """Return the SQL text of one evaluation step."""
    return resources.files("auditkit.evaluate").joinpath("sql", name).read_text("utf-8")


def split_statements(sql: str) -> list[str]:
    """Split a step file into statements; statements end with ``;`` at a line end."""
    parts = re.split(r";\s*\n", sql + "\n")
    return [part.strip() for part in parts if _has_code(part)]


def _has_code(text: str) -> bool:
    lines = [line for line in text.splitlines() if not line.strip().startswith("--")]
    return bool("".join(lines).strip())


def template_pieces(catalog: pd.DataFrame) -> pa.Table:
    """Split each catalog resource template into literal text and argument names.

    Examples
    --------
    >>> import pandas as pd
    >>> catalog = pd.DataFrame({"tool": ["t"], "resource_template": ["doc/{id}.txt"]})
    >>> template_pieces(catalog).to_pylist()  # doctest: +NORMALIZE_WHITESPACE
    [{'tool': 't', 'position': 0, 'literal': 'doc/', 'argument': None},
     {'tool': 't', 'position': 1, 'literal': None, 'argument': 'id'},
     {'tool': 't', 'position': 2, 'literal': '.txt', 'argument': None}]
    """
    rows: list[dict[str, object]] = []
    for tool, template in zip(
        catalog["tool"], catalog["resource_template"], strict=True
    ):
        for position, (literal, argument) in enumerate(_split_template(str(template))):
            rows.append(
                {
                    "tool": tool,
                    "position": position,
                    "literal": literal,
                    "argument": argument,
                }
            )
    return pa.Table.from_pylist(rows, schema=_PIECES_SCHEMA)


_PIECES_SCHEMA = pa.schema(
    [
        ("tool", pa.string()),
        ("position", pa.int64()),
        ("literal", pa.string()),
        ("argument", pa.string()),
    ]
)


def _split_template(template: str) -> list[tuple[str | None, str | None]]:
    pieces: list[tuple[str | None, str | None]] = []
    cursor = 0
    for match in _PLACEHOLDER.finditer(template):
        if match.start() > cursor:
            pieces.append((template[cursor : match.start()], None))
        pieces.append((None, match.group(1)))
        cursor = match.end()
    if cursor < len(template) or not pieces:
        pieces.append((template[cursor:], None))
    return pieces


def evaluate(
    con: duckdb.DuckDBPyConnection, settings: Settings | None = None
) -> EvaluationSummary:
    """Evaluate every call and replace the ``findings`` and ``stale_windows`` tables.

    The whole run is one transaction, so a failure leaves the previous findings in
    place. The rules are those of ``docs/semantics.md``.

    Parameters
    ----------
    con
        Connection to a database holding the input tables of
        :mod:`auditkit.workspace.schema`.
    settings
        Evaluation settings; ``case_sensitive_action_namespaces`` is read here.
    """
    settings = settings or Settings()
    catalog = con.sql("SELECT tool, resource_template FROM catalog").df()
    pieces = template_pieces(catalog)
    params = {
        "case_sensitive_namespaces": list(settings.case_sensitive_action_namespaces)
    }

    con.execute("BEGIN TRANSACTION")
    try:
        con.register("ak_template_pieces_frame", pieces)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE ak_template_pieces AS "
            "SELECT * FROM ak_template_pieces_frame"
        )
        con.unregister("ak_template_pieces_frame")
        for name in STEPS:
            _run_step(con, name, params)
        summary = _summarise(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    _drop_temporary_tables(con)
    logger.info("evaluated %d calls: %s", summary.calls, summary.verdicts)
    return summary


def _run_step(
    con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, object]
) -> None:
    logger.debug("running evaluation step %s", name)
    for statement in split_statements(step_sql(name)):
        used = {key: value for key, value in params.items() if f"${key}" in statement}
        con.execute(statement, used or None)


def _summarise(con: duckdb.DuckDBPyConnection) -> EvaluationSummary:
    rows = con.execute(
        "SELECT verdict, count(*) FROM findings GROUP BY verdict ORDER BY verdict"
    ).fetchall()
    verdicts = {str(verdict): int(count) for verdict, count in rows}
    # fetchall, not fetchone: DuckDB 2 keeps a partly fetched result open on the
    # connection and then rejects the next relation query.
    windows = int(con.execute("SELECT count(*) FROM stale_windows").fetchall()[0][0])
    return EvaluationSummary(
        calls=sum(verdicts.values()), verdicts=verdicts, stale_windows=windows
    )


def _drop_temporary_tables(con: duckdb.DuckDBPyConnection) -> None:
    names = con.execute(
        "SELECT table_name FROM duckdb_tables() "
        "WHERE temporary AND starts_with(table_name, 'ak_')"
    ).fetchall()
    for (name,) in names:
        con.execute(f'DROP TABLE IF EXISTS temp."{name}"')
