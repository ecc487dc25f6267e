from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import pytest

from auditkit.report import charts
from tests.report.conftest import SCRIPT_PAYLOAD

if TYPE_CHECKING:
    import duckdb


def _layer_data(chart: object) -> pd.DataFrame:
    data = charts.chart_data(chart)
    assert isinstance(data, pd.DataFrame)
    return data


def test_findings_over_time_groups_day_verdict_severity(
    march_world: duckdb.DuckDBPyConnection,
) -> None:
    chart = charts.findings_over_time(march_world)
    # 03-01: within/info, user_over/high; 03-02: stale/critical, agent_over/medium;
    # 03-03: indeterminate/low, stale/high; 03-04: within/low.
    assert len(chart.data) == 7
    assert chart.data["findings"].sum() == 8


def test_findings_over_time_lists_call_ids(
    march_world: duckdb.DuckDBPyConnection,
) -> None:
    data = charts.findings_over_time(march_world).data
    first_day = data[
        (data["bucket_start"] == "2026-03-01") & (data["severity"] == "info")
    ]
    assert first_day["example_calls"].tolist() == ["c1, c2"]


def test_findings_over_time_respects_period(
    march_world: duckdb.DuckDBPyConnection,
) -> None:
    chart = charts.findings_over_time(
        march_world, since="2026-03-02T00:00:00Z", until="2026-03-04T00:00:00Z"
    )
    assert len(chart.data) == 4
    assert chart.data["findings"].sum() == 4


def test_stale_windows_timeline_one_row_per_window(
    march_world: duckdb.DuckDBPyConnection,
) -> None:
    data = _layer_data(charts.stale_windows_timeline(march_world))
    assert data["window_id"].tolist() == ["w-erin", "w-bob"][::-1]


def test_stale_windows_timeline_keeps_overlapping_windows(
    march_world: duckdb.DuckDBPyConnection,
) -> None:
    data = _layer_data(charts.stale_windows_timeline(march_world, since="2026-03-01"))
    assert data["window_id"].tolist() == ["w-bob"]
    assert data["revoked_at"].tolist() == ["2026-03-02T00:00:00Z"]
    assert data["hours"].tolist() == [37.0]


def test_delegation_flow_counts_violations_per_hop(
    march_world: duckdb.DuckDBPyConnection,
) -> None:
    chart = charts.delegation_flow(march_world)
    data = _layer_data(chart)
    hops = data.set_index(["stage", "source", "target"])
    # user → agent: ann/mail, bob/crm, carol/crm, dave/(no agent);
    # agent → server: mail/mail, crm/crm, (no agent)/(no server).
    assert len(data) == 7
    assert hops.loc[("user → agent", "bob", "agent-crm"), "violations"] == 3
    assert hops.loc[("agent → resource server", "agent-crm", "crm"), "calls"] == 4
    assert hops.loc[("user → agent", "ann", "agent-mail"), "violations"] == 0
    assert hops.loc[("user → agent", "bob", "agent-crm"), "example_violations"] == (
        "c3, c4, c7"
    )


def test_delegation_flow_groups_beyond_top(
    march_world: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(charts, "TOP_PRINCIPALS", 1)
    data = _layer_data(charts.delegation_flow(march_world))
    users = set(data[data["stage"] == "user → agent"]["source"])
    assert users == {"bob", "(other users)"}


def test_severity_by_agent_cells(march_world: duckdb.DuckDBPyConnection) -> None:
    chart = charts.severity_by_agent(march_world)
    data = _layer_data(chart)
    cells = data.set_index(["agent", "severity"])["findings"]
    # agent-mail: info 2, low 1; agent-crm: medium, high 2, critical; none: low.
    assert len(data) == 6
    assert cells[("agent-crm", "high")] == 2
    assert cells[("(no agent)", "low")] == 1


def test_severity_by_agent_orders_worst_first(
    march_world: duckdb.DuckDBPyConnection,
) -> None:
    chart = charts.severity_by_agent(march_world)
    order = chart.to_dict()["layer"][0]["encoding"]["y"]["sort"]
    assert order == ["agent-crm", "(no agent)", "agent-mail"]


def test_chart_data_is_cleaned(march_world: duckdb.DuckDBPyConnection) -> None:
    march_world.execute(
        "UPDATE findings SET actor = 'AKIAIOSFODNN7EXAMPLE' WHERE call_id = 'c1'"
    )
    data = _layer_data(charts.severity_by_agent(march_world))
    assert "AKIAIOSFODNN7EXAMPLE" not in set(data["agent"])


@pytest.mark.parametrize(
    "build",
    [
        charts.findings_over_time,
        charts.stale_windows_timeline,
        charts.delegation_flow,
        charts.severity_by_agent,
    ],
)
def test_chart_renders_to_svg(
    march_world: duckdb.DuckDBPyConnection, build: object
) -> None:
    svg = charts.chart_to_svg(build(march_world))  # type: ignore[operator]
    assert svg.startswith("<svg")
    assert "<title>" in svg


def test_chart_svg_escapes_payload(march_world: duckdb.DuckDBPyConnection) -> None:
    march_world.execute(
        "UPDATE findings SET actor = ? WHERE call_id = 'c1'", [SCRIPT_PAYLOAD]
    )
    svg = charts.chart_to_svg(charts.severity_by_agent(march_world))
    assert "<script" not in svg
    assert "&lt;script&gt;" in svg


def test_findings_over_time_switches_to_weeks(
    march_world: duckdb.DuckDBPyConnection,
) -> None:
    march_world.execute(
        "UPDATE findings SET ts = ts - INTERVAL 300 DAY WHERE call_id = 'c1'"
    )
    chart = charts.findings_over_time(march_world)
    assert chart.title == "Findings per week by verdict"
    assert len(chart.data) <= charts.MAX_CHART_ROWS


def test_charts_on_empty_findings(empty_world: duckdb.DuckDBPyConnection) -> None:
    assert len(charts.findings_over_time(empty_world).data) == 0
    assert len(_layer_data(charts.stale_windows_timeline(empty_world))) == 0
    assert len(_layer_data(charts.delegation_flow(empty_world))) == 0
    assert len(_layer_data(charts.severity_by_agent(empty_world))) == 0
