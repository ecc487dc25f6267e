"""Fixtures of the log adapter tests: real sample folders and canonical checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from auditkit.errors import InputError
from auditkit.models import ToolCall
from auditkit.sources.base import RawRecord

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real public samples next to the repository; skips the test without them."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"sample folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture
def sample_file(shared_data: Path) -> Callable[[str], Path]:
    """Return a sample file under the shared folder, skipping when it is absent."""

    def find(relative: str) -> Path:
        path = shared_data / relative
        if not path.exists():
            pytest.skip(f"sample {relative} is absent")
        return path

    return find


def _jsonl_records(path: Path, member: str | None = None) -> list[RawRecord]:
    records = []
    with path.open(encoding="utf-8") as file:
        for number, text in enumerate(file, start=1):
            value = json.loads(text)
            value = value[member] if member else value
            records.append(RawRecord(str(path), number, value))
    return records


def _validated(rows: Iterable[dict[str, Any]]) -> list[ToolCall]:
    return [ToolCall.model_validate(row, strict=True) for row in rows]


def _map_one_by_one(adapter: Any, records: Iterable[RawRecord]) -> tuple[int, int, int]:
    mapped = rejected = rows = 0
    for record in records:
        try:
            output = list(adapter.map(record))
        except InputError:
            rejected += 1
            continue
        _validated(output)
        mapped += 1
        rows += len(output)
    return mapped, rejected, rows


@pytest.fixture
def jsonl_records() -> Callable[..., list[RawRecord]]:
    """Read a JSONL file into raw records, taking ``member`` of each line if given."""
    return _jsonl_records


@pytest.fixture
def validated() -> Callable[[Iterable[dict[str, Any]]], list[ToolCall]]:
    """Validate rows as the loader does: strictly against ToolCall."""
    return _validated


@pytest.fixture
def map_one_by_one() -> Callable[[Any, Iterable[RawRecord]], tuple[int, int, int]]:
    """Map each record alone; return (records mapped, records rejected, rows).

    Every mapped row is validated strictly; any exception other than InputError
    fails the test.
    """
    return _map_one_by_one
