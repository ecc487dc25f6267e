"""The same inputs give byte-identical findings exports, whatever the load order.

Three workspaces get the same files: two load the folder in its sorted order, one
loads the files one by one in reverse order. Each writes the report folder, and
its findings.csv, findings.parquet and findings.ocsf.jsonl must be equal byte for
byte.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from auditkit.api import AuditWorkspace
from tests.hardening.worlds import write_world

if TYPE_CHECKING:
    from pathlib import Path

EXPORTS = ("findings.csv", "findings.parquet", "findings.ocsf.jsonl")
EXTRA_CALLS = 400
TOOLS = ("crm.read_ticket", "crm.delete_ticket", "crm.unknown")
SUBJECTS = ("alice", "bob", "carol")


def _write_extra_calls(path: Path) -> None:
    # Calls spread over the month and over every verdict, written out of time order.
    lines = []
    for index in reversed(range(EXTRA_CALLS)):
        record = {
            "call_id": f"x-{index:04d}",
            "ts": f"2026-03-{1 + index % 28:02d}T{index % 24:02d}:00:00Z",
            "tool": TOOLS[index % len(TOOLS)],
            "subject": SUBJECTS[index % len(SUBJECTS)],
            "actor": "support-agent",
            "arguments": {"ticket": f"T-{index % 17}"},
            "token_id": f"tok-{index % 5}",
            "token_issued_at": "2026-03-18T00:00:00Z",
            "outcome": "allowed" if index % 2 else "denied",
        }
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    write_world(folder)
    _write_extra_calls(folder / "calls-extra.jsonl")
    return folder


def _exports(inputs: Path, out: Path, *, reverse: bool) -> dict[str, bytes]:
    out.mkdir()
    with AuditWorkspace.open(out / "audit.duckdb") as workspace:
        if reverse:
            for path in sorted(inputs.iterdir(), reverse=True):
                workspace.load(path)
        else:
            workspace.load(inputs)
        workspace.evaluate()
        result = workspace.report(out / "report")
    return {name: (result.out_dir / name).read_bytes() for name in EXPORTS}


@pytest.fixture(scope="module")
def runs(
    inputs: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, bytes]]:
    folder = tmp_path_factory.mktemp("runs")
    return {
        "first": _exports(inputs, folder / "first", reverse=False),
        "second": _exports(inputs, folder / "second", reverse=False),
        "reversed": _exports(inputs, folder / "reversed", reverse=True),
    }


@pytest.mark.parametrize("name", EXPORTS)
def test_second_run_identical(name: str, runs: dict[str, dict[str, bytes]]) -> None:
    assert runs["second"][name] == runs["first"][name]


@pytest.mark.parametrize("name", EXPORTS)
def test_reversed_order_identical(name: str, runs: dict[str, dict[str, bytes]]) -> None:
    assert runs["reversed"][name] == runs["first"][name]


def test_exports_not_trivial(runs: dict[str, dict[str, bytes]]) -> None:
    rows = runs["first"]["findings.csv"].decode("utf-8").splitlines()

    assert len(rows) == EXTRA_CALLS + 6 + 1
    assert len(runs["first"]["findings.ocsf.jsonl"].splitlines()) > 100
