from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from auditkit.errors import InputError
from auditkit.models import Outcome
from auditkit.sources.base import RawRecord
from auditkit.sources.cloudtrail import CloudTrailAdapter, unmapped_operations

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

PLANNER_ROLE = "arn:aws:iam::111111111111:role/Planner"
WORKER_ROLE = "arn:aws:iam::222222222222:role/Worker"
DECOY_WORKER_ROLE = "arn:aws:iam::333333333333:role/Worker"


def _event(event_id: str, name: str, identity: dict[str, Any], **extra: Any) -> dict:
    source = extra.pop("source", "s3.amazonaws.com")
    return {
        "eventVersion": "1.08",
        "eventID": event_id,
        "eventTime": "2026-03-01T08:00:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "eu-west-1",
        "recipientAccountId": "222222222222",
        "userIdentity": identity,
    } | extra


def _role_session(
    role_arn: str, session: str, key: str, source_identity: str | None
) -> dict[str, Any]:
    account = role_arn.split(":")[4]
    role = role_arn.rsplit("/", 1)[1]
    context: dict[str, Any] = {
        "attributes": {"creationDate": "2026-03-01T07:59:00Z"},
        "sessionIssuer": {
            "type": "Role",
            "arn": role_arn,
            "accountId": account,
            "userName": role,
        },
    }
    if source_identity is not None:
        context["sourceIdentity"] = source_identity
    return {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": key,
        "sessionContext": context,
    }


def _assume_role(
    event_id: str, caller: dict[str, Any], role_arn: str, new_key: str
) -> dict[str, Any]:
    return _event(
        event_id,
        "AssumeRole",
        caller,
        source="sts.amazonaws.com",
        requestParameters={
            "roleArn": role_arn,
            "roleSessionName": "alice",
            "sourceIdentity": "alice",
        },
        responseElements={
            "credentials": {"accessKeyId": new_key, "sessionToken": "never-kept"},
            "assumedRoleUser": {"arn": "arn:aws:sts::x:assumed-role/r/alice"},
        },
        resources=[{"ARN": role_arn, "type": "AWS::IAM::Role"}],
    )


@pytest.fixture
def role_chain_trail() -> dict[str, Any]:
    """Alice assumes Planner, Planner assumes Worker, Worker reads an object.

    A decoy role also named Worker, in another account, reads the same object
    with a session name that claims to be alice.
    """
    alice = {
        "type": "IAMUser",
        "arn": "arn:aws:iam::111111111111:user/alice",
        "accessKeyId": "AKIAALICE",
    }
    planner = _role_session(PLANNER_ROLE, "alice", "ASIAPLANNER", "alice")
    worker = _role_session(WORKER_ROLE, "alice", "ASIAWORKER", "alice")
    decoy = _role_session(DECOY_WORKER_ROLE, "alice", "ASIADECOY", None)
    read = {"bucketName": "reports", "key": "q1.csv"}
    return {
        "Records": [
            _event("e4", "GetObject", worker, requestParameters=read),
            _assume_role("e1", alice, PLANNER_ROLE, "ASIAPLANNER"),
            _assume_role("e2", planner, WORKER_ROLE, "ASIAWORKER"),
            _event("e5", "GetObject", decoy, requestParameters=read),
        ]
    }


def _calls(value: Any) -> dict[str, dict[str, Any]]:
    rows = CloudTrailAdapter().map(RawRecord("trail.json", 1, value))
    return {row["call_id"]: row for row in rows}


def test_role_chain_subject_and_actor(role_chain_trail: dict[str, Any]) -> None:
    call = _calls(role_chain_trail)["e4"]
    assert call["subject"] == "alice"
    assert call["actor"] == WORKER_ROLE
    assert call["actor_chain"] == [WORKER_ROLE, PLANNER_ROLE]


def test_role_chain_middle_link(role_chain_trail: dict[str, Any]) -> None:
    call = _calls(role_chain_trail)["e2"]
    assert call["actor"] == PLANNER_ROLE
    assert call["action"] == "sts:AssumeRole"
    assert call["resource"] == WORKER_ROLE


def test_chain_starts_at_iam_user(role_chain_trail: dict[str, Any]) -> None:
    call = _calls(role_chain_trail)["e1"]
    assert call["subject"] == "arn:aws:iam::111111111111:user/alice"
    assert "actor" not in call


