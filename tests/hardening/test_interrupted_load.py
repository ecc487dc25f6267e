"""A load killed with SIGKILL leaves the workspace as it was before or after the load.

A child process loads a large calls file into a copy of a workspace that already
contains one load. The parent kills it at points spread over the load's measured
duration, then reopens the workspace, runs the integrity check and ``auditkit
check``, and compares each table's row count and content checksum with the states
before and after a complete load.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from auditkit.cli.main import app
from auditkit.workspace import Workspace
from auditkit.workspace.integrity import check_integrity, expected_columns
from tests.hardening.worlds import write_calls

if TYPE_CHECKING:
    from pathlib import Path

LARGE_FILE_CALLS = 20_000
# Fractions of the measured load duration at which the child is killed; the last
# ones fall after the commit, so both outcomes are exercised.
KILL_FRACTIONS = (0.0, 0.2, 0.45, 0.7, 0.9, 1.6)
SECONDS_PER_RUN = 120

# Loads argv[2] into the workspace argv[1]; prints "loading" once the load has begun.
LOAD_IN_CHILD = textwrap.dedent(
    """
    import sys
    from auditkit.workspace import Workspace

    def announce(done, total, started=[]):
        if not started:
            started.append(True)
            print("loading", flush=True)

    with Workspace.open(sys.argv[1]) as workspace:
        workspace.load(sys.argv[2], progress=announce)
    print("done", flush=True)
    """
)

# load_log.loaded_at differs between runs, so it is left out of the checksum.
STATE_COLUMNS = {
    table: [column for column in columns if column != "loaded_at"]
    for table, columns in expected_columns().items()
}


def _state(path: Path) -> dict[str, tuple[int, int]]:
    """Return (rows, checksum) per table, reading the file as a fresh process would."""
    state = {}
    with Workspace.open(path) as workspace:
        for table, columns in STATE_COLUMNS.items():
            fields = ", ".join(f'"{column}"' for column in columns)
            # S608: table and column names come from the schema, not from input.
            query = (
                f"SELECT count(*), coalesce(sum(hash({fields})::HUGEINT), 0) "  # noqa: S608
                f'FROM "{table}"'
            )
            rows, checksum = workspace.sql(query).fetchall()[0]
            state[table] = (int(rows), int(checksum))
    return state


def _start_child(workspace: Path, calls: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - this interpreter on a fixed script
        [sys.executable, "-c", LOAD_IN_CHILD, str(workspace), str(calls)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )


def _wait_for_start(child: subprocess.Popen[str]) -> None:
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.strip() == "loading", f"child printed {line!r} before the load"


def _finish(child: subprocess.Popen[str]) -> None:
    child.wait(timeout=SECONDS_PER_RUN)
    assert child.stdout is not None
    child.stdout.close()


@pytest.fixture(scope="module")
def load_states(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, dict[str, tuple[int, int]], dict[str, tuple[int, int]], float]:
    """A workspace with one load, the large file, both states and the load time."""
    folder = tmp_path_factory.mktemp("interrupted")
    template = folder / "before.duckdb"
    with Workspace.open(template) as workspace:
        workspace.load(write_calls(folder / "calls-first.jsonl", "first", 100))
    large = write_calls(folder / "calls-large.jsonl", "large", LARGE_FILE_CALLS)

    complete = folder / "after.duckdb"
    shutil.copy(template, complete)
    child = _start_child(complete, large)
    _wait_for_start(child)
    started = time.monotonic()
    _finish(child)
    duration = time.monotonic() - started
    assert child.returncode == 0

    return template, large, _state(template), _state(complete), duration


def test_killed_load_before_or_after(
    load_states: tuple[
        Path, Path, dict[str, tuple[int, int]], dict[str, tuple[int, int]], float
    ],
    tmp_path: Path,
) -> None:
    template, large, before, after, duration = load_states
    jitter = random.Random(20260301)  # noqa: S311 - timing jitter, not secrets
    outcomes: list[str] = []

    for run, fraction in enumerate(KILL_FRACTIONS):
        workspace = tmp_path / f"run-{run}.duckdb"
        shutil.copy(template, workspace)
        child = _start_child(workspace, large)
        _wait_for_start(child)
        time.sleep(duration * fraction * jitter.uniform(0.9, 1.1))
        child.send_signal(signal.SIGKILL)
        _finish(child)

        with Workspace.open(workspace) as reopened:
            report = check_integrity(reopened.connection, str(workspace))
        cli = CliRunner().invoke(app, ["check", "--workspace", str(workspace)])
        state = _state(workspace)

        assert report.ok, report.to_text()
        assert cli.exit_code == 0, cli.output
        assert state in (before, after), f"run {run}: {state}"
        outcomes.append("before" if state == before else "after")

    assert "before" in outcomes
    assert outcomes[-1] == "after"


def test_states_differ(
    load_states: tuple[
        Path, Path, dict[str, tuple[int, int]], dict[str, tuple[int, int]], float
    ],
) -> None:
    _, _, before, after, _ = load_states

    assert before["calls"][0] == 100
    assert after["calls"][0] == 100 + LARGE_FILE_CALLS
    assert after["load_log"][0] == 2
