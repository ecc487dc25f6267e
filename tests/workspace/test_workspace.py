from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest

from auditkit.errors import NotFoundError, WorkspaceError
from auditkit.workspace import LoadResult, SkippedFile, Workspace
from auditkit.workspace.schema import all_ddl

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    WriteJsonl = Callable[[str, list[Any]], Path]

# Opens the workspace given as argv[1] and prints the WorkspaceError it gets.
OPEN_IN_OTHER_PROCESS = textwrap.dedent(
    """
    import sys
    from auditkit.errors import WorkspaceError
    from auditkit.workspace import Workspace
    try:
        Workspace.open(sys.argv[1]).close()
    except WorkspaceError as error:
        print(error)
        sys.exit(3)
    """
)


def open_in_other_process(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - runs this interpreter on a fixed script
        [sys.executable, "-c", OPEN_IN_OTHER_PROCESS, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_open_creates_tables(workspace: Workspace) -> None:
    names = workspace.table_names()

    assert len(names) == len(all_ddl())
    assert "calls" in names
    assert "quarantine" in names


def test_open_reopens_file(tmp_path: Path, write_jsonl: WriteJsonl) -> None:
    path = tmp_path / "audit.duckdb"
    with Workspace.open(path) as first:
        first.load(
            write_jsonl(
                "calls.jsonl",
                [{"call_id": "c1", "ts": "2026-03-01T00:00:00Z", "tool": "t"}],
            )
        )

    with Workspace.open(path) as second:
        assert len(second.table("calls")) == 1


def test_open_applies_settings(tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "a.duckdb", threads=2, memory_limit="256MB") as ws:
        threads = ws.sql("SELECT current_setting('threads')").fetchall()

        assert threads == [(2,)]
        assert ws.settings.memory_limit == "256MB"


def test_open_invalid_setting(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="invalid setting 'threads'"):
        Workspace.open(tmp_path / "a.duckdb", threads="many")


def test_open_unknown_time_zone(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="unknown time zone 'Mars/Base'"):
        Workspace.open(tmp_path / "a.duckdb", default_timezone="Mars/Base")


def test_open_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match=r"folder .*nowhere does not exist"):
        Workspace.open(tmp_path / "nowhere" / "a.duckdb")


def test_open_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_text("just some text that is long enough to hold a header " * 200)

    with pytest.raises(WorkspaceError, match="cannot open workspace"):
        Workspace.open(path)


def test_second_process_during_load(tmp_path: Path, write_jsonl: WriteJsonl) -> None:
    path = tmp_path / "audit.duckdb"
    records = [{"call_id": "c1", "ts": "2026-03-01T00:00:00Z", "tool": "t"}]
    outcomes: list[subprocess.CompletedProcess[str]] = []

    def open_elsewhere(done: int, total: int) -> None:
        if not outcomes:
            outcomes.append(open_in_other_process(path))

    with Workspace.open(path) as workspace:
        workspace.load(write_jsonl("calls.jsonl", records), progress=open_elsewhere)

    assert outcomes[0].returncode == 3
    assert "is in use by another process" in outcomes[0].stdout
    assert "wait for it to finish or open a copy" in outcomes[0].stdout


def test_table_not_found(workspace: Workspace) -> None:
    with pytest.raises(
        NotFoundError, match=r"no table 'cals' .* tables: calls, catalog"
    ):
        workspace.table("cals")


def test_sql_takes_parameters(workspace: Workspace) -> None:
    relation = workspace.sql("SELECT count(*) FROM calls WHERE call_id = ?", ["x'; --"])

    assert relation.fetchall() == [(0,)]


def test_closed_workspace(tmp_path: Path) -> None:
    workspace = Workspace.open(tmp_path / "a.duckdb")
    workspace.close()
    workspace.close()

    assert "closed" in repr(workspace)
    with pytest.raises(WorkspaceError, match="is closed; open it again"):
        workspace.table("calls")


def test_repr_lists_row_counts(workspace: Workspace) -> None:
    assert "calls=0" in repr(workspace)


def test_html_repr_escapes(tmp_path: Path, write_jsonl: WriteJsonl) -> None:
    folder = tmp_path / "<b>"
    folder.mkdir()
    records = [{"call_id": "c1", "ts": "2026-03-01T00:00:00Z", "tool": "t"}]

    with Workspace.open(folder / "a.duckdb") as workspace:
        workspace.load(write_jsonl("calls.jsonl", records))
        text = workspace._repr_html_()

    assert "&lt;b&gt;" in text
    assert "<b>" not in text
    assert "1 files loaded: 1 rows accepted" in text


def test_load_result_html_escapes() -> None:
    result = LoadResult(
        files=(),
        rows_accepted=0,
        rows_quarantined=0,
        rows_duplicate=0,
        skipped_files=(SkippedFile("<script>.jsonl", "kind unknown"),),
    )

    text = result._repr_html_()

    assert "&lt;script&gt;.jsonl" in text
    assert "<script>" not in text
