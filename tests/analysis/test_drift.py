from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from auditkit.analysis.drift import analyze_drift
from auditkit.analysis.drift_findings import write_drift_findings
from auditkit.models import ReasonCode
from auditkit.models.timestamps import parse_instant
from tests.analysis.worlds import at

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from auditkit.analysis.drift import DriftReport
    from auditkit.api import AuditWorkspace

MARCH_2 = at("2026-03-02 00:00")
MARCH_3 = at("2026-03-03 00:00")
MARCH_4 = at("2026-03-04 00:00")


def only_row(frame: pd.DataFrame) -> dict[str, Any]:
    assert len(frame) == 1, frame
    return dict(frame.iloc[0])


def test_drift_ratio_over_expanded_wildcards(
    wildcard_agent_world: duckdb.DuckDBPyConnection,
) -> None:
    # Universe of 2026-03-02: three generalised tools plus tickets 7 and 8. The agent's
    # crm:* on ticket/* covers both ticket tools and both tickets, and its role grant
    # covers the report export: five granted. The two reads use ticket 7, ticket 8 and
    # the read tool's ticket/*: three used, so two of five are unused.
    report = analyze_drift(wildcard_agent_world, None, start=MARCH_2, end=MARCH_3)
    row = only_row(report.agents)

    assert row["agent"] == "bot"
    assert row["granted_permissions"] == 5
    assert row["used_permissions"] == 3
    assert row["unused_permissions"] == 2
    assert row["drift_ratio"] == pytest.approx(0.4)
    assert row["granted_grants"] == 2
    assert row["unused_grants"] == 1
    assert row["grant_drift_ratio"] == pytest.approx(0.5)


def test_creep_score_by_hand(wildcard_agent_world: duckdb.DuckDBPyConnection) -> None:
    # 100 * (0.5 * drift 0.4 + 0.2 * growth 0 + 0.3 * breached users 1 of 1) = 50.
    report = analyze_drift(wildcard_agent_world, None, start=MARCH_2, end=MARCH_3)
    row = only_row(report.agents)

    assert row["growth_ratio"] == 0.0
    assert row["breach_ratio"] == 1.0
    assert row["creep_score"] == pytest.approx(50.0)


def test_creep_trend_across_days(
    wildcard_agent_world: duckdb.DuckDBPyConnection,
) -> None:
    # On 2026-03-03 the universe is the three tools plus ticket 9: four granted, two
    # used (ticket 9 and ticket/*), so 100 * (0.5 * 0.5 + 0.3 * 1) = 55, up by 5.
    report = analyze_drift(wildcard_agent_world, "day", start=MARCH_2, end=MARCH_4)
    scores = report.agents.set_index("period_start")

    assert list(scores["creep_score"]) == [50.0, 55.0]
    assert scores.loc[MARCH_3, "creep_trend"] == pytest.approx(5.0)
    assert pd_isna(scores.loc[MARCH_2, "creep_trend"])


def pd_isna(value: object) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_unused_grant_via_role(wildcard_agent_world: duckdb.DuckDBPyConnection) -> None:
    report = analyze_drift(wildcard_agent_world, None, start=MARCH_2, end=MARCH_3)
    grants = report.grants.set_index("grant_id")

    assert bool(grants.loc["g-wide", "used"])
    assert grants.loc["g-wide", "calls"] == 2
    assert not bool(grants.loc["g-export", "used"])
    assert grants.loc["g-export", "via"] == "m-bot"


def test_growth_names_its_author(
    expanding_agent_world: duckdb.DuckDBPyConnection,
) -> None:
    report = analyze_drift(expanding_agent_world, None, start=MARCH_2, end=MARCH_3)
    growth = only_row(report.growth)
    agent = only_row(report.agents)

    assert growth["grant_id"] == "g-late"
    assert growth["change"] == "added"
    assert growth["changed_at"] == at("2026-03-02 12:00")
    assert growth["author"] == "dave"
    assert agent["grants_added"] == 1
    # Before: read ticket/* and ticket 7; at the end also the report export.
    assert agent["permissions_before"] == 2
    assert agent["permissions_at_end"] == 3
    assert agent["growth_ratio"] == pytest.approx(1 / 3)


def test_grant_before_period_is_no_growth(
    expanding_agent_world: duckdb.DuckDBPyConnection,
) -> None:
    report = analyze_drift(expanding_agent_world, None, start=MARCH_3, end=MARCH_4)

    assert report.growth.empty


