"""Run the evaluation on Apache Spark from the same SQL the DuckDB engine runs.

The step files of :mod:`auditkit.evaluate.engine` are the one definition of the
rules. Each statement is parsed as DuckDB SQL with sqlglot and written as Spark
SQL. Before that, the DuckDB constructs that sqlglot passes through unchanged are
rewritten on the syntax tree: macros, ``->>`` with a computed key, 1-based list
indexing, ``epoch`` of an interval, ``list_bool_or`` over a ``list_transform``,
``from_json`` types and ``* EXCLUDE``. Each ``CREATE TABLE`` becomes a
checkpointed Spark DataFrame registered under the same name, so later statements
read it as they read the DuckDB table.

Inputs and outputs are Parquet: one file or folder per input table under
``inputs`` (``calls``, ``catalog``, ``grants``, ``memberships``, ``events``,
``coverage``), and ``findings`` and ``stale_windows`` folders under ``output``.
:func:`evaluate_workspace` moves a workspace's tables out and the results back.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
import sqlglot
from sqlglot import exp

from auditkit.errors import AuditkitError
from auditkit.evaluate.engine import (
    STEPS,
    EvaluationSummary,
    evaluate,
    split_statements,
    step_sql,
    template_pieces,
)
from auditkit.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

# The workspace tables the evaluation reads, and the tables it writes.
INPUT_TABLES: tuple[str, ...] = (
    "calls",
    "catalog",
    "grants",
    "memberships",
    "events",
    "coverage",
)
OUTPUT_TABLES: tuple[str, ...] = ("findings", "stale_windows")

# Settings that keep a local session on the loopback interface and quiet.
LOCAL_CONF: dict[str, str] = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
}
# Settings every session needs so that timestamps mean what they mean in DuckDB.
REQUIRED_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    "spark.sql.ansi.enabled": "false",
}


class SparkEngineError(AuditkitError):
    """The Spark engine could not start or could not run a statement."""


@dataclass(frozen=True)
class SparkStatement:
    """One evaluation statement as Spark runs it."""

    step: str
    table: str
    sql: str
    drop_columns: tuple[str, ...] = ()
    temporary: bool = True


@dataclass
class _Macros:
    bodies: dict[str, tuple[list[str], exp.Expression]] = field(default_factory=dict)

    def expand(self, tree: exp.Expression) -> exp.Expression:
        def replace(node: exp.Expression) -> exp.Expression:
            if not isinstance(node, exp.Anonymous):
                return node
            found = self.bodies.get(str(node.this).lower())
            if found is None:
                return node
            names, body = found
            values: dict[str, exp.Expression] = dict(
                zip(names, node.expressions, strict=True)
            )

            def bind(inner: exp.Expression) -> exp.Expression:
                if isinstance(inner, exp.Column) and not inner.table:
                    value = values.get(inner.name)
                    if value is not None:
                        return value.copy()
                return inner

            return body.copy().transform(bind)

        return tree.transform(replace)


def spark_session(master: str = "local[2]", **conf: str) -> SparkSession:
    """Start (or return) the Spark session the evaluation runs on.

    A ``local[N]`` master runs in this process's JVM and binds to 127.0.0.1 only.
    Any other master (``spark://host:7077``, ``yarn``, ``k8s://...``) is used as
    given, with only the settings the evaluation needs (UTC session time zone).

    Parameters
    ----------
    master
        The master URL.
    conf
        Further Spark settings, for example
        ``spark_session("yarn", **{"spark.executor.memory": "8g"})``.
    """
    local = master.startswith("local")
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    try:
        # PySpark is an optional extra: imported only when the engine is asked for.
        from pyspark.sql import SparkSession  # noqa: PLC0415
    except ImportError as error:  # pragma: no cover - depends on the install
        message = (
            "the Spark engine needs PySpark: install auditkit with the 'spark' extra "
            "(pip install 'auditkit[spark]') and a Java runtime 17 or newer"
        )
        raise SparkEngineError(message) from error
    settings = {**(LOCAL_CONF if local else {}), **REQUIRED_CONF, **conf}
    builder = SparkSession.builder.master(master).appName("auditkit")
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as error:
        message = (
            f"could not start Spark on {master}: {str(error).splitlines()[0]}; "
            "check that a Java runtime 17 or newer is installed (java -version)"
        )
        raise SparkEngineError(message) from error
    _require_conf(session)
    # Statement errors are raised as SparkEngineError with Spark's message. The
    # driver's own log of them would repeat it with a Java stack trace.
    session.sparkContext.setLogLevel("FATAL")
    return session


def _require_conf(session: SparkSession) -> None:
    for key, value in REQUIRED_CONF.items():
        session.conf.set(key, value)


@cache
def spark_statements(
    case_sensitive_namespaces: tuple[str, ...],
) -> list[SparkStatement]:
    """Translate every evaluation step into the statements Spark runs, in order."""
    macros = _Macros()
    statements: list[SparkStatement] = []
    for step in STEPS:
        for text in split_statements(step_sql(step)):
            tree = sqlglot.parse_one(text, read="duckdb")
            if not isinstance(tree, exp.Create):
                message = f"{step}: only CREATE statements can run on Spark"
                raise SparkEngineError(message)
            if str(tree.args.get("kind", "")).upper() == "MACRO":
                _remember_macro(macros, tree)
                continue
            statements.append(_translate(step, tree, macros, case_sensitive_namespaces))
    return statements


def _remember_macro(macros: _Macros, tree: exp.Create) -> None:
    function = tree.this
    names = [str(parameter.name) for parameter in function.expressions]
    body = macros.expand(tree.expression)
    macros.bodies[function.this.name.lower()] = (names, body)


def _translate(
    step: str,
    tree: exp.Create,
    macros: _Macros,
    case_sensitive_namespaces: tuple[str, ...],
) -> SparkStatement:
    table = tree.this.name
    query = macros.expand(tree.expression)
    drop: tuple[str, ...] = ()
    if isinstance(query, exp.Select):
        query, drop = _split_star_exclude(query)
    query = query.transform(_portable(case_sensitive_namespaces))
    sql = query.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    return SparkStatement(
        step=step,
        table=table,
        sql=sql,
        drop_columns=drop,
        temporary=table.startswith("ak_"),
    )


def _split_star_exclude(query: exp.Select) -> tuple[exp.Select, tuple[str, ...]]:
    """Turn ``SELECT * EXCLUDE (a)`` into ``SELECT *`` and the columns to drop."""
    drop: list[str] = []
    for projection in query.expressions:
        if isinstance(projection, exp.Star) and projection.args.get("except_"):
            drop.extend(column.name for column in projection.args["except_"])
            projection.set("except_", None)
    return query, tuple(drop)


def _portable(case_sensitive_namespaces: tuple[str, ...]) -> Any:
    """Return the syntax-tree rewrite that makes a DuckDB statement run on Spark."""
    namespaces: exp.Expression = exp.Array(
        expressions=[exp.Literal.string(name) for name in case_sensitive_namespaces]
    )
    if not case_sensitive_namespaces:
        namespaces = exp.cast(
            namespaces, exp.DataType.build("ARRAY<STRING>", dialect="spark")
        )

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            if node.name != "case_sensitive_namespaces":
                message = f"no value for the SQL parameter ${node.name}"
                raise SparkEngineError(message)
            return namespaces.copy()
        for rule in _RULES:
            replaced = rule(node)
            if replaced is not None:
                return replaced
        return node

    return rewrite


def _json_key(node: exp.Expression) -> exp.Expression | None:
    """``json ->> key`` with the key from a column: a bracketed JSON path."""
    if not (
        isinstance(node, exp.JSONExtractScalar)
        and isinstance(node.expression, exp.Column)
    ):
        return None
    path = exp.func(
        "CONCAT", exp.Literal.string("$['"), node.expression, exp.Literal.string("']")
    )
    return exp.Anonymous(this="GET_JSON_OBJECT", expressions=[node.this, path])


def _list_index(node: exp.Expression) -> exp.Expression | None:
    """``list[i]``: DuckDB lists count from 1, as Spark's ``element_at`` does."""
    if not (isinstance(node, exp.Bracket) and len(node.expressions) == 1):
        return None
    return exp.Anonymous(
        this="ELEMENT_AT", expressions=[node.this, node.expressions[0]]
    )


def _epoch_difference(node: exp.Expression) -> exp.Expression | None:
    """``epoch(a - b)``: the seconds between two instants, as a double."""
    if not (isinstance(node, exp.TimeToUnix) and isinstance(node.this, exp.Sub)):
        return None
    later, earlier = node.this.this, node.this.expression
    micros = exp.Sub(this=_unix_micros(later), expression=_unix_micros(earlier))
    return exp.Div(
        this=exp.cast(exp.Paren(this=micros), "DOUBLE"),
        expression=exp.Literal.number(1_000_000),
    )


def _json_list_type(node: exp.Expression) -> exp.Expression | None:
    """``from_json(text, '["VARCHAR"]')``: Spark names the type ``array<string>``."""
    if not isinstance(node, exp.FromJson):
        return None
    kind = node.expression
    if isinstance(kind, exp.Literal) and kind.this == '["VARCHAR"]':
        node.set("expression", exp.Literal.string("array<string>"))
    return node


def _any_of_transform(node: exp.Expression) -> exp.Expression | None:
    """``list_bool_or(list_transform(l, f))``: Spark's ``exists(l, f)``."""
    if not (
        isinstance(node, exp.Anonymous)
        and str(node.this).lower() == "list_bool_or"
        and len(node.expressions) == 1
        and isinstance(node.expressions[0], exp.Transform)
    ):
        return None
    transform = node.expressions[0]
    return exp.Anonymous(
        this="EXISTS", expressions=[transform.this, transform.expression]
    )


_RULES = (_json_key, _list_index, _epoch_difference, _json_list_type, _any_of_transform)


def _unix_micros(value: exp.Expression) -> exp.Expression:
    return exp.Anonymous(
        this="UNIX_MICROS", expressions=[exp.cast(value.copy(), "TIMESTAMP")]
    )


def evaluate_parquet(
    spark: SparkSession,
    inputs: str | Path,
    output: str | Path,
    settings: Settings | None = None,
) -> EvaluationSummary:
    """Evaluate the input tables under ``inputs``; write the results under ``output``.

    Parameters
    ----------
    spark
        The session to run on: :func:`spark_session`, or one attached to a cluster.
    inputs
        A folder (local or any path Spark reads, such as ``hdfs://`` or ``s3a://``)
        holding ``<table>.parquet`` for every table of :data:`INPUT_TABLES`.
    output
        A folder to write ``findings`` and ``stale_windows`` into, as Parquet; what
        is there is replaced.
    """
    settings = settings or Settings()
    _require_conf(spark)
    inputs, output = str(inputs).rstrip("/"), str(output).rstrip("/")
    for name in INPUT_TABLES:
        frame = spark.read.parquet(f"{inputs}/{name}.parquet")
        frame.createOrReplaceTempView(name)
    _register_template_pieces(spark)
    namespaces = tuple(settings.case_sensitive_action_namespaces)
    checkpointed: list[DataFrame] = []
    try:
        for statement in spark_statements(namespaces):
            started = time.perf_counter()
            frame = _run(spark, statement)
            if statement.temporary:
                frame = _keep(frame)
                checkpointed.append(frame)
                frame.createOrReplaceTempView(statement.table)
            else:
                target = f"{output}/{statement.table}"
                frame.write.mode("overwrite").parquet(target)
                spark.read.parquet(target).createOrReplaceTempView(statement.table)
            logger.debug(
                "spark: %s %s took %.1f s",
                statement.step,
                statement.table,
                time.perf_counter() - started,
            )
        return _summarise(spark)
    finally:
        for frame in checkpointed:
            frame.unpersist()


def _keep(frame: DataFrame) -> DataFrame:
    # Materialised, not cached: Spark 4.3 fails to cache a plan built on a
    # recursive CTE, and a checkpoint also cuts the lineage each step adds.
    return frame.localCheckpoint()


def _run(spark: SparkSession, statement: SparkStatement) -> DataFrame:
    try:
        frame = spark.sql(statement.sql)
    except Exception as error:
        message = (
            f"Spark rejected step {statement.step} ({statement.table}): "
            f"{str(error).splitlines()[0]}"
        )
        raise SparkEngineError(message) from error
    if statement.drop_columns:
        frame = frame.drop(*statement.drop_columns)
    return frame


def _register_template_pieces(spark: SparkSession) -> None:
    from pyspark.sql.types import (  # noqa: PLC0415 - an optional extra
        LongType,
        StringType,
        StructField,
        StructType,
    )

    rows = spark.table("catalog").select("tool", "resource_template").collect()
    catalog = pd.DataFrame(
        [(row["tool"], row["resource_template"]) for row in rows],
        columns=["tool", "resource_template"],
    )
    pieces = template_pieces(catalog).to_pylist()
    schema = StructType(
        [
            StructField("tool", StringType()),
            StructField("position", LongType()),
            StructField("literal", StringType()),
            StructField("argument", StringType()),
        ]
    )
    spark.createDataFrame(
        [(p["tool"], p["position"], p["literal"], p["argument"]) for p in pieces],
        schema,
    ).createOrReplaceTempView("ak_template_pieces")


def _summarise(spark: SparkSession) -> EvaluationSummary:
    rows = spark.sql(
        "SELECT verdict, count(*) AS calls FROM findings GROUP BY verdict"
    ).collect()
    verdicts = {str(row["verdict"]): int(row["calls"]) for row in sorted(rows)}
    windows = int(spark.sql("SELECT count(*) AS n FROM stale_windows").collect()[0][0])
    calls = sum(verdicts.values())
    return EvaluationSummary(
        calls=calls,
        verdicts=verdicts,
        stale_windows=windows,
        evaluated=calls,
        reason="full evaluation on Spark",
    )


def evaluate_workspace(
    con: duckdb.DuckDBPyConnection,
    spark: SparkSession,
    settings: Settings | None = None,
    staging: str | Path | None = None,
) -> EvaluationSummary:
    """Evaluate a workspace's calls on Spark and replace its findings and windows.

    The input tables are written as Parquet to ``staging``: a temporary folder
    when not given, and on a cluster a path every executor can read. Spark writes
    its results there. They are read back into the workspace in one transaction,
    with the column types the DuckDB engine gives them.
    """
    settings = settings or Settings()
    with _staging_folder(staging) as folder:
        inputs, output = f"{folder}/inputs", f"{folder}/output"
        Path(inputs).mkdir(parents=True, exist_ok=True)
        for name in INPUT_TABLES:
            target = _quoted_path(f"{inputs}/{name}.parquet")
            con.execute(f"COPY {name} TO {target} (FORMAT parquet)")
        summary = evaluate_parquet(spark, inputs, output, settings)
        _read_back(con, output, settings)
    return summary


@contextmanager
def _staging_folder(staging: str | Path | None) -> Iterator[str]:
    if staging is not None:
        yield str(staging).rstrip("/")
        return
    folder = tempfile.mkdtemp(prefix="auditkit-spark-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _quoted_path(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def _read_back(con: duckdb.DuckDBPyConnection, output: str, settings: Settings) -> None:
    types = _result_types(con, settings)
    order = {
        "findings": "ts, call_id",
        "stale_windows": "revoked_at, subject, actor",
    }
    con.execute("BEGIN TRANSACTION")
    try:
        for table in OUTPUT_TABLES:
            columns = ", ".join(
                f'CAST("{name}" AS {kind}) AS "{name}"' for name, kind in types[table]
            )
            source = _quoted_path(f"{output}/{table}/*.parquet")
            # Table and column names come from the engine's own schema.
            con.execute(
                f"CREATE OR REPLACE TABLE {table} AS SELECT {columns} "  # noqa: S608
                f"FROM read_parquet({source}) ORDER BY {order[table]}"
            )
        _forget_incremental_state(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _forget_incremental_state(con: duckdb.DuckDBPyConnection) -> None:
    """Make the next DuckDB evaluation a full one.

    An incremental DuckDB run compares the inputs with what the last DuckDB run
    recorded; after Spark replaced the findings, that record no longer describes
    them.
    """
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() "
        "WHERE NOT temporary AND table_name = 'evaluation_state'"
    ).fetchall()
    if tables:
        con.execute("DELETE FROM main.evaluation_state")


def _result_types(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> dict[str, list[tuple[str, str]]]:
    """Column names and types of the results, as the DuckDB engine makes them.

    The engine runs on empty copies of the input tables, so the Spark results are
    stored with exactly the schema a DuckDB evaluation would give them.
    """
    scratch = duckdb.connect()
    try:
        for name in INPUT_TABLES:
            described = con.execute(f"DESCRIBE {name}").fetchall()
            columns = ", ".join(f'"{row[0]}" {row[1]}' for row in described)
            scratch.execute(f"CREATE TABLE {name} ({columns})")
        evaluate(scratch, settings)
        return {
            table: [
                (str(row[0]), str(row[1]))
                for row in scratch.execute(f"DESCRIBE {table}").fetchall()
            ]
            for table in OUTPUT_TABLES
        }
    finally:
        scratch.close()
