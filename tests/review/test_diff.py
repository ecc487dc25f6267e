from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from auditkit.errors import InputError
from auditkit.report.charts import chart_data
from auditkit.report.period import Period
from auditkit.review.diff import (
    diff_chart,
    diff_periods,
    previous_period,
    render_diff_html,
)
from tests.review.worlds import MARKUP_RESOURCE, WEEK_ONE, WEEK_TWO, finding_id_of

if TYPE_CHECKING:
    import duckdb
    import pandas as pd


def keys(frame: pd.DataFrame) -> set[tuple[str, str, str, str]]:
    rows = frame[["verdict", "subject", "actor", "resource"]].itertuples(index=False)
    return {tuple(row) for row in rows}


def test_diff_lists_new_incident(two_week_world: duckdb.DuckDBPyConnection):
    diff = diff_periods(two_week_world, WEEK_ONE, WEEK_TWO)
    assert keys(diff.new) == {
        ("stale_authority", "ann", "bot", "doc/1"),
        ("user_over_scope", "bob", "bot", MARKUP_RESOURCE),
    }


def test_diff_lists_persisting_incident(two_week_world: duckdb.DuckDBPyConnection):
    diff = diff_periods(two_week_world, WEEK_ONE, WEEK_TWO)
    assert keys(diff.persisting) == {("user_over_scope", "bob", "bot", "doc/1")}
    row = diff.persisting.iloc[0]
    assert row["previous_calls"] == 1
    assert row["current_calls"] == 1
    assert list(row["previous_finding_ids"]) == [finding_id_of(two_week_world, "c-02")]
    assert list(row["current_finding_ids"]) == [finding_id_of(two_week_world, "c-12")]


def test_diff_lists_resolved_incident(two_week_world: duckdb.DuckDBPyConnection):
    diff = diff_periods(two_week_world, WEEK_ONE, WEEK_TWO)
    assert keys(diff.resolved) == {("agent_over_scope", "ann", "ghost-bot", "doc/1")}
    assert diff.resolved.iloc[0]["current_calls"] == 0


def test_diff_ignores_within_scope_calls(two_week_world: duckdb.DuckDBPyConnection):
    diff = diff_periods(two_week_world, WEEK_ONE, WEEK_TWO)
    verdicts = {
        *diff.new["verdict"],
        *diff.persisting["verdict"],
        *diff.resolved["verdict"],
    }
    assert "within_scope" not in verdicts


def test_diff_counts_stale_exposure(two_week_world: duckdb.DuckDBPyConnection):
    diff = diff_periods(two_week_world, WEEK_ONE, WEEK_TWO)
    exposure = diff.exposure.set_index("period")
    assert exposure.loc["previous", "stale_windows"] == 0
    assert exposure.loc["current", "stale_windows"] == 1
    # Revoked 2026-03-10 00:00, relied on 2026-03-11 09:00: 33 hours.
    assert exposure.loc["current", "stale_seconds"] == 33 * 3600


def test_diff_drift_absent_without_table(two_week_world: duckdb.DuckDBPyConnection):
    diff = diff_periods(two_week_world, WEEK_ONE, WEEK_TWO)
    assert diff.to_dict()["exposure"]["current"]["drift_findings"] is None


def test_diff_counts_drift_rows(two_week_world: duckdb.DuckDBPyConnection):
    two_week_world.execute(
        "CREATE TABLE drift_findings AS SELECT * FROM (VALUES "
        "(TIMESTAMP '2026-03-02 00:00'), (TIMESTAMP '2026-03-09 00:00'), "
        "(TIMESTAMP '2026-03-10 00:00')) AS t(period_start)"
    )
    exposure = diff_periods(two_week_world, WEEK_ONE, WEEK_TWO).to_dict()["exposure"]
    assert exposure["previous"]["drift_findings"] == 1
    assert exposure["current"]["drift_findings"] == 2


def test_diff_to_dict_is_json(two_week_world: duckdb.DuckDBPyConnection):
    summary = diff_periods(two_week_world, WEEK_ONE, WEEK_TWO).to_dict()
    text = json.dumps(summary)
    assert summary["counts"] == {"new": 2, "persisting": 1, "resolved": 1}
    assert summary["key"] == [
        "verdict",
        "reason",
        "subject",
        "actor",
        "action",
        "resource",
    ]
    assert "<script>" in text  # JSON keeps text as data; HTML output escapes it


def test_diff_rejects_overlapping_periods(two_week_world: duckdb.DuckDBPyConnection):
    overlapping = ("2026-03-05T00:00:00Z", "2026-03-12T00:00:00Z")
    with pytest.raises(InputError, match="after the current one starts"):
        diff_periods(two_week_world, overlapping, WEEK_TWO)


def test_diff_rejects_open_previous_end(two_week_world: duckdb.DuckDBPyConnection):
    with pytest.raises(InputError, match="previous period must end"):
        diff_periods(two_week_world, (WEEK_ONE[0], None), WEEK_TWO)


def test_previous_period_has_equal_length():
    current = Period.of(*WEEK_TWO)
    assert previous_period(current) == Period.of(*WEEK_ONE)


def test_previous_period_rejects_open_end():
    with pytest.raises(InputError, match="has an open end"):
        previous_period(Period.of(WEEK_TWO[0], None))


def test_diff_chart_holds_counts_only(two_week_world: duckdb.DuckDBPyConnection):
    chart = diff_chart(diff_periods(two_week_world, WEEK_ONE, WEEK_TWO))
    data = chart_data(chart)
    assert data is not None
    assert set(data.columns) == {"period", "verdict", "calls"}
    current = data[data["period"] == "current"].set_index("verdict")["calls"]
    assert current["user_over_scope"] == 2
    assert current["stale_authority"] == 1


def test_diff_html_escapes_log_text(two_week_world: duckdb.DuckDBPyConnection):
    fragment = render_diff_html(diff_periods(two_week_world, WEEK_ONE, WEEK_TWO))
    assert "<script>" not in fragment
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in fragment
    assert fragment.startswith('<section id="period-diff">')
