from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import pytest

from tests.review.worlds import build_world

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def two_week_world(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The two-week organisation, evaluated, in a real DuckDB file."""
    con = duckdb.connect(str(tmp_path / "review.duckdb"))
    build_world(con)
    yield con
    con.close()
