"""Fixtures shared by every test module."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from auditkit.workspace import Workspace

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from auditkit.demo import DemoResult


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


@dataclass(frozen=True)
class DemoWorld:
    """The example organisation, generated, loaded and evaluated once per session."""

    folder: Path
    workspace_path: Path
    generated: DemoResult

    def copy_workspace(self, target: Path) -> Path:
        """Copy the evaluated workspace file to ``target``, for tests that change it."""
        shutil.copyfile(self.workspace_path, target)
        return target


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory: pytest.TempPathFactory) -> DemoWorld:
    """The example organisation with seed 7, loaded and evaluated in a DuckDB file."""
    from auditkit.api import AuditWorkspace
    from auditkit.demo import generate

    folder = tmp_path_factory.mktemp("demo")
    generated = generate(folder / "inputs", seed=7)
    workspace_path = folder / "demo.duckdb"
    inputs = [
        generated.catalog,
        generated.grants,
        generated.memberships,
        generated.events,
        generated.coverage,
        generated.calls,
    ]
    with AuditWorkspace.open(workspace_path) as opened:
        for path in inputs:
            opened.load(path)
        opened.evaluate()
    return DemoWorld(folder, workspace_path, generated)