def test_decoy_role_other_account_not_matched(
    role_chain_trail: dict[str, Any],
) -> None:
    call = _calls(role_chain_trail)["e5"]
    assert call["actor"] == DECOY_WORKER_ROLE
    assert call["actor_chain"] == [DECOY_WORKER_ROLE]


def test_session_name_only_a_hint(role_chain_trail: dict[str, Any]) -> None:
    call = _calls(role_chain_trail)["e5"]
    assert "subject" not in call
    expected = "arn:aws:sts::333333333333:assumed-role/Worker/alice"
    assert call["session_id"] == expected


def test_session_start_from_creation_date(role_chain_trail: dict[str, Any]) -> None:
    assert (
        _calls(role_chain_trail)["e4"]["session_started_at"] == "2026-03-01T07:59:00Z"
    )


def test_action_and_resource_from_table(role_chain_trail: dict[str, Any]) -> None:
    call = _calls(role_chain_trail)["e4"]
    assert call["tool"] == "s3.amazonaws.com:GetObject"
    assert call["action"] == "s3:GetObject"
    assert call["resource"] == "arn:aws:s3:::reports/q1.csv"
    assert call["resource_server"] == "s3.amazonaws.com"


def test_session_token_never_kept(role_chain_trail: dict[str, Any]) -> None:
    assert "never-kept" not in repr(_calls(role_chain_trail))


USER = {"type": "IAMUser", "arn": "arn:aws:iam::222222222222:user/bob"}


@pytest.mark.parametrize(
    ("error_code", "expected"),
    [
        (None, Outcome.ALLOWED),
        ("AccessDenied", Outcome.DENIED),
        ("Client.UnauthorizedOperation", Outcome.DENIED),
        ("NoSuchBucket", Outcome.ERROR),
        ("Client.DryRunOperation", Outcome.ALLOWED),
    ],
)
def test_error_code_outcome(error_code: str | None, expected: Outcome) -> None:
    event = _event("e1", "ListBuckets", USER)
    if error_code is not None:
        event["errorCode"] = error_code
    assert _calls(event)["e1"]["outcome"] is expected


def test_access_denied_keeps_action() -> None:
    event = _event("e1", "ListBuckets", USER, errorCode="AccessDenied")
    call = _calls(event)["e1"]
    assert call["action"] == "s3:ListAllMyBuckets"
    assert call["outcome"] is Outcome.DENIED


def test_list_objects_needs_list_bucket() -> None:
    event = _event("e1", "ListObjectsV2", USER, requestParameters={"bucketName": "b"})
    call = _calls(event)["e1"]
    assert call["action"] == "s3:ListBucket"
    assert call["resource"] == "arn:aws:s3:::b"


def test_unmapped_operation_listed() -> None:
    event = _event("e1", "ConsoleLogin", USER, source="signin.amazonaws.com")
    calls = list(_calls(event).values())
    assert calls[0]["tool"] == "signin.amazonaws.com:ConsoleLogin"
    assert "action" not in calls[0]
    assert unmapped_operations(calls) == [("signin.amazonaws.com:ConsoleLogin", 1)]


def test_lambda_version_suffix_ignored() -> None:
    event = _event(
        "e1", "UpdateFunctionCode20150331v2", USER, source="lambda.amazonaws.com"
    )
    assert _calls(event)["e1"]["action"] == "lambda:UpdateFunctionCode"


def test_lookup_events_shape() -> None:
    event = _event("e9", "DeleteBucket", USER, requestParameters={"bucketName": "b"})
    lookup = {"Events": [{"EventId": "e9", "CloudTrailEvent": json.dumps(event)}]}
    call = _calls(lookup)["e9"]
    assert call["action"] == "s3:DeleteBucket"


def test_duplicate_event_ids_dropped() -> None:
    event = _event("e1", "ListBuckets", USER)
    rows = list(
        CloudTrailAdapter().map(RawRecord("t.json", 1, {"Records": [event] * 3}))
    )
    assert len(rows) == 1


def test_duplicates_across_lines_dropped() -> None:
    event = _event("e1", "ListBuckets", USER)
    records = [RawRecord("t.jsonl", line, event) for line in (1, 2)]
    assert len(list(CloudTrailAdapter().map_stream(records))) == 1


def test_missing_event_id_gets_content_id() -> None:
    event = _event("e1", "ListBuckets", USER)
    del event["eventID"]
    (call,) = _calls(event).values()
    assert call["call_id"].startswith("cloudtrail-")


