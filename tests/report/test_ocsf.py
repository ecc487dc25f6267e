from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from auditkit.report.ocsf import (
    REQUIRED_FIELDS,
    missing_required_fields,
    write_ocsf_jsonl,
)
from auditkit.report.summary import fail_on

if TYPE_CHECKING:
    from pathlib import Path

    import duckdb


@pytest.fixture
def march_events(
    march_world: duckdb.DuckDBPyConnection, tmp_path: Path
) -> list[dict[str, Any]]:
    path = tmp_path / "findings.ocsf.jsonl"
    write_ocsf_jsonl(march_world, path, product_version="0.1.0")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_ocsf_exports_violations_and_indeterminate(
    march_events: list[dict[str, Any]],
) -> None:
    assert [event["metadata"]["correlation_uid"] for event in march_events] == [
        "c3",
        "c4",
        "c5",
        "c6",
        "c7",
    ]


def test_ocsf_required_fields_on_every_line(march_events: list[dict[str, Any]]) -> None:
    for event in march_events:
        assert missing_required_fields(event) == []


@pytest.mark.parametrize("dotted", REQUIRED_FIELDS)
def test_ocsf_missing_field_detected(
    march_events: list[dict[str, Any]], dotted: str
) -> None:
    event = json.loads(json.dumps(march_events[0]))
    *parents, last = dotted.split(".")
    target = event
    for key in parents:
        target = target[key]
    del target[last]
    assert missing_required_fields(event) == [dotted]


def test_ocsf_class_constants(march_events: list[dict[str, Any]]) -> None:
    event = march_events[0]
    assert event["class_uid"] == 2004
    assert event["category_uid"] == 2
    assert event["activity_id"] == 1
    assert event["type_uid"] == 200401
    assert event["metadata"]["version"] == "1.1.0"
    assert event["metadata"]["product"]["vendor_name"] == "auditkit"


def test_ocsf_severity_ids(march_events: list[dict[str, Any]]) -> None:
    # c3 high, c4 critical, c5 medium, c6 low, c7 high.
    assert [event["severity_id"] for event in march_events] == [4, 5, 3, 2, 4]


def test_ocsf_time_is_call_time_in_ms(march_events: list[dict[str, Any]]) -> None:
    # 2026-03-01T11:00:00Z
    assert march_events[0]["time"] == 1772362800000


def test_ocsf_finding_info(march_events: list[dict[str, Any]]) -> None:
    info = march_events[1]["finding_info"]
    assert info["types"] == ["stale_authority"]
    assert info["analytic"] == {
        "name": "principal_inactive",
        "uid": "principal_inactive",
        "type": "Rule",
        "type_id": 1,
    }
    assert len(info["uid"]) == 16


def test_ocsf_actor_and_resource(march_events: list[dict[str, Any]]) -> None:
    event = march_events[0]
    assert event["actor"]["user"]["uid"] == "bob"
    assert event["actor"]["invoked_by"] == "agent-crm"
    assert event["resources"] == [
        {
            "uid": "crm:accounts",
            "name": "crm:accounts",
            "type": "crm.export",
            "data": {
                "action": "crm:Export",
                "resource_server": "crm",
                "risk_tier": "export",
            },
        }
    ]


def test_ocsf_flags_and_evidence(march_events: list[dict[str, Any]]) -> None:
    event = march_events[4]
    assert event["unmapped"]["flags"] == ["token_forwarded", "enforcement_gap"]
    assert event["evidences"][0]["data"]["call_id"] == "c7"
    assert event["evidences"][0]["data"]["token_id"].startswith("eyJh…")


def test_ocsf_run_as_user_has_no_agent(march_events: list[dict[str, Any]]) -> None:
    event = march_events[3]
    assert "invoked_by" not in event["actor"]
    assert event["unmapped"]["flags"] == ["run_as_user"]


@pytest.mark.parametrize(
    ("severity", "since", "expected"),
    [
        ("critical", None, True),
        ("high", None, True),
        ("critical", "2026-03-03", False),
        ("high", "2026-03-03", True),
        ("MEDIUM", "2026-03-04", False),
        ("low", "2026-03-04", True),
    ],
)
def test_fail_on(
    march_world: duckdb.DuckDBPyConnection,
    severity: str,
    since: str | None,
    expected: bool,
) -> None:
    assert fail_on(march_world, severity, since=since) is expected


def test_fail_on_rejects_unknown_severity(
    march_world: duckdb.DuckDBPyConnection,
) -> None:
    with pytest.raises(ValueError, match=r"unknown severity 'severe'.*use one of info"):
        fail_on(march_world, "severe")
