"""Fixtures shared by every test module."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from auditkit.workspace import Workspace

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """An empty workspace in a real DuckDB file under the test's folder."""
    with Workspace.open(tmp_path / "audit.duckdb") as opened:
        yield opened


@pytest.fixture
def write_jsonl(tmp_path: Path) -> Callable[[str, list[Any]], Path]:
    """Write records, one JSON value per line, to a file named ``name``.

    A ``str`` item is written as is, so tests can plant a malformed line.
    """

    def write(name: str, records: list[Any]) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            item if isinstance(item, str) else json.dumps(item) for item in records
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write
