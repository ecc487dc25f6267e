from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import pytest
from typer.testing import CliRunner

from auditkit.cli.main import app
from auditkit.review.triage import current_triage
from tests.review.worlds import build_world, finding_id_of

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def world_file(tmp_path: Path) -> Path:
    path = tmp_path / "audit.duckdb"
    con = duckdb.connect(str(path))
    build_world(con)
    con.close()
    return path


def stale_finding(path: Path) -> str:
    con = duckdb.connect(str(path))
    try:
        return finding_id_of(con, "c-13")
    finally:
        con.close()


def test_cli_triage_records_decision(world_file: Path):
    finding = stale_finding(world_file)
    result = CliRunner().invoke(
        app,
        [
            "triage",
            finding,
            "--state",
            "acknowledged",
            "--comment",
            "offboarding ticket",
            "--reviewer",
            "dana",
            "--workspace",
            str(world_file),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"finding {finding}: acknowledged (by dana)" in result.output

    con = duckdb.connect(str(world_file))
    current = current_triage(con)
    con.close()
    assert current.to_dict("records")[0]["comment"] == "offboarding ticket"


def test_cli_triage_shows_history(world_file: Path):
    finding = stale_finding(world_file)
    runner = CliRunner()
    for state in ("acknowledged", "remediated"):
        runner.invoke(
            app,
            [
                "triage",
                finding,
                "--state",
                state,
                "--reviewer",
                "dana",
                "-w",
                str(world_file),
            ],
        )
    result = runner.invoke(app, ["triage", finding, "-w", str(world_file)])
    assert result.exit_code == 0, result.output
    assert "acknowledged" in result.output
    assert "remediated" in result.output


def test_cli_triage_default_reviewer(world_file: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LOGNAME", "night-shift")
    finding = stale_finding(world_file)
    result = CliRunner().invoke(
        app, ["triage", finding, "--state", "acknowledged", "-w", str(world_file)]
    )
    assert "(by night-shift)" in result.output


def test_cli_triage_unknown_finding(world_file: Path):
    result = CliRunner().invoke(
        app,
        [
            "triage",
            "ffffffffffffffff",
            "--state",
            "acknowledged",
            "-w",
            str(world_file),
        ],
    )
    assert result.exit_code == 1
    assert "finding 'ffffffffffffffff' not found" in result.output


def test_cli_triage_rejects_bad_state(world_file: Path):
    result = CliRunner().invoke(
        app, ["triage", "x", "--state", "closed", "-w", str(world_file)]
    )
    assert result.exit_code == 2


def test_cli_exceptions_lists_status(world_file: Path, tmp_path: Path):
    path = tmp_path / "exceptions.yaml"
    path.write_text(
        "exceptions:\n"
        "  - id: EXC-1\n"
        "    match: {agent: ghost-bot}\n"
        "    owner: ops\n"
        "    justification: pilot\n"
        "    expires: 2026-03-20\n",
        encoding="utf-8",
    )
    args = ["exceptions", str(path), "-w", str(world_file)]
    in_force = CliRunner().invoke(app, [*args, "--as-of", "2026-03-20"])
    expired = CliRunner().invoke(app, [*args, "--as-of", "2026-03-21"])
    assert "in force" in in_force.output
    assert "expired" in expired.output


@pytest.mark.parametrize("command", ["triage", "exceptions"])
def test_review_command_help_has_example(command: str):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output
