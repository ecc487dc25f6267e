"""The Spark engine gives the same findings and windows as DuckDB, column for column.

Spark runs in local mode bound to 127.0.0.1. Where Java or PySpark is missing the
tests skip, except under CI (``CI`` set), where a missing engine is a failure.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from typer.testing import CliRunner

from auditkit.api import AuditWorkspace
from auditkit.cli.main import app
from auditkit.evaluate import evaluate
from auditkit.settings import Settings
from tests.reference.engine import load_world
from tests.reference.evaluator import World
from tests.reference.worlds import snapshot_worlds, worlds

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from hypothesis.strategies import SearchStrategy
    from pyspark.sql import SparkSession

    from tests.conftest import DemoWorld


def _spark_missing() -> str | None:
    if shutil.which("java") is None:
        return "no Java runtime (java) on PATH"
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "PySpark is not installed"
    return None


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    missing = _spark_missing()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the Spark engine cannot run under CI: {missing}")
        pytest.skip(missing)
    from auditkit.evaluate.spark import spark_session

    session = spark_session("local[2]", **{"spark.sql.shuffle.partitions": "2"})
    assert session.conf.get("spark.driver.host") == "127.0.0.1"
    yield session
    session.stop()


def _rows(
    con: duckdb.DuckDBPyConnection, table: str, key: str
) -> list[tuple[Any, ...]]:
    return con.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()  # noqa: S608


def _schema(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.execute(f"DESCRIBE {table}").fetchall()]


def assert_same_results(
    expected: duckdb.DuckDBPyConnection, actual: duckdb.DuckDBPyConnection
) -> None:
    """Both connections hold equal findings and stale_windows, types included."""
    for table, key in (("findings", "call_id"), ("stale_windows", "window_id")):
        assert _schema(actual, table) == _schema(expected, table)
        want, got = _rows(expected, table, key), _rows(actual, table, key)
        assert len(got) == len(want)
        columns = [name for name, _ in _schema(expected, table)]
        differences = [
            (w[0], name, a, b)
            for w, g in zip(want, got, strict=True)
            for name, a, b in zip(columns, w, g, strict=True)
            if a != b
        ]
        assert differences[:10] == []


def test_example_organisation(
    demo_world: DemoWorld, spark: SparkSession, tmp_path: Path
) -> None:
    copy = demo_world.copy_workspace(tmp_path / "spark.duckdb")
    with AuditWorkspace.open(copy) as opened:
        opened.connection.execute("DELETE FROM findings")
        summary = opened.evaluate(engine="spark", spark=spark)
    expected = duckdb.connect(str(demo_world.workspace_path), read_only=True)
    with duckdb.connect(str(copy), read_only=True) as actual:
        assert_same_results(expected, actual)
    counts = dict(
        expected.execute("SELECT verdict, count(*) FROM findings GROUP BY 1").fetchall()
    )
    assert summary.verdicts == counts
    assert len(counts) == 5
    assert summary.evaluated == summary.calls


# --- generated worlds ---------------------------------------------------------------

_PREFIXED = {
    "calls": ("call_id", "tool", "subject", "actor", "token_id", "session_id"),
    "grants": ("grant_id", "principal_id"),
    "memberships": ("membership_id", "member_id", "parent_id"),
    "events": ("event_id", "principal_id"),
    "catalog": ("tool",),
    "coverage": ("coverage_id",),
}


def _draw(strategy: SearchStrategy[World], count: int) -> list[World]:
    """Draw ``count`` worlds with a fixed seed, without evaluating any of them."""
    drawn: list[World] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(world: World) -> None:
        drawn.append(world)

    collect()
    return drawn


def merged(drawn: list[World]) -> World:
    """One world holding every drawn world, each under its own id prefix.

    The engines see one big world; the prefixes keep the worlds from sharing a
    principal, tool, token or record id. Coverage rows of all worlds apply to all.
    """
    parts: dict[str, list[dict[str, Any]]] = {name: [] for name in _PREFIXED}
    for number, world in enumerate(drawn):
        prefix = f"w{number}."
        for name, fields in _PREFIXED.items():
            for record in getattr(world, name):
                renamed = dict(record)
                for field in fields:
                    if renamed.get(field) is not None:
                        renamed[field] = prefix + str(renamed[field])
                parts[name].append(renamed)
    return World.of(**parts)


@pytest.mark.parametrize(
    ("strategies", "namespaces"),
    [
        pytest.param(
            [(worlds(), 60), (snapshot_worlds(), 60)], (), id="random-and-snapshot"
        ),
        pytest.param(
            [(worlds(explicit_coverage=False), 25)],
            ("svc",),
            id="derived-coverage-case-sensitive",
        ),
    ],
)
def test_generated_worlds(
    spark: SparkSession,
    tmp_path: Path,
    strategies: list[tuple[SearchStrategy[World], int]],
    namespaces: tuple[str, ...],
) -> None:
    from auditkit.evaluate.spark import evaluate_workspace

    drawn = [
        world for strategy, count in strategies for world in _draw(strategy, count)
    ]
    world = merged(drawn)
    chosen = Settings(case_sensitive_action_namespaces=namespaces)
    expected = duckdb.connect(str(tmp_path / "duckdb.duckdb"))
    load_world(expected, world)
    evaluate(expected, chosen)
    actual = duckdb.connect(str(tmp_path / "spark.duckdb"))
    load_world(actual, world)
    evaluate_workspace(actual, spark, chosen, staging=tmp_path / "staging")
    assert_same_results(expected, actual)
    verdicts = {
        row[0] for row in expected.execute("SELECT verdict FROM findings").fetchall()
    }
    assert len(verdicts) >= 4, f"too few verdicts to compare: {verdicts}"


def test_cli_runs_spark(
    demo_world: DemoWorld, spark: SparkSession, tmp_path: Path
) -> None:
    copy = demo_world.copy_workspace(tmp_path / "cli.duckdb")
    with AuditWorkspace.open(copy) as opened:
        assert opened.evaluate().incremental
    result = CliRunner().invoke(
        app,
        ["evaluate", "--engine", "spark", "--workspace", str(copy)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    expected = duckdb.connect(str(demo_world.workspace_path), read_only=True)
    with duckdb.connect(str(copy), read_only=True) as actual:
        assert_same_results(expected, actual)
    calls = expected.execute("SELECT count(*) FROM findings").fetchall()[0][0]
    assert f"{calls} calls evaluated" in result.output
    with AuditWorkspace.open(copy) as opened:
        # An incremental run cannot build on the record of a run Spark replaced.
        after = opened.evaluate()
    assert not after.incremental
    assert after.evaluated == calls


def test_failed_run_keeps_findings(
    demo_world: DemoWorld, spark: SparkSession, tmp_path: Path
) -> None:
    from auditkit.evaluate.spark import SparkEngineError

    copy = demo_world.copy_workspace(tmp_path / "broken.duckdb")
    with duckdb.connect(str(copy)) as con:
        before = _rows(con, "findings", "call_id")
        # A calls table without its tool column cannot be evaluated.
        con.execute("ALTER TABLE calls DROP COLUMN tool")
    with AuditWorkspace.open(copy) as opened:
        with pytest.raises(SparkEngineError, match="tool"):
            opened.evaluate(engine="spark", spark=spark)
        after = _rows(opened.connection, "findings", "call_id")
    assert after == before


def test_unknown_engine_is_refused(demo_world: DemoWorld, tmp_path: Path) -> None:
    copy = demo_world.copy_workspace(tmp_path / "refused.duckdb")
    with AuditWorkspace.open(copy) as opened, pytest.raises(ValueError, match="spark"):
        opened.evaluate(engine="polars")
    result = CliRunner().invoke(
        app, ["evaluate", "--engine", "polars", "--workspace", str(copy)]
    )
    assert result.exit_code == 2


def test_translation_keeps_no_duckdb_only_syntax() -> None:
    from auditkit.evaluate.spark import spark_statements

    statements = spark_statements(("svc",))
    text = "\n".join(statement.sql for statement in statements).upper()
    for construct in ("->>", "LIST_BOOL_OR", "AK_LIKE_PATTERN", "* EXCLUDE", "$CASE"):
        assert construct not in text
    assert "ARRAY('svc')".upper() in text
    assert [s.table for s in statements if not s.temporary] == [
        "findings",
        "stale_windows",
    ]


def test_world_prefixes_keep_worlds_apart() -> None:
    first = World.of(
        calls=[{"call_id": "c1", "tool": "t", "subject": "u1", "actor": None}],
        grants=[{"grant_id": "g1", "principal_id": "u1"}],
    )
    both = merged([first, replace(first)])
    assert [call["call_id"] for call in both.calls] == ["w0.c1", "w1.c1"]
    assert [call["actor"] for call in both.calls] == [None, None]
    assert [grant["principal_id"] for grant in both.grants] == ["w0.u1", "w1.u1"]
