"""The core commands run end to end on real workspace files."""

from __future__ import annotations

import json
from io import StringIO
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from typer.testing import CliRunner

from auditkit.cli.main import app

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import DemoWorld

runner = CliRunner()


@pytest.fixture
def demo_copy(demo_world: DemoWorld, tmp_path: Path) -> Path:
    return demo_world.copy_workspace(tmp_path / "copy.duckdb")


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "load", "evaluate", "findings", "explain", "report"):
        assert command in result.output


@pytest.mark.parametrize(
    "command", ["demo", "load", "evaluate", "findings", "explain", "report"]
)
def test_command_help_has_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output


def test_load_then_evaluate_prints_counts(
    demo_world: DemoWorld, tmp_path: Path
) -> None:
    workspace = str(tmp_path / "fresh.duckdb")
    generated = demo_world.generated
    for path in (generated.catalog, generated.grants, generated.calls):
        loaded = runner.invoke(app, ["load", str(path), "--workspace", workspace])
        assert loaded.exit_code == 0, loaded.output
    evaluated = runner.invoke(app, ["evaluate", "--workspace", workspace])
    assert evaluated.exit_code == 0, evaluated.output
    assert f"{generated.call_count} calls evaluated" in evaluated.output


def test_load_missing_file_fails_with_remedy(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["load", str(tmp_path / "absent.jsonl"), "-w", str(tmp_path / "w.duckdb")]
    )
    assert result.exit_code == 1
    assert "absent.jsonl" in result.output


def test_findings_before_evaluate_fails(tmp_path: Path) -> None:
    from auditkit.workspace import Workspace

    empty = tmp_path / "empty.duckdb"
    with Workspace.open(empty):
        pass
    result = runner.invoke(app, ["findings", "-w", str(empty)])
    assert result.exit_code == 1
    assert "run 'auditkit evaluate' first" in result.output