def test_time_without_zone_read_as_utc() -> None:
    event = _event("e1", "ListBuckets", USER, eventTime="2026-03-01 08:00:00")
    assert _calls(event)["e1"]["ts"] == "2026-03-01T08:00:00Z"


def test_missing_event_name_rejected() -> None:
    event = _event("e1", "ListBuckets", USER)
    del event["eventName"]
    with pytest.raises(InputError, match="field 'eventName': missing eventName"):
        _calls(event)


def test_bad_record_in_log_file_named() -> None:
    event = _event("e1", "ListBuckets", USER)
    broken = _event("e2", "ListBuckets", USER, eventTime="yesterday")
    with pytest.raises(InputError, match=r"field 'Records\[1\]\.eventTime'"):
        _calls({"Records": [event, broken]})


def _stream(value: Any) -> list[tuple[RawRecord, dict[str, Any] | InputError]]:
    return list(CloudTrailAdapter().map_stream([RawRecord("trail.json", 7, value)]))


def _errors(items: list[tuple[RawRecord, Any]]) -> list[InputError]:
    return [item for _, item in items if isinstance(item, InputError)]


def _call_ids(items: list[tuple[RawRecord, Any]]) -> list[str]:
    return [item["call_id"] for _, item in items if isinstance(item, dict)]


def test_stream_bad_time_between_good() -> None:
    broken = _event("e2", "ListBuckets", USER, eventTime="yesterday")
    items = _stream(
        {
            "Records": [
                _event("e1", "ListBuckets", USER),
                broken,
                _event("e3", "ListBuckets", USER),
            ]
        }
    )
    (error,) = _errors(items)
    assert _call_ids(items) == ["e1", "e3"]
    assert error.field == "Records[1].eventTime"
    assert error.path == "trail.json"
    assert error.line == 7
    assert "yesterday" in error.reason


def test_stream_item_not_an_event() -> None:
    items = _stream({"Records": [_event("e1", "ListBuckets", USER), 42, ["e3"]]})
    errors = _errors(items)
    assert _call_ids(items) == ["e1"]
    assert [error.field for error in errors] == ["Records[1]", "Records[2]"]
    assert all("not a CloudTrail event" in error.reason for error in errors)


def test_stream_lookup_bad_event_text() -> None:
    good = [_event(event_id, "ListBuckets", USER) for event_id in ("e1", "e3")]
    lookup = {
        "Events": [
            {"EventId": "e1", "CloudTrailEvent": json.dumps(good[0])},
            {"EventId": "e2", "CloudTrailEvent": '{"eventID": "e2", '},
            {"EventId": "e3", "CloudTrailEvent": json.dumps(good[1])},
        ]
    }
    items = _stream(lookup)
    (error,) = _errors(items)
    assert _call_ids(items) == ["e1", "e3"]
    assert error.field == "Events[1].CloudTrailEvent"
    assert "not JSON text" in error.reason
    assert error.hint


def test_stream_lookup_bad_time_named() -> None:
    broken = _event("e2", "ListBuckets", USER, eventTime="2026-02-30T08:00:00Z")
    lookup = {
        "Events": [
            {"CloudTrailEvent": json.dumps(_event("e1", "ListBuckets", USER))},
            {"CloudTrailEvent": json.dumps(broken)},
        ]
    }
    items = _stream(lookup)
    (error,) = _errors(items)
    assert _call_ids(items) == ["e1"]
    assert error.field == "Events[1].CloudTrailEvent.eventTime"


def test_stream_all_bad_events_each_reported() -> None:
    no_name = _event("e2", "ListBuckets", USER)
    del no_name["eventName"]
    document = {
        "Records": [
            _event("e1", "ListBuckets", USER, eventTime="soon"),
            no_name,
            _event("e3", "ListBuckets", "not an object"),
        ]
    }
    items = _stream(document)
    assert _call_ids(items) == []
    assert [error.field for error in _errors(items)] == [
        "Records[0].eventTime",
        "Records[1].eventName",
        "Records[2].userIdentity",
    ]


