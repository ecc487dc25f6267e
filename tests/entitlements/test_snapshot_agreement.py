"""The engine and the reference evaluator agree on worlds built from snapshots.

Grants and memberships carry windows in which only snapshots place their start or
end, and some grants are permission boundaries or exclude actions or resources. The
normal run draws 300 worlds with a fixed seed; ``AUDITKIT_PROFILE=thorough`` draws
3000 with a random seed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.evaluate.test_reference_agreement import compare
from tests.reference.worlds import snapshot_worlds

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.reference.evaluator import World

THOROUGH = os.environ.get("AUDITKIT_PROFILE") == "thorough"

snapshot_settings = settings(
    max_examples=3000 if THOROUGH else 300,
    deadline=None,
    derandomize=not THOROUGH,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def world_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """One in-memory DuckDB shared by every drawn world."""
    with duckdb.connect() as con:
        yield con


@snapshot_settings
@given(world=snapshot_worlds(), case_sensitive=st.sampled_from([(), ("svc",)]))
def test_engine_agrees_on_snapshot_worlds(
    world_connection: duckdb.DuckDBPyConnection,
    world: World,
    case_sensitive: tuple[str, ...],
) -> None:
    compare(world_connection, world, case_sensitive)
