"""A second process gets a clear error while a load has the workspace open.

A child process loads a large file. While it runs, this process opens the same
file through the library and through the CLI: each attempt must fail with
WorkspaceError (CLI: the message on stderr and exit status 1), and the load must
complete intact.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from auditkit.cli.main import app
from auditkit.errors import WorkspaceError
from auditkit.workspace import Workspace
from auditkit.workspace.integrity import check_workspace_file
from tests.hardening.worlds import write_calls

if TYPE_CHECKING:
    from pathlib import Path

LARGE_FILE_CALLS = 20_000
LOCKED = "is in use by another process"

# Loads argv[2] into argv[1]; prints "loading", then waits for a line on stdin
# before the load goes on, so the parent's attempts fall inside the load.
LOAD_AND_WAIT = textwrap.dedent(
    """
    import sys
    from auditkit.workspace import Workspace

    def pause(done, total, started=[]):
        if not started:
            started.append(True)
            print("loading", flush=True)
            sys.stdin.readline()

    with Workspace.open(sys.argv[1]) as workspace:
        workspace.load(sys.argv[2], progress=pause)
    """
)

CLI_COMMANDS = [
    ["load", "{calls}"],
    ["evaluate"],
    ["findings"],
    ["check"],
]


def test_second_process_during_load(tmp_path: Path) -> None:
    workspace = tmp_path / "audit.duckdb"
    calls = write_calls(tmp_path / "calls.jsonl", "c", LARGE_FILE_CALLS)
    small = write_calls(tmp_path / "calls-small.jsonl", "s", 3)
    child = subprocess.Popen(  # noqa: S603 - this interpreter on a fixed script
        [sys.executable, "-c", LOAD_AND_WAIT, str(workspace), str(calls)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "loading"

    try:
        with pytest.raises(WorkspaceError, match=LOCKED):
            Workspace.open(workspace)
        outcomes = [
            CliRunner().invoke(
                app,
                [
                    *(part.format(calls=small) for part in command),
                    "--workspace",
                    str(workspace),
                ],
            )
            for command in CLI_COMMANDS
        ]
    finally:
        child.stdin.write("go\n")
        child.stdin.close()
        child.wait(timeout=300)
        child.stdout.close()

    for command, outcome in zip(CLI_COMMANDS, outcomes, strict=True):
        assert outcome.exit_code == 1, command
        assert LOCKED in outcome.stderr, command
        assert "Traceback" not in outcome.output, command
    assert child.returncode == 0
    report = check_workspace_file(workspace)
    assert report.ok, report.to_text()
    assert report.row_counts["calls"] == LARGE_FILE_CALLS
