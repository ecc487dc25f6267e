from __future__ import annotations

import json
from typing import TYPE_CHECKING

from auditkit.report.html import write_report
from tests.review.worlds import WEEK_TWO

if TYPE_CHECKING:
    from pathlib import Path

    import duckdb


def test_report_summary_has_period_diff(
    two_week_world: duckdb.DuckDBPyConnection, tmp_path: Path
):
    result = write_report(
        two_week_world, tmp_path / "out", since=WEEK_TWO[0], until=WEEK_TWO[1]
    )
    summary = json.loads(result.summary_json.read_text(encoding="utf-8"))
    assert summary["period_diff"]["counts"] == {
        "new": 2,
        "persisting": 1,
        "resolved": 1,
    }
    assert summary["period_diff"]["previous"]["since"] == "2026-03-01T00:00:00.000000Z"


def test_report_summary_has_controls(
    two_week_world: duckdb.DuckDBPyConnection, tmp_path: Path
):
    result = write_report(
        two_week_world, tmp_path / "out", since=WEEK_TWO[0], until=WEEK_TWO[1]
    )
    summary = json.loads(result.summary_json.read_text(encoding="utf-8"))
    by_control = {item["control_id"]: item for item in summary["controls"]}
    assert by_control["SP800-207 tenet 3"]["findings"] == 1
    assert by_control["ASI02"]["findings"] == 0


def test_report_page_has_review_sections(
    two_week_world: duckdb.DuckDBPyConnection, tmp_path: Path
):
    result = write_report(
        two_week_world, tmp_path / "out", since=WEEK_TWO[0], until=WEEK_TWO[1]
    )
    page = result.html.read_text(encoding="utf-8")
    order = ["windows", "period-diff", "controls", "charts"]
    positions = [page.index(f'<section id="{name}">') for name in order]
    assert positions == sorted(positions)
    assert "<script>alert(1)" not in page


def test_report_open_period_has_no_diff(
    two_week_world: duckdb.DuckDBPyConnection, tmp_path: Path
):
    result = write_report(two_week_world, tmp_path / "out", since=WEEK_TWO[0])
    summary = json.loads(result.summary_json.read_text(encoding="utf-8"))
    page = result.html.read_text(encoding="utf-8")
    assert summary["period_diff"] is None
    assert "has an open end" in page
