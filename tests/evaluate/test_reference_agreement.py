"""The engine and the reference evaluator agree on random small worlds.

The normal run draws 500 worlds with a fixed seed; ``AUDITKIT_PROFILE=thorough`` draws
5000 with a random seed.
"""

from __future__ import annotations

import os
from dataclasses import asdict, replace
from typing import TYPE_CHECKING

import duckdb
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tests.reference.engine import engine_evaluation, engine_missing
from tests.reference.evaluator import Evaluation, WindowRow, World, evaluate_world
from tests.reference.worlds import worlds

if TYPE_CHECKING:
    from collections.abc import Iterator

THOROUGH = os.environ.get("AUDITKIT_PROFILE") == "thorough"
COMPARED = [
    "verdict",
    "reason",
    "user_result",
    "user_reason",
    "agent_result",
    "agent_reason",
    "certainty",
    "severity",
    "flags",
]

agreement_settings = settings(
    max_examples=5000 if THOROUGH else 500,
    deadline=None,
    derandomize=not THOROUGH,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
pytestmark = pytest.mark.skipif(
    engine_missing() is not None, reason=engine_missing() or ""
)


def finding_differences(expected: Evaluation, actual: Evaluation) -> list[str]:
    """List every compared column on which the two evaluations differ, per call."""
    differences = []
    found = actual.by_call()
    for row in expected.findings:
        other = found.get(row.call_id)
        if other is None:
            differences.append(f"{row.call_id}: missing from the engine's findings")
            continue
        for column in COMPARED:
            want, got = getattr(row, column), getattr(other, column)
            if want != got:
                differences.append(
                    f"{row.call_id}.{column}: reference {want!r}, engine {got!r}"
                )
    extra = set(found) - set(expected.by_call())
    differences += [f"{call_id}: not a call of the world" for call_id in sorted(extra)]
    return differences


def _comparable(window: WindowRow) -> dict[str, object]:
    rounded = replace(window, duration_seconds=round(window.duration_seconds, 6))
    return asdict(rounded)


@pytest.fixture(scope="module")
def shared_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """One in-memory DuckDB shared by every drawn world (each load replaces inputs)."""
    with duckdb.connect() as con:
        yield con


def compare(
    con: duckdb.DuckDBPyConnection, world: World, case_sensitive: tuple[str, ...]
) -> None:
    note(f"world = {world!r}")
    note(f"case-sensitive namespaces = {case_sensitive!r}")
    expected = evaluate_world(world, case_sensitive_action_namespaces=case_sensitive)
    actual = engine_evaluation(
        world, case_sensitive_action_namespaces=case_sensitive, con=con
    )

    assert finding_differences(expected, actual) == []
    assert [_comparable(w) for w in actual.windows] == [
        _comparable(w) for w in expected.windows
    ]


@agreement_settings
@given(world=worlds(), case_sensitive=st.sampled_from([(), (), ("svc",)]))
def test_engine_agrees_on_random_worlds(
    shared_connection: duckdb.DuckDBPyConnection,
    world: World,
    case_sensitive: tuple[str, ...],
) -> None:
    compare(shared_connection, world, case_sensitive)
