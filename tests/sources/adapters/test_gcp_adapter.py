from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from auditkit.errors import InputError
from auditkit.models import Outcome
from auditkit.sources.base import RawRecord
from auditkit.sources.gcp import GcpAuditAdapter

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

AGENT_ACCOUNT = "agent@proj.iam.gserviceaccount.com"
BROKER_ACCOUNT = "broker@proj.iam.gserviceaccount.com"


def _entry(authentication: dict[str, Any], **payload: Any) -> dict[str, Any]:
    return {
        "insertId": "abc123",
        "timestamp": "2026-03-01T08:00:00.123456789Z",
        "operation": {"id": "op-1", "first": True},
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "serviceName": "storage.googleapis.com",
            "methodName": "storage.objects.get",
            "resourceName": "projects/_/buckets/reports/objects/q1.csv",
            "authenticationInfo": authentication,
            "authorizationInfo": [
                {"permission": "storage.objects.get", "granted": True},
            ],
        }
        | payload,
    }


def _map(value: Any) -> dict[str, Any]:
    (call,) = GcpAuditAdapter().map(RawRecord("audit.jsonl", 1, value))
    return call


def test_direct_user_call_is_subject_only() -> None:
    call = _map(_entry({"principalEmail": "alice@example.com"}))
    assert call["subject"] == "alice@example.com"
    assert "actor" not in call


def test_entry_fields_mapped() -> None:
    call = _map(_entry({"principalEmail": "alice@example.com"}))
    assert call["call_id"] == "abc123"
    assert call["ts"] == "2026-03-01T08:00:00.123456Z"
    assert call["tool"] == "storage.objects.get"
    assert call["action"] == "storage.objects.get"
    assert call["resource"] == "projects/_/buckets/reports/objects/q1.csv"
    assert call["resource_server"] == "storage.googleapis.com"
    assert call["session_id"] == "op-1"
    assert call["outcome"] is Outcome.ALLOWED


def test_delegation_chain_gives_subject_and_actors() -> None:
    authentication = {
        "principalEmail": AGENT_ACCOUNT,
        "serviceAccountDelegationInfo": [
            {"firstPartyPrincipal": {"principalEmail": "alice@example.com"}},
            {"firstPartyPrincipal": {"principalEmail": BROKER_ACCOUNT}},
        ],
    }
    call = _map(_entry(authentication))
    assert call["subject"] == "alice@example.com"
    assert call["actor"] == AGENT_ACCOUNT
    assert call["actor_chain"] == [AGENT_ACCOUNT, BROKER_ACCOUNT]


def test_service_account_alone_has_no_subject() -> None:
    call = _map(_entry({"principalEmail": AGENT_ACCOUNT}))
    assert "subject" not in call
    assert call["actor"] == AGENT_ACCOUNT


def test_any_refused_permission_is_denied() -> None:
    refused = [
        {"permission": "storage.objects.get", "granted": True},
        {"permission": "storage.objects.getIamPolicy", "granted": False},
    ]
    call = _map(_entry({"principalEmail": "a@example.com"}, authorizationInfo=refused))
    assert call["outcome"] is Outcome.DENIED


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (7, Outcome.DENIED),
        (16, Outcome.DENIED),
        (5, Outcome.ERROR),
        (0, Outcome.ALLOWED),
    ],
)
def test_status_code_outcome(code: int, expected: Outcome) -> None:
    entry = _entry({"principalEmail": "a@example.com"}, status={"code": code})
    entry["protoPayload"]["authorizationInfo"] = [{"permission": "p"}]
    assert _map(entry)["outcome"] is expected


def test_cloudevent_envelope_unwrapped() -> None:
    envelope = {
        "specversion": "1.0",
        "id": "event-1",
        "type": "google.cloud.audit.log.v1.written",
        "data": _entry({"principalEmail": "alice@example.com"}),
    }
    assert GcpAuditAdapter().detect(envelope)
    assert _map(envelope)["call_id"] == "abc123"


def test_time_without_zone_read_as_utc() -> None:
    entry = _entry({"principalEmail": "a@example.com"})
    entry["timestamp"] = "2026-03-01 08:00:00.5"
    assert _map(entry)["ts"] == "2026-03-01T08:00:00.500000Z"


def test_non_audit_entry_rejected() -> None:
    entry = {"insertId": "x", "timestamp": "2026-03-01T08:00:00Z", "textPayload": "hi"}
    with pytest.raises(InputError, match="not a Cloud Audit Logs entry"):
        _map(entry)


def test_missing_time_rejected() -> None:
    entry = _entry({"principalEmail": "a@example.com"})
    del entry["timestamp"]
    with pytest.raises(InputError, match="field 'timestamp': missing timestamp"):
        _map(entry)


def test_wrong_member_types_read_as_absent() -> None:
    entry = _entry("not an object", requestMetadata="text")  # type: ignore[arg-type]
    entry["protoPayload"]["authorizationInfo"] = "text"
    call = _map(entry)
    assert "subject" not in call
    assert "action" not in call


@pytest.mark.shared_data
def test_panther_gcp_entries(
    sample_file: Callable[[str], Path],
    jsonl_records: Callable[..., list[RawRecord]],
    map_one_by_one: Callable[..., tuple[int, int, int]],
) -> None:
    records = jsonl_records(sample_file("panther/GCP_AuditLog.jsonl"), "log")
    # Rejected test events lack protoPayload.methodName or every timestamp.
    assert map_one_by_one(GcpAuditAdapter(), records) == (141, 27, 141)


@pytest.mark.shared_data
def test_plaso_gcp_entries(
    sample_file: Callable[[str], Path],
    jsonl_records: Callable[..., list[RawRecord]],
    map_one_by_one: Callable[..., tuple[int, int, int]],
) -> None:
    records = jsonl_records(sample_file("plaso/gcp_logging.jsonl"))
    # One jsonPayload and one textPayload entry are not audit logs.
    assert map_one_by_one(GcpAuditAdapter(), records) == (9, 2, 9)


@pytest.mark.shared_data
def test_plaso_denied_delegated_call(
    sample_file: Callable[[str], Path],
    jsonl_records: Callable[..., list[RawRecord]],
) -> None:
    records = jsonl_records(sample_file("plaso/gcp_logging.jsonl"))
    (call,) = GcpAuditAdapter().map(records[10])
    assert call["outcome"] is Outcome.DENIED
    assert call["actor"] == "dvwa-service-account@ketchup.iam.gserviceaccount.com"
    assert call["action"] == "iam.serviceAccounts.create"


@pytest.mark.shared_data
def test_cloudevents_samples(sample_file: Callable[[str], Path]) -> None:
    folder = sample_file("gcp_cloudevents")
    calls = []
    for path in sorted(folder.rglob("*.json")):
        value = json.loads(path.read_text(encoding="utf-8"))
        calls.extend(GcpAuditAdapter().map(RawRecord(str(path), 1, value)))
    assert len(calls) == 4
    assert {call["actor"] for call in calls} == {
        "robot@test-project.iam.gserviceaccount.com"
    }
