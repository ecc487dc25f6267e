"""Drift charts on a hand-written drift report whose cell counts are known.

Grants (two weeks from Monday 2026-03-02):

| week | agent | grant | permission | used | calls | changed by |
| --- | --- | --- | --- | --- | --- | --- |
| 03-02 | agent-crm | g1 | crm:Read crm:ticket/* | yes | 5 | lena |
| 03-02 | agent-crm | g2 | crm:Export crm:account/* | no | 0 | maria |
| 03-02 | agent-mail | g3 | mail:Send mailbox/* | no | 0 | maria |
| 03-02 | agent-mail | g4 | mail:Send mailbox/* | yes | 2 | tom |
| 03-09 | agent-crm | g1 | crm:Read crm:ticket/* | yes | 3 | lena |
| 03-09 | agent-crm | g2 | crm:Export crm:account/* | yes | 1 | maria |
| 03-09 | agent-mail | g3 | mail:Send mailbox/* | no | 0 | maria |

Creep scores: agent-crm 20.0 then 35.5, agent-mail 10.0 then 5.0, agent-ops 60.0 in
the second week only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest

from auditkit.analysis.drift import DriftReport
from auditkit.errors import InputError
from auditkit.report import charts
from tests.report.conftest import SCRIPT_PAYLOAD

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import DemoWorld

WEEK_1 = datetime(2026, 3, 2)
WEEK_2 = datetime(2026, 3, 9)
WEEK = timedelta(days=7)

GRANT_COLUMNS = [
    "period_start",
    "period_end",
    "agent",
    "grant_id",
    "action",
    "resource",
    "conditional",
    "via",
    "changed_by",
    "permissions",
    "calls",
    "used",
]

AGENT_COLUMNS = [
    "period_start",
    "period_end",
    "agent",
    "drift_ratio",
    "growth_ratio",
    "breach_ratio",
    "unused_grants",
    "grants_added",
    "breached_users",
    "creep_score",
    "creep_trend",
]


# week, agent, grant id, (action, resource), used, calls, changed_by
GrantSpec = tuple[datetime, str, str, tuple[str, str], bool, int, str]


def grant_row(spec: GrantSpec) -> list[Any]:
    week, agent, grant_id, (action, resource), used, calls, changed_by = spec
    return [
        week,
        week + WEEK,
        agent,
        grant_id,
        action,
        resource,
        False,
        "direct",
        changed_by,
        1,
        calls,
        used,
    ]


def agent_row(
    week: datetime, agent: str, score: float, trend: float | None, **counts: Any
) -> list[Any]:
    return [
        week,
        week + WEEK,
        agent,
        counts.get("drift_ratio", 0.5),
        counts.get("growth_ratio", 0.0),
        counts.get("breach_ratio", 0.0),
        counts.get("unused_grants", 0),
        counts.get("grants_added", 0),
        counts.get("breached_users", 0),
        score,
        trend,
    ]


def drift_report(grants: list[list[Any]], agents: list[list[Any]]) -> DriftReport:
    empty = pd.DataFrame()
    return DriftReport(
        agents=pd.DataFrame(agents, columns=AGENT_COLUMNS),
        grants=pd.DataFrame(grants, columns=GRANT_COLUMNS),
        growth=empty,
        intersections=empty,
        breaches=empty,
    )


@pytest.fixture
def two_week_drift() -> DriftReport:
    """The report described in the module docstring."""
    read = ("crm:Read", "crm:ticket/*")
    export = ("crm:Export", "crm:account/*")
    send = ("mail:Send", "mailbox/*")
    table: list[GrantSpec] = [
        (WEEK_1, "agent-crm", "g1", read, True, 5, "lena"),
        (WEEK_1, "agent-crm", "g2", export, False, 0, "maria"),
        (WEEK_1, "agent-mail", "g3", send, False, 0, "maria"),
        (WEEK_1, "agent-mail", "g4", send, True, 2, "tom"),
        (WEEK_2, "agent-crm", "g1", read, True, 3, "lena"),
        (WEEK_2, "agent-crm", "g2", export, True, 1, "maria"),
        (WEEK_2, "agent-mail", "g3", send, False, 0, "maria"),
    ]
    grants = [grant_row(row) for row in table]
    agents = [
        agent_row(WEEK_1, "agent-crm", 20.0, None, unused_grants=1),
        agent_row(WEEK_1, "agent-mail", 10.0, None, unused_grants=1),
        agent_row(WEEK_2, "agent-crm", 35.5, 15.5, breached_users=2),
        agent_row(WEEK_2, "agent-mail", 5.0, -5.0, unused_grants=1),
        agent_row(WEEK_2, "agent-ops", 60.0, None, grants_added=3),
    ]
    return drift_report(grants, agents)


def heatmap_cells(report: DriftReport, **bounds: str) -> pd.DataFrame:
    data = charts.drift_heatmap(report, **bounds).data
    return data.set_index(["agent", "permission"])


def test_drift_heatmap_cell_count(two_week_drift: DriftReport) -> None:
    data = charts.drift_heatmap(two_week_drift).data
    assert len(data) == 3


def test_drift_heatmap_used_in_any_week(two_week_drift: DriftReport) -> None:
    cells = heatmap_cells(two_week_drift)
    export = cells.loc[("agent-crm", "crm:Export crm:account/*")]
    assert export["status"] == "used"
    assert export["calls"] == 1


def test_drift_heatmap_sums_calls(two_week_drift: DriftReport) -> None:
    cells = heatmap_cells(two_week_drift)
    assert cells.loc[("agent-crm", "crm:Read crm:ticket/*"), "calls"] == 8


def test_drift_heatmap_partly_used_cell(two_week_drift: DriftReport) -> None:
    mail = heatmap_cells(two_week_drift).loc[("agent-mail", "mail:Send mailbox/*")]
    assert mail["status"] == "partly used"
    assert mail["granted_grants"] == 2
    assert mail["used_grants"] == 1
    assert mail["unused_grants"] == 1
    assert mail["grant_ids"] == "g3, g4"
    assert mail["authors"] == "maria, tom"


def test_drift_heatmap_since_keeps_second_week(two_week_drift: DriftReport) -> None:
    cells = heatmap_cells(two_week_drift, since="2026-03-09")
    assert cells.loc[("agent-mail", "mail:Send mailbox/*"), "status"] == "unused"
    assert cells.loc[("agent-crm", "crm:Read crm:ticket/*"), "calls"] == 3


def test_drift_heatmap_until_keeps_first_week(two_week_drift: DriftReport) -> None:
    cells = heatmap_cells(two_week_drift, until="2026-03-09")
    assert cells.loc[("agent-crm", "crm:Export crm:account/*"), "status"] == "unused"


def test_drift_heatmap_orders_unused_first(two_week_drift: DriftReport) -> None:
    spec = charts.drift_heatmap(two_week_drift).to_dict()
    assert spec["encoding"]["y"]["sort"] == ["agent-mail", "agent-crm"]
    assert spec["encoding"]["x"]["sort"][0] == "mail:Send mailbox/*"


def test_drift_heatmap_groups_beyond_top(
    two_week_drift: DriftReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(charts, "TOP_AGENTS", 1)
    monkeypatch.setattr(charts, "TOP_PERMISSIONS", 1)
    cells = heatmap_cells(two_week_drift)
    other = cells.loc[("(other agents)", "(other permissions)")]
    assert len(cells) == 2
    assert other["granted_grants"] == 2
    assert other["calls"] == 9
    assert cells.loc[("agent-mail", "mail:Send mailbox/*"), "unused_grants"] == 1


def test_drift_heatmap_stays_under_row_limit() -> None:
    grants = [
        grant_row(
            (
                WEEK_1,
                f"agent-{agent:03}",
                f"g-{agent}-{permission}",
                (f"svc:Act{permission:03}", "*"),
                (agent + permission) % 3 == 0,
                1,
                "lena",
            )
        )
        for agent in range(120)
        for permission in range(90)
    ]
    data = charts.drift_heatmap(drift_report(grants, [])).data
    assert len(data) <= charts.MAX_CHART_ROWS
    assert "(other agents)" in set(data["agent"])
    assert "(other permissions)" in set(data["permission"])


def test_drift_heatmap_rejects_reversed_bounds(two_week_drift: DriftReport) -> None:
    with pytest.raises(InputError, match="is not after since"):
        charts.drift_heatmap(two_week_drift, since="2026-03-09", until="2026-03-02")


def test_creep_trend_rows(two_week_drift: DriftReport) -> None:
    data = charts.chart_data(charts.creep_trend(two_week_drift))
    assert data is not None
    rows = data.set_index(["period_label", "agent"])
    assert len(rows) == 5
    assert rows.loc[("2026-03-09", "agent-crm"), "creep_score"] == 35.5
    assert rows.loc[("2026-03-09", "agent-crm"), "creep_trend"] == 15.5
    assert rows.loc[("2026-03-09", "agent-crm"), "breached_users"] == 2


def test_creep_trend_groups_beyond_top(
    two_week_drift: DriftReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(charts, "TOP_TREND_AGENTS", 1)
    data = charts.chart_data(charts.creep_trend(two_week_drift))
    assert data is not None
    rows = data.set_index(["period_label", "agent"])
    other = rows.loc[("2026-03-09", "(other agents)")]
    assert set(data["agent"]) == {"agent-ops", "(other agents)"}
    assert other["agents"] == 2
    assert other["creep_score"] == 35.5
    assert other["unused_grants"] == 1
    assert pd.isna(other["creep_trend"])


def test_creep_trend_since_drops_first_week(two_week_drift: DriftReport) -> None:
    data = charts.chart_data(charts.creep_trend(two_week_drift, since="2026-03-09"))
    assert data is not None
    assert set(data["period_label"]) == {"2026-03-09"}


@pytest.mark.parametrize("build", [charts.drift_heatmap, charts.creep_trend])
def test_drift_chart_renders_to_svg(two_week_drift: DriftReport, build: Any) -> None:
    svg = charts.chart_to_svg(build(two_week_drift))
    assert svg.startswith("<svg")
    assert "<title>" in svg


def test_drift_heatmap_svg_escapes_payload() -> None:
    payload_grant: GrantSpec = (
        WEEK_1,
        SCRIPT_PAYLOAD,
        "g1",
        ("crm:Read", "*"),
        False,
        0,
        "x",
    )
    grants = [grant_row(payload_grant)]
    svg = charts.chart_to_svg(charts.drift_heatmap(drift_report(grants, [])))
    assert "<script" not in svg
    assert "&lt;script&gt;" in svg


def test_drift_charts_on_empty_report() -> None:
    report = drift_report([], [])
    assert len(charts.drift_heatmap(report).data) == 0
    assert len(charts.chart_data(charts.creep_trend(report))) == 0  # type: ignore[arg-type]


def test_drift_heatmap_from_demo_workspace(
    demo_world: DemoWorld, tmp_path: Path
) -> None:
    import auditkit

    path = demo_world.copy_workspace(tmp_path / "demo.duckdb")
    with auditkit.open(path) as ws:
        cells = charts.drift_heatmap(ws.connection).data
    share = cells.set_index(["agent", "permission"]).loc[
        ("data-export-agent", "warehouse:ShareExternal warehouse:table/*")
    ]
    assert share["status"] == "unused"
    assert share["grant_ids"] == "g-0043"
