"""Monotonic invariants: an allow never adds a violation, a deny never removes one.

Each drawn world carries an explicit coverage span, because with derived coverage an
added grant with an early start moves the coverage start and can turn an uncovered call
into a decided violation. Both the engine and the reference are checked.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import duckdb
import pytest
from hypothesis import HealthCheck, given, note, settings

from tests.reference.engine import engine_evaluation, engine_missing
from tests.reference.evaluator import VIOLATIONS, Evaluation, World, evaluate_world
from tests.reference.worlds import worlds_and_grants

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.reference.evaluator import Record

THOROUGH = os.environ.get("AUDITKIT_PROFILE") == "thorough"

invariant_settings = settings(
    max_examples=2000 if THOROUGH else 75,
    deadline=None,
    derandomize=not THOROUGH,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def shared_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """One in-memory DuckDB shared by every drawn world (each load replaces inputs)."""
    with duckdb.connect() as con:
        yield con


def evaluate_with(
    evaluator: str, con: duckdb.DuckDBPyConnection, world: World
) -> Evaluation:
    if evaluator == "engine":
        missing = engine_missing()
        if missing is not None:
            pytest.skip(missing)
        return engine_evaluation(world, con=con)
    return evaluate_world(world)


def violating_calls(evaluation: Evaluation) -> set[str]:
    return {row.call_id for row in evaluation.findings if row.verdict in VIOLATIONS}


def _before_and_after(
    evaluator: str, con: duckdb.DuckDBPyConnection, world: World, extra: Record
) -> tuple[set[str], set[str]]:
    note(f"world = {world!r}")
    note(f"added grant = {extra!r}")
    before = violating_calls(evaluate_with(evaluator, con, world))
    after = violating_calls(evaluate_with(evaluator, con, world.with_grant(extra)))
    return before, after


@pytest.mark.parametrize("evaluator", ["reference", "engine"])
@invariant_settings
@given(case=worlds_and_grants("allow", conditional=False))
def test_allow_adds_no_violation(
    evaluator: str,
    shared_connection: duckdb.DuckDBPyConnection,
    case: tuple[World, Record],
) -> None:
    before, after = _before_and_after(evaluator, shared_connection, *case)

    assert after - before == set()


@pytest.mark.parametrize("evaluator", ["reference", "engine"])
@invariant_settings
@given(case=worlds_and_grants("deny", conditional=None))
def test_deny_removes_no_violation(
    evaluator: str,
    shared_connection: duckdb.DuckDBPyConnection,
    case: tuple[World, Record],
) -> None:
    before, after = _before_and_after(evaluator, shared_connection, *case)

    assert before - after == set()