def test_findings_filters_by_verdict(demo_copy: Path) -> None:
    result = runner.invoke(
        app,
        [
            "findings",
            "-w",
            str(demo_copy),
            "--verdict",
            "stale_authority",
            "--output-format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert rows
    assert {row["verdict"] for row in rows} == {"stale_authority"}


def test_findings_csv_matches_filtered_count(demo_copy: Path) -> None:
    result = runner.invoke(
        app,
        [
            "findings",
            "-w",
            str(demo_copy),
            "--flag",
            "enforcement_gap",
            "--min-severity",
            "medium",
            "--output-format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(StringIO(result.output))
    assert len(frame) > 0
    assert frame["flag_enforcement_gap"].all()
    assert set(frame["severity"]) <= {"medium", "high", "critical"}


def test_findings_parquet_needs_output(demo_copy: Path) -> None:
    result = runner.invoke(
        app, ["findings", "-w", str(demo_copy), "--output-format", "parquet"]
    )
    assert result.exit_code == 1
    assert "--output" in result.output


def test_findings_parquet_writes_file(demo_copy: Path, tmp_path: Path) -> None:
    target = tmp_path / "f.parquet"
    result = runner.invoke(
        app,
        [
            "findings",
            "-w",
            str(demo_copy),
            "--verdict",
            "user_over_scope",
            "--output-format",
            "parquet",
            "--output",
            str(target),
        ],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(target)
    assert set(frame["verdict"]) == {"user_over_scope"}


def test_explain_prints_chain(demo_copy: Path) -> None:
    result = runner.invoke(
        app, ["explain", "inc-offboard-priya-2", "-w", str(demo_copy)]
    )
    assert result.exit_code == 0, result.output
    assert "stale_authority" in result.output
    assert "accountable parties" in result.output


def test_report_fail_on_high_exits_3(demo_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = runner.invoke(
        app, ["report", "-w", str(demo_copy), "--out", str(out), "--fail-on", "high"]
    )
    assert result.exit_code == 3, result.output
    assert (out / "report.html").is_file()


def test_report_fail_on_high_passes_clean_org(
    demo_world: DemoWorld, tmp_path: Path
) -> None:
    # Only the background activity: every call of it is within scope.
    truth = pd.read_csv(demo_world.generated.ground_truth, dtype=str)
    clean_ids = set(truth.loc[truth["verdict"] == "within_scope", "call_id"])
    calls = [
        line
        for line in demo_world.generated.calls.read_text("utf-8").splitlines()
        if json.loads(line)["call_id"] in clean_ids
        and not json.loads(line)["call_id"].startswith("inc-")
    ]
    clean_calls = tmp_path / "calls.jsonl"
    clean_calls.write_text("\n".join(calls) + "\n", encoding="utf-8")
    workspace = str(tmp_path / "clean.duckdb")
    generated = demo_world.generated
    for path in (
        generated.catalog,
        generated.grants,
        generated.memberships,
        generated.events,
        generated.coverage,
        clean_calls,
    ):
        assert runner.invoke(app, ["load", str(path), "-w", workspace]).exit_code == 0
    assert runner.invoke(app, ["evaluate", "-w", workspace]).exit_code == 0
    result = runner.invoke(
        app,
        ["report", "-w", workspace, "--out", str(tmp_path / "r"), "--fail-on", "high"],
    )
    assert result.exit_code == 0, result.output


def test_findings_date_bounds_filter(demo_copy: Path) -> None:
    result = runner.invoke(
        app,
        [
            "findings",
            "-w",
            str(demo_copy),
            "--since",
            "2026-03-05",
            "--until",
            "2026-03-06T00:00:00+00:00",
            "--output-format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    times = [json.loads(line)["ts"] for line in result.output.splitlines()]
    assert times
    assert min(times) >= "2026-03-05T00:00:00"
    assert max(times) < "2026-03-06T00:00:00"


def test_findings_invalid_time_names_option(demo_copy: Path) -> None:
    result = runner.invoke(
        app, ["findings", "-w", str(demo_copy), "--since", "last tuesday"]
    )
    assert result.exit_code == 1
    assert "--since" in result.output


def test_report_closed_period_charts_diff(demo_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "fortnight"
    result = runner.invoke(
        app,
        [
            "report",
            "-w",
            str(demo_copy),
            "--out",
            str(out),
            "--since",
            "2026-03-18",
            "--until",
            "2026-04-01",
        ],
    )
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text("utf-8")
    chart = page.split('id="period-diff-chart"', 1)[1].split("</section>", 1)[0]
    assert "<svg" in chart
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["period_diff"] is not None


@pytest.mark.parametrize(
    "arguments",
    [
        ["evaluate"],
        ["findings"],
        ["explain", "some-finding"],
        ["drift"],
        [
            "reconstruct",
            "--user",
            "u1",
            "--agent",
            "a1",
            "--at",
            "2026-03-05T12:00:00Z",
        ],
        ["report"],
        ["triage", "some-finding"],
    ],
)
def test_missing_workspace_is_not_created(arguments: list[str], tmp_path: Path) -> None:
    typo = tmp_path / "typo.duckdb"
    result = runner.invoke(app, [*arguments, "--workspace", str(typo)])
    assert result.exit_code in (1, 2), result.output
    assert not typo.exists()
    if result.exit_code == 1:
        assert "not found" in result.output


def test_evaluate_says_why_it_ran_in_full(demo_copy: Path) -> None:
    first = runner.invoke(app, ["evaluate", "--full", "--workspace", str(demo_copy)])
    assert first.exit_code == 0, first.output
    assert "calls evaluated (full evaluation)" in first.output


def test_piped_table_keeps_long_values(demo_world: DemoWorld, tmp_path: Path) -> None:
    long_tool = "tool-" + "x" * 150
    calls = tmp_path / "calls.jsonl"
    record = {
        "call_id": "long-1",
        "ts": "2026-03-05T12:00:00Z",
        "tool": long_tool,
        "subject": "u1",
        "actor": "a1",
    }
    calls.write_text(json.dumps(record) + "\n", encoding="utf-8")
    workspace = str(tmp_path / "long.duckdb")
    assert runner.invoke(app, ["load", str(calls), "-w", workspace]).exit_code == 0
    assert runner.invoke(app, ["evaluate", "-w", workspace]).exit_code == 0
    listed = runner.invoke(app, ["findings", "-w", workspace], env={"COLUMNS": "80"})
    assert listed.exit_code == 0, listed.output
    assert long_tool in listed.output


def test_reconstruct_prints_empty_cells_blank(demo_copy: Path) -> None:
    result = runner.invoke(
        app,
        [
            "reconstruct",
            "--user",
            "priya.raman",
            "--from",
            "2026-03-05",
            "--to",
            "2026-03-06",
            "--workspace",
            str(demo_copy),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "token_issued" in result.output
    assert " nan " not in result.output