def test_stream_error_carries_event_alone() -> None:
    broken = _event("e2", "ListBuckets", USER, eventTime="yesterday")
    items = _stream({"Records": [_event("e1", "ListBuckets", USER), broken]})
    records = [record for record, _ in items]
    assert [record.value for record in records] == [
        _event("e1", "ListBuckets", USER),
        broken,
    ]
    assert {(record.path, record.line) for record in records} == {("trail.json", 7)}


@pytest.mark.parametrize("value", [{"Items": []}, {"Records": "not a list"}, 42])
def test_stream_not_cloudtrail_fails_whole(value: Any) -> None:
    ((record, error),) = _stream(value)
    assert isinstance(error, InputError)
    assert error.field is None
    assert "not a CloudTrail event" in error.reason
    assert record.value == value


def test_bad_copy_does_not_hide_good_copy() -> None:
    good = _event("e1", "ListBuckets", USER)
    broken = _event("e1", "ListBuckets", USER, eventTime="yesterday")
    for order in ([broken, good], [good, broken]):
        items = _stream({"Records": order})
        assert _call_ids(items) == ["e1"]
        assert len(_errors(items)) == 1


def test_map_raises_on_bad_item() -> None:
    document = {"Records": [_event("e1", "ListBuckets", USER), 42]}
    with pytest.raises(InputError, match=r"field 'Records\[1\]'"):
        _calls(document)


def test_detects_shapes() -> None:
    adapter = CloudTrailAdapter()
    event = _event("e1", "ListBuckets", USER)
    assert adapter.detect(event)
    assert adapter.detect({"Records": [event]})
    assert adapter.detect({"CloudTrailEvent": json.dumps(event)})
    assert adapter.detect({"eventName": "x"}) is False


def test_rows_are_canonical(role_chain_trail: dict[str, Any], validated: Any) -> None:
    assert len(validated(_calls(role_chain_trail).values())) == 4


@pytest.mark.shared_data
def test_panther_cloudtrail_events(
    sample_file: Callable[[str], Path],
    jsonl_records: Callable[..., list[RawRecord]],
    map_one_by_one: Callable[..., tuple[int, int, int]],
) -> None:
    records = jsonl_records(sample_file("panther/AWS_CloudTrail.jsonl"), "log")
    # Test events are hand-edited: 35 lack eventTime, eventName or eventSource.
    assert map_one_by_one(CloudTrailAdapter(), records) == (437, 35, 437)


@pytest.mark.shared_data
def test_panther_cloudtrail_as_one_load(
    sample_file: Callable[[str], Path],
    jsonl_records: Callable[..., list[RawRecord]],
) -> None:
    records = jsonl_records(sample_file("panther/AWS_CloudTrail.jsonl"), "log")
    items = list(CloudTrailAdapter().map_stream(records))
    errors = [item for _, item in items if isinstance(item, InputError)]
    # Many test events reuse an eventID, so one load keeps the first good copy of
    # each: 158 distinct ids (34 events carry none). The 35 events that lack
    # eventTime, eventName or eventSource, or whose time is invalid, are each
    # reported, repeated id or not. Both counts were made apart from the adapter,
    # with json.loads and datetime.fromisoformat.
    assert (len(items) - len(errors), len(errors)) == (158, 35)


@pytest.mark.shared_data
def test_aws_documentation_events(
    sample_file: Callable[[str], Path],
    map_one_by_one: Callable[..., tuple[int, int, int]],
) -> None:
    path = sample_file("aws_docs_cloudtrail/doc_example_events.jsonl")
    records = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        value = json.loads(text)
        if "event" in value:
            records.append(RawRecord(str(path), number, value["event"]))
    # Two fragments hold only userIdentity; four records hold only Insights
    # events, which are no calls.
    assert map_one_by_one(CloudTrailAdapter(), records) == (30, 2, 26)


@pytest.mark.shared_data
def test_aws_documentation_source_identity(
    sample_file: Callable[[str], Path],
) -> None:
    path = sample_file("aws_docs_cloudtrail/doc_example_events.jsonl")
    values = [
        json.loads(text) for text in path.read_text(encoding="utf-8").splitlines()
    ]
    tagged = next(
        value["event"]
        for value in values
        if value.get("event", {}).get("eventID")
        == "1917948f-3042-46ec-98e2-62865EXAMPLE"
    )
    (call,) = CloudTrailAdapter().map(RawRecord(str(path), 1, tagged))
    assert call["subject"] == "JohnDoe"
    assert call["actor"] == "arn:aws:iam::111111111111:role/JohnRole1"
