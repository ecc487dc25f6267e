"""Script, HTML, spreadsheet-formula and terminal payloads in log fields stay inert.

The payloads sit in the tool name, the user and agent ids, a tool argument (which
becomes the resource), a call's own resource and the session id of a small world.
They then go through ``findings`` (table, CSV, JSON), ``explain``, ``reconstruct``
and the HTML report. The CLI runs under typer's CliRunner and its output bytes are
inspected.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from auditkit.api import AuditWorkspace
from auditkit.cli.main import app
from auditkit.safety import FORMULA_PREFIXES
from tests.hardening.worlds import CALL_IDS, write_world

CHROMIUM = Path("/usr/bin/chromium")

SCRIPT = "<script>alert(1)</script>"
# Leaves a mark in the DOM if a browser ever runs it.
IMG = "<img src=x onerror=\"document.body.setAttribute('data-owned','1')\">"
FORMULA = '=HYPERLINK("http://attacker.example/x","click")'
OSC_TITLE = "\x1b]0;owned\x07"
CLEAR_SCREEN = "\x1b[2J"
MARKUP = "[bold red]x[/]"

HOSTILE_WORLD = {
    "tool": FORMULA,
    "user": "+cmd" + OSC_TITLE,
    "agent": "@SUM(1+1)" + CLEAR_SCREEN + MARKUP,
    "argument": IMG,
    "resource": "-2+3" + SCRIPT,
    "session": MARKUP + OSC_TITLE,
    "note": SCRIPT,
}
WIDE_TERMINAL = {"COLUMNS": "400"}
MONTH = ["--from", "2026-03-01T00:00:00Z", "--to", "2026-04-01T00:00:00Z"]


@pytest.fixture(scope="module")
def hostile_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace file with the hostile world loaded and evaluated."""
    folder = tmp_path_factory.mktemp("hostile")
    write_world(folder / "inputs", **HOSTILE_WORLD)
    path = folder / "audit.duckdb"
    with AuditWorkspace.open(path) as workspace:
        workspace.load(folder / "inputs")
        workspace.evaluate()
    return path


@pytest.fixture(scope="module")
def report_folder(hostile_workspace: Path) -> Path:
    folder = hostile_workspace.parent / "report"
    result = _cli("report", "--out", str(folder), "--workspace", str(hostile_workspace))
    assert result.exit_code == 0, result.output
    return folder


def _cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=WIDE_TERMINAL)


def _assert_terminal_safe(output: bytes) -> None:
    assert b"\x1b" not in output
    assert b"\x07" not in output


def _assert_no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_PREFIXES), f"formula cell {cell!r}"


def test_world_carries_payloads(hostile_workspace: Path) -> None:
    with AuditWorkspace.open(hostile_workspace) as workspace:
        tools = {
            row[0] for row in workspace.sql("SELECT tool FROM findings").fetchall()
        }
        count = workspace.sql("SELECT count(*) FROM findings").fetchall()[0][0]

    assert FORMULA in tools
    assert count == len(CALL_IDS)


def test_findings_table_is_inert(hostile_workspace: Path) -> None:
    result = _cli("findings", "--workspace", str(hostile_workspace))

    assert result.exit_code == 0, result.output
    _assert_terminal_safe(result.stdout_bytes)
    assert MARKUP.encode() in result.stdout_bytes
    assert FORMULA.encode() in result.stdout_bytes


def test_findings_csv_has_no_formula(hostile_workspace: Path) -> None:
    result = _cli(
        "findings", "--output-format", "csv", "--workspace", str(hostile_workspace)
    )
    rows = list(csv.reader(io.StringIO(result.stdout)))

    assert result.exit_code == 0, result.output
    assert len(rows) == len(CALL_IDS) + 1
    _assert_terminal_safe(result.stdout_bytes)
    _assert_no_formula(rows)
    assert "'" + FORMULA in {cell for row in rows for cell in row}


def test_findings_json_is_inert(hostile_workspace: Path) -> None:
    result = _cli(
        "findings", "--output-format", "json", "--workspace", str(hostile_workspace)
    )

    assert result.exit_code == 0, result.output
    _assert_terminal_safe(result.stdout_bytes)
    assert b"\\u001b" not in result.stdout_bytes
    assert b"\\u0007" not in result.stdout_bytes


@pytest.mark.parametrize("call_id", CALL_IDS)
def test_explain_is_inert(call_id: str, hostile_workspace: Path) -> None:
    result = _cli("explain", call_id, "--workspace", str(hostile_workspace))

    assert result.exit_code == 0, result.output
    _assert_terminal_safe(result.stdout_bytes)
    assert MARKUP.encode() in result.stdout_bytes


def test_reconstruct_is_inert(hostile_workspace: Path) -> None:
    agent = HOSTILE_WORLD["agent"]
    result = _cli(
        "reconstruct",
        "--agent",
        agent,
        *MONTH,
        "--at",
        "2026-03-10T00:00:00Z",
        "--workspace",
        str(hostile_workspace),
    )

    assert result.exit_code == 0, result.output
    _assert_terminal_safe(result.stdout_bytes)
    assert "blast radius" in result.stdout


def test_error_message_is_inert(hostile_workspace: Path) -> None:
    result = _cli(
        "explain", HOSTILE_WORLD["user"], "--workspace", str(hostile_workspace)
    )

    assert result.exit_code == 1
    _assert_terminal_safe(result.stderr_bytes)


def test_report_csv_has_no_formula(report_folder: Path) -> None:
    text = (report_folder / "findings.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))

    assert len(rows) == len(CALL_IDS) + 1
    _assert_no_formula(rows)


def test_report_html_shows_text(report_folder: Path) -> None:
    page = (report_folder / "report.html").read_text(encoding="utf-8")

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert "&lt;img src=x onerror=" in page
    assert "<img src=x" not in page
    assert "\x1b" not in page


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_report_runs_no_script(report_folder: Path, tmp_path: Path) -> None:
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=2000",
        "--dump-dom",
        (report_folder / "report.html").as_uri(),
    ]
    dom = subprocess.run(  # noqa: S603 - fixed binary, arguments built here
        command, capture_output=True, text=True, timeout=120, check=True
    ).stdout

    assert re.search(r"<body[^>]*data-owned", dom) is None
    assert re.search(r"<img\b", dom) is None
    assert "&lt;img src=x onerror=" in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
