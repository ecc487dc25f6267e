"""The integrity check finds each kind of damage, and ``auditkit check`` reports it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import pytest
from typer.testing import CliRunner

from auditkit.cli.main import app
from auditkit.errors import WorkspaceError
from auditkit.workspace import Workspace
from auditkit.workspace.integrity import check_integrity, check_workspace_file

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def loaded_workspace(tmp_path: Path, corpus: Path) -> Path:
    """A workspace file with calls (one quarantined line) and grants loaded."""
    path = tmp_path / "audit.duckdb"
    with Workspace.open(path) as workspace:
        workspace.load(corpus / "calls-malformed-line.jsonl")
        workspace.load(corpus / "grants-duplicates.csv")
    return path


def _damage(path: Path, *statements: str) -> None:
    connection = duckdb.connect(str(path))
    for statement in statements:
        connection.execute(statement)
    connection.close()


def _codes(path: Path) -> list[tuple[str, str]]:
    report = check_workspace_file(path)
    return [(problem.code, problem.table) for problem in report.problems]


def test_loaded_workspace_consistent(loaded_workspace: Path) -> None:
    report = check_workspace_file(loaded_workspace)

    assert report.ok
    assert report.row_counts["calls"] == 2
    assert report.row_counts["quarantine"] == 1
    assert "consistent" in report.to_text()


DAMAGE: dict[str, tuple[tuple[str, ...], list[tuple[str, str]]]] = {
    "missing-table": (("DROP TABLE events",), [("missing_table", "events")]),
    "missing-column": (
        ("ALTER TABLE coverage DROP COLUMN source",),
        [("missing_column", "coverage")],
    ),
    "orphan-row": (
        ("UPDATE calls SET load_id = 'calls-gone' WHERE call_id = 'c1'",),
        [("orphan_rows", "calls"), ("count_mismatch", "calls")],
    ),
    "orphan-quarantine": (
        ("UPDATE quarantine SET load_id = 'calls-gone'",),
        [("orphan_rows", "quarantine"), ("count_mismatch", "quarantine")],
    ),
    "count-mismatch": (
        ("UPDATE load_log SET rows_accepted = 9 WHERE kind = 'grants'",),
        [("count_mismatch", "grants")],
    ),
    "duplicate-id": (
        ("INSERT INTO grants SELECT * FROM grants WHERE grant_id = 'g1'",),
        [("count_mismatch", "grants"), ("duplicate_id", "grants")],
    ),
}


@pytest.mark.parametrize("name", list(DAMAGE))
def test_damage_found(name: str, loaded_workspace: Path) -> None:
    statements, expected = DAMAGE[name]
    _damage(loaded_workspace, *statements)

    assert _codes(loaded_workspace) == expected


def test_duplicate_ids_listed(loaded_workspace: Path) -> None:
    _damage(loaded_workspace, "INSERT INTO calls SELECT * FROM calls")

    report = check_workspace_file(loaded_workspace)
    duplicates = [p for p in report.problems if p.code == "duplicate_id"]

    assert len(duplicates) == 1
    assert "2 call_id values are stored more than once: 'c1', 'c3'" in (
        duplicates[0].message
    )


def test_check_leaves_file_unchanged(loaded_workspace: Path) -> None:
    _damage(loaded_workspace, "DROP TABLE events")
    check_workspace_file(loaded_workspace)

    assert ("missing_table", "events") in _codes(loaded_workspace)


def test_check_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match=r"workspace .*absent\.duckdb not found"):
        check_workspace_file(tmp_path / "absent.duckdb")


def test_check_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_text("not a database " * 500)

    with pytest.raises(WorkspaceError, match="cannot open workspace"):
        check_workspace_file(path)


def test_check_in_memory_workspace() -> None:
    with Workspace.open(":memory:") as workspace:
        assert check_integrity(workspace.connection).ok


def test_report_html_escapes(loaded_workspace: Path) -> None:
    _damage(loaded_workspace, "UPDATE calls SET call_id = '<b>x</b>'")

    shown = check_workspace_file(loaded_workspace)._repr_html_()

    assert "&#x27;&lt;b&gt;x&lt;/b&gt;&#x27;" in shown
    assert "<b>x</b>" not in shown


# The command line


def test_cli_check_passes(loaded_workspace: Path) -> None:
    result = CliRunner().invoke(app, ["check", "--workspace", str(loaded_workspace)])

    assert result.exit_code == 0
    assert "consistent" in result.output
    assert "table calls: 2 rows" in result.output


def test_cli_check_fails_on_problem(loaded_workspace: Path) -> None:
    _damage(loaded_workspace, "UPDATE load_log SET rows_quarantined = 5")

    result = CliRunner().invoke(app, ["check", "--workspace", str(loaded_workspace)])

    assert result.exit_code == 1
    assert "problem [count_mismatch] quarantine" in result.output


def test_cli_check_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["check", "--workspace", str(tmp_path / "absent.duckdb")]
    )

    assert result.exit_code == 1
    assert "not found" in result.stderr


def test_cli_check_help_has_example() -> None:
    result = CliRunner().invoke(app, ["check", "--help"])

    assert "auditkit check --workspace audit.duckdb" in result.output
