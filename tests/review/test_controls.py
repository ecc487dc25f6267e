from __future__ import annotations

import json

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditkit.models.codes import Flag, ReasonCode, Verdict
from auditkit.report.period import VIOLATION_VERDICTS
from auditkit.review.controls import (
    SUMMARY_IDS_PER_CONTROL,
    ControlMapping,
    control_mapping,
    control_summary,
    controls_for,
    controls_to_dict,
    render_controls_html,
)
from auditkit.safety import clean_text
from tests.review.worlds import WEEK_TWO, finding_id_of


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


def _findings_table(
    rows: list[tuple[str | None, str, str | None, str | None, str | None]],
) -> duckdb.DuckDBPyConnection:
    # Rows of (finding_id, ts, verdict, reason, flags) in a findings table alone.
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE findings (finding_id VARCHAR, ts TIMESTAMP, verdict VARCHAR, "
        "reason VARCHAR, flags VARCHAR)"
    )
    if rows:
        con.executemany("INSERT INTO findings VALUES (?, ?, ?, ?, ?)", rows)
    return con


def _reference_counts(
    rows: list[tuple[str | None, str, str | None, str | None, str | None]],
) -> dict[str, list[str | None]]:
    # Each control's distinct finding ids, sorted with a missing id last, from
    # controls_for alone.
    found: dict[str, set[str | None]] = {}
    for finding_id, _, verdict, reason, flags in rows:
        controls = set(controls_for("verdict", verdict or ""))
        controls |= set(controls_for("reason", reason or ""))
        for flag in (flags or "").split(","):
            controls |= set(controls_for("flag", flag))
        for control in controls:
            found.setdefault(control, set()).add(finding_id)
    return {
        control: sorted(ids, key=lambda value: (value is None, value or ""))
        for control, ids in found.items()
    }


finding_rows = st.lists(
    st.tuples(
        st.one_of(st.none(), st.sampled_from([f"f{n}" for n in range(12)])),
        st.sampled_from(["2026-03-01 10:00:00", "2026-03-09 10:00:00"]),
        st.one_of(st.none(), st.sampled_from([*(v.value for v in Verdict), "other"])),
        st.one_of(st.none(), st.sampled_from([r.value for r in ReasonCode])),
        st.one_of(
            st.none(),
            st.lists(st.sampled_from([*(f.value for f in Flag), "", "x"])).map(
                ",".join
            ),
        ),
    ),
    max_size=25,
)


@given(rows=finding_rows, max_ids=st.sampled_from([None, 1, 3, 1000]))
@settings(max_examples=150, deadline=None)
def test_control_summary_matches_reference(
    rows: list[tuple[str | None, str, str | None, str | None, str | None]],
    max_ids: int | None,
) -> None:
    con = _findings_table(rows)
    summary = control_summary(con, max_ids=max_ids).set_index("control_id")
    expected = _reference_counts(rows)

    for control in control_mapping().controls:
        ids = expected.get(control.id, [])
        assert summary.loc[control.id, "findings"] == len(ids), control.id
        listed = ids if max_ids is None else ids[:max_ids]
        assert summary.loc[control.id, "finding_ids"] == listed, control.id


def test_control_summary_period_filters_ts() -> None:
    rows = [
        ("f1", "2026-03-01 10:00:00", "agent_over_scope", "no_matching_grant", ""),
        ("f2", "2026-03-09 10:00:00", "agent_over_scope", "no_matching_grant", ""),
    ]
    summary = control_summary(
        _findings_table(rows), since=WEEK_TWO[0], until=WEEK_TWO[1]
    ).set_index("control_id")
    assert summary.loc["ASI02", "finding_ids"] == ["f2"]


def test_controls_to_dict_cleans_ids_and_counts_all() -> None:
    secret_id = "token=s3cr3tvalue"
    rows = [
        (f"f{n:04d}", "2026-03-01 10:00:00", "agent_over_scope", None, None)
        for n in range(SUMMARY_IDS_PER_CONTROL + 5)
    ]
    rows.append((secret_id, "2026-03-01 10:00:00", "agent_over_scope", None, None))
    frame = control_summary(_findings_table(rows)).set_index("control_id")
    records = {
        record["control_id"]: record for record in controls_to_dict(frame.reset_index())
    }
    asi02 = records["ASI02"]

    assert len(frame.loc["ASI02", "finding_ids"]) == SUMMARY_IDS_PER_CONTROL
    assert asi02["findings"] == SUMMARY_IDS_PER_CONTROL + 6
    assert asi02["finding_ids_omitted"] == 6
    assert secret_id not in json.dumps(records)

    small = control_summary(_findings_table(rows[-2:]), max_ids=None)
    cleaned = controls_to_dict(small)[0]["finding_ids"]
    assert cleaned == [f"f{SUMMARY_IDS_PER_CONTROL + 4:04d}", clean_text(secret_id)]


def test_controls_html_counts_ids_beyond_the_list() -> None:
    rows = [
        (f"f{n:02d}", "2026-03-01 10:00:00", "agent_over_scope", None, None)
        for n in range(25)
    ]
    fragment = render_controls_html(control_summary(_findings_table(rows), max_ids=12))
    assert "f09 and 15 more" in fragment


def test_control_summary_counts_drift_reasons() -> None:
    # d2 lies before the period; f1 is both a finding and a drift finding id.
    con = _findings_table(
        [("f1", "2026-03-09 10:00:00", "within_scope", "permission_held", "")]
    )
    con.execute(
        "CREATE TABLE drift_findings "
        "(finding_id VARCHAR, period_start TIMESTAMP, reason VARCHAR)"
    )
    con.executemany(
        "INSERT INTO drift_findings VALUES (?, ?, ?)",
        [
            ("d1", "2026-03-09 00:00:00", "scope_growth"),
            ("d2", "2026-03-01 00:00:00", "scope_growth"),
            ("f1", "2026-03-10 00:00:00", "unused_grant"),
        ],
    )
    summary = control_summary(con, since=WEEK_TWO[0], until=WEEK_TWO[1])
    by_control = summary.set_index("control_id")

    for control in control_mapping().controls:
        expected = []
        if control.id in controls_for("reason", "scope_growth"):
            expected.append("d1")
        if control.id in set(controls_for("reason", "unused_grant")) | set(
            controls_for("verdict", "within_scope")
        ) | set(controls_for("reason", "permission_held")):
            expected.append("f1")
        assert by_control.loc[control.id, "finding_ids"] == expected, control.id
        assert by_control.loc[control.id, "findings"] == len(expected), control.id
    assert by_control.loc["ASI03", "finding_ids"] == ["d1", "f1"]
