from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from auditkit.models.codes import Flag, ReasonCode, Verdict
from auditkit.report.period import VIOLATION_VERDICTS
from auditkit.review.controls import (
    ControlMapping,
    control_mapping,
    control_summary,
    controls_for,
    controls_to_dict,
    render_controls_html,
)
from tests.review.worlds import WEEK_TWO, finding_id_of

if TYPE_CHECKING:
    import duckdb


@pytest.mark.parametrize("verdict", list(Verdict))
def test_every_verdict_has_mapping(verdict: Verdict):
    entry = control_mapping().mappings["verdict"].get(verdict.value)
    assert entry is not None
    assert entry.rationale


@pytest.mark.parametrize("reason", list(ReasonCode))
def test_every_reason_code_has_mapping(reason: ReasonCode):
    entry = control_mapping().mappings["reason"].get(reason.value)
    assert entry is not None
    assert entry.rationale


@pytest.mark.parametrize("flag", list(Flag))
def test_every_flag_has_mapping(flag: Flag):
    assert flag.value in control_mapping().mappings["flag"]


def test_mapping_misses_no_code():
    assert control_mapping().missing_codes() == []


@pytest.mark.parametrize("verdict", VIOLATION_VERDICTS)
def test_violation_verdicts_map_to_controls(verdict: str):
    assert controls_for("verdict", verdict)


def test_every_framework_names_source():
    for framework in control_mapping().frameworks:
        assert framework.source.startswith("https://"), framework.id


def test_mapping_uses_published_identifiers():
    ids = {control.id for control in control_mapping().controls}
    assert {"ASI02", "ASI03", "PR.AA", "PR.AA-05"} <= ids


def test_mapping_rejects_unknown_control():
    data = control_mapping().model_dump()
    data["mappings"]["verdict"]["stale_authority"]["controls"].append("ASI99")
    with pytest.raises(
        ValueError, match=r"stale_authority.*unknown controls \['ASI99'\]"
    ):
        ControlMapping.model_validate(data)


def test_control_summary_counts_findings(two_week_world: duckdb.DuckDBPyConnection):
    summary = control_summary(two_week_world).set_index("control_id")
    stale = finding_id_of(two_week_world, "c-13")
    ghost = finding_id_of(two_week_world, "c-03")

    assert stale in summary.loc["SP800-207 tenet 3", "finding_ids"]
    assert summary.loc["ASI02", "finding_ids"] == [ghost]
    # c-02, c-03, c-12, c-13 and c-14 are violations allowed downstream.
    assert summary.loc["SP800-207 tenet 6", "findings"] == 5


def test_control_summary_skips_within_scope(two_week_world: duckdb.DuckDBPyConnection):
    summary = control_summary(two_week_world)
    within = finding_id_of(two_week_world, "c-01")
    assert all(within not in ids for ids in summary["finding_ids"])


def test_control_summary_lists_every_control(two_week_world: duckdb.DuckDBPyConnection):
    summary = control_summary(two_week_world, since=WEEK_TWO[0], until=WEEK_TWO[1])
    assert len(summary) == len(control_mapping().controls)
    assert summary.set_index("control_id").loc["ASI02", "findings"] == 0


def test_controls_html_escapes_and_cites(two_week_world: duckdb.DuckDBPyConnection):
    fragment = render_controls_html(control_summary(two_week_world))
    assert fragment.startswith('<section id="controls">')
    assert "https://doi.org/10.6028/NIST.CSWP.29" in fragment
    assert "Identity and Privilege Abuse" in fragment


def test_controls_to_dict_is_plain(two_week_world: duckdb.DuckDBPyConnection):
    records = controls_to_dict(control_summary(two_week_world))
    first = records[0]
    assert first["control_id"] == "ASI02"
    assert isinstance(first["finding_ids"], list)
