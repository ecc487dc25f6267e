"""Fixtures of the hardening tests: the bad-input corpus and a small audit world."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.hardening.worlds import write_world

if TYPE_CHECKING:
    from collections.abc import Callable

CORPUS = Path(__file__).resolve().parent / "corpus"


@pytest.fixture
def corpus() -> Path:
    """The folder of committed bad-input files."""
    return CORPUS


@pytest.fixture
def world_writer(tmp_path: Path) -> Callable[..., Path]:
    """Write a small audit world into a new folder; keywords replace its values."""
    counter = iter(range(1_000))

    def write(**values: str) -> Path:
        folder = tmp_path / f"world-{next(counter)}"
        write_world(folder, **values)
        return folder

    return write
