"""Run the evaluation SQL on a DuckDB connection holding the input tables."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

import pyarrow as pa

from auditkit.evaluate import incremental as increments
from auditkit.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    import duckdb
    import pandas as pd

logger = logging.getLogger(__name__)

# The evaluation steps, in the order they run. Each file creates the tables the next
# ones read. The first five read no calls; the next five read the calls (the findings
# step writes the ``findings`` table) and the last writes ``stale_windows``.
ENTITLEMENT_STEPS: tuple[str, ...] = (
    "01_coverage.sql",
    "02_templates.sql",
    "03_membership_paths.sql",
    "04_reached_grants.sql",
    "05_inactive_periods.sql",
)
CALL_STEPS: tuple[str, ...] = (
    "06_resolved_calls.sql",
    "07_actions.sql",
    "08_side_states.sql",
    "09_revocations.sql",
    "10_findings.sql",
)
WINDOW_STEPS: tuple[str, ...] = ("11_stale_windows.sql",)
STEPS: tuple[str, ...] = ENTITLEMENT_STEPS + CALL_STEPS + WINDOW_STEPS

# An incremental run writes the findings of the revisited calls here, then merges them.
_NEW_FINDINGS = "ak_new_findings"
_FINDINGS_TARGET = "CREATE OR REPLACE TABLE findings AS"

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True)
class EvaluationSummary:
    """Counts of one evaluation run.

    ``calls`` and ``verdicts`` count every finding in the workspace after the run.
    ``evaluated`` counts the calls this run evaluated, which is fewer than ``calls``
    when it was incremental. ``changed_since`` is the earliest instant at which the
    entitlements differ from the previous run's. It is None when they do not differ,
    and on a full run that did not compare them.
    """

    calls: int
    verdicts: dict[str, int]
    stale_windows: int
    evaluated: int | None = None
    incremental: bool = False
    reason: str = "full evaluation"
    changed_since: datetime | None = None


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
    con: duckdb.DuckDBPyConnection,
    settings: Settings | None = None,
    *,
    incremental: bool = False,
) -> EvaluationSummary:
    """Evaluate the calls and replace the ``findings`` and ``stale_windows`` tables.

    The whole run is one transaction, so a failure leaves the previous findings in
    place. The rules are those of ``docs/semantics.md``. Every run records what it saw
    (tables ``evaluation_state``, ``evaluation_loads``, ``evaluation_entitlements``).

    Parameters
    ----------
    con
        Connection to a database holding the input tables of
        :mod:`auditkit.workspace.schema`.
    settings
        Evaluation settings; ``case_sensitive_action_namespaces`` is read here.
    incremental
        Re-evaluate only the calls whose findings can differ from those of the last
        run (see :mod:`auditkit.evaluate.incremental`); the findings are the same as
        a full run's. It relies on calls being added only by loads, each with a new
        ``load_id``: after editing the input tables by hand, run a full evaluation.
        A first run, or a run after the rules, catalog or settings changed, is full.
    """
    settings = settings or Settings()
    catalog = con.sql("SELECT tool, resource_template FROM catalog").df()
    pieces = template_pieces(catalog)
    params = {
        "case_sensitive_namespaces": list(settings.case_sensitive_action_namespaces)
    }
    rules = increments.rules_fingerprint([step_sql(name) for name in STEPS])
    settings_print = increments.settings_fingerprint(settings)

    con.execute("BEGIN TRANSACTION")
    try:
        con.register("ak_template_pieces_frame", pieces)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE ak_template_pieces AS "
            "SELECT * FROM ak_template_pieces_frame"
        )
        con.unregister("ak_template_pieces_frame")
        catalog_print = increments.catalog_fingerprint(con)
        for name in ENTITLEMENT_STEPS:
            _run_step(con, name, params)
        increments.collect_entitlement_rows(con)
        plan = (
            increments.plan(con, rules, settings_print, catalog_print)
            if incremental
            else increments.Plan(full=True, reason="full evaluation")
        )
        if plan.full:
            for name in CALL_STEPS:
                _run_step(con, name, params)
        else:
            for name in CALL_STEPS:
                _run_step(con, name, params, findings_table=_NEW_FINDINGS)
            increments.merge_findings(con, _NEW_FINDINGS)
            con.execute("DROP TABLE temp.calls")
        for name in WINDOW_STEPS:
            _run_step(con, name, params)
        increments.record(con, rules, settings_print, catalog_print)
        summary = _summarise(con, plan)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    _drop_temporary_tables(con)
    logger.info(
        "evaluated %d of %d calls (%s): %s",
        summary.evaluated,
        summary.calls,
        plan.reason,
        summary.verdicts,
    )
    return summary


def _run_step(
    con: duckdb.DuckDBPyConnection,
    name: str,
    params: Mapping[str, object],
    *,
    findings_table: str | None = None,
) -> None:
    logger.debug("running evaluation step %s", name)
    for text in split_statements(step_sql(name)):
        statement = text
        if findings_table is not None and _FINDINGS_TARGET in text:
            statement = text.replace(
                _FINDINGS_TARGET,
                f"CREATE OR REPLACE TEMP TABLE {findings_table} AS",
                1,
            )
        used = {key: value for key, value in params.items() if f"${key}" in statement}
        con.execute(statement, used or None)


def _summarise(
    con: duckdb.DuckDBPyConnection, plan: increments.Plan
) -> EvaluationSummary:
    rows = con.execute(
        "SELECT verdict, count(*) FROM findings GROUP BY verdict ORDER BY verdict"
    ).fetchall()
    verdicts = {str(verdict): int(count) for verdict, count in rows}
    # fetchall, not fetchone: DuckDB 2 keeps a partly fetched result open on the
    # connection and then rejects the next relation query.
    windows = int(con.execute("SELECT count(*) FROM stale_windows").fetchall()[0][0])
    calls = sum(verdicts.values())
    return EvaluationSummary(
        calls=calls,
        verdicts=verdicts,
        stale_windows=windows,
        evaluated=calls if plan.full else plan.revisited,
        incremental=not plan.full,
        reason=plan.reason,
        changed_since=plan.since,
    )


def _drop_temporary_tables(con: duckdb.DuckDBPyConnection) -> None:
    names = con.execute(
        "SELECT table_name FROM duckdb_tables() "
        "WHERE temporary AND starts_with(table_name, 'ak_')"
    ).fetchall()
    for (name,) in names:
        con.execute(f'DROP TABLE IF EXISTS temp."{name}"')