def test_intersection_widens_by_agent(
    expanding_agent_world: duckdb.DuckDBPyConnection,
) -> None:
    report = analyze_drift(expanding_agent_world, None, start=MARCH_2, end=MARCH_3)
    pair = only_row(report.intersections)

    assert pair["user"] == "u1"
    assert pair["intersection_before"] == 2
    assert pair["intersection_at_end"] == 3
    assert pair["widened_by"] == 1
    assert pair["user_changed_permissions"] == 0
    assert bool(pair["widened_by_agent"])
    assert pair["unused_permissions"] == 1
    assert bool(pair["wider_than_use"])


def test_drift_findings_table(wildcard_agent_world: duckdb.DuckDBPyConnection) -> None:
    written = write_drift_findings(
        wildcard_agent_world, None, start=MARCH_2, end=MARCH_3
    )
    stored = wildcard_agent_world.execute("SELECT * FROM drift_findings").df()
    unused = only_row(written[written["reason"] == ReasonCode.UNUSED_GRANT])
    breaches = written[written["reason"] == ReasonCode.CEILING_BREACH]

    assert len(stored) == len(written)
    assert unused["permission"] == "crm:Export report/*"
    assert unused["evidence"] == "g-export,m-bot"
    assert unused["author"] == "carol"
    assert unused["severity"] == "medium"
    assert set(breaches["permission"]) == {
        "crm:DeleteTicket ticket/*",
        "crm:Export report/all",
    }
    assert set(breaches["kind"]) == {"ceiling"}


def test_drift_finding_ids_are_stable(
    wildcard_agent_world: duckdb.DuckDBPyConnection,
) -> None:
    first = write_drift_findings(wildcard_agent_world, None, start=MARCH_2, end=MARCH_3)
    second = write_drift_findings(
        wildcard_agent_world, None, start=MARCH_2, end=MARCH_3
    )

    assert list(first["finding_id"]) == list(second["finding_id"])
    assert first["finding_id"].is_unique


def test_widened_intersection_finding(
    expanding_agent_world: duckdb.DuckDBPyConnection,
) -> None:
    written = write_drift_findings(
        expanding_agent_world, None, start=MARCH_2, end=MARCH_3
    )
    widened = only_row(written[written["reason"] == ReasonCode.INTERSECTION_WIDENED])
    growth = only_row(written[written["reason"] == ReasonCode.SCOPE_GROWTH])

    assert widened["permission"] == "crm:Export report/all"
    assert widened["evidence"] == "g-late"
    assert widened["author"] == "dave"
    assert widened["severity"] == "high"
    assert growth["author"] == "dave"


def test_end_before_start_is_rejected(
    wildcard_agent_world: duckdb.DuckDBPyConnection,
) -> None:
    with pytest.raises(ValueError, match="is not after start"):
        analyze_drift(wildcard_agent_world, None, start=MARCH_3, end=MARCH_2)


def test_demo_scope_expansion(
    demo_drift: DriftReport, demo_truth: dict[str, Any]
) -> None:
    planted = demo_truth["scope_expansion"]
    growth = demo_drift.growth
    found = only_row(growth[growth["grant_id"] == planted["grant_id"]])

    assert found["agent"] == planted["agent"]
    assert found["change"] == "added"
    assert found["changed_at"] == parse_instant(planted["at"])
    assert found["author"] == planted["changed_by"]
    assert found["resource"] == planted["resource"]


def test_demo_unused_grants(
    demo_workspace: AuditWorkspace, demo_drift: DriftReport, demo_truth: dict[str, Any]
) -> None:
    # The ground truth counts a grant as used by any call it matches, whatever the
    # verdict; auditkit only by allowed within-scope calls. Its unused grants are
    # therefore a subset of auditkit's, and every extra one decided no such call.
    unused = demo_drift.grants[~demo_drift.grants["used"]]
    con = demo_workspace.connection

    for agent, planted in demo_truth["unused_grants"].items():
        found = set(unused.loc[unused["agent"] == agent, "grant_id"])
        assert set(planted) <= found, agent
        for grant_id in found - set(planted):
            uses = con.execute(
                "SELECT count(*) FROM findings WHERE actor = ? AND verdict = "
                "'within_scope' AND outcome = 'allowed' "
                "AND list_contains(string_split(agent_evidence, ','), ?)",
                [agent, grant_id],
            ).fetchall()
            assert uses == [(0,)], (agent, grant_id)
