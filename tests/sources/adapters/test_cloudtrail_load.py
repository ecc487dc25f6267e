"""Loads of CloudTrail documents with bad events into a real DuckDB workspace.

A ``Records`` or ``Events`` document is one JSON record, so each bad event inside it
must be quarantined on its own while the good events of the same document load.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from auditkit.errors import InputError
from auditkit.workspace import Workspace
from auditkit.workspace.integrity import check_integrity

if TYPE_CHECKING:
    from pathlib import Path

USER = {"type": "IAMUser", "arn": "arn:aws:iam::222222222222:user/bob"}


def _event(event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "eventID": event_id,
        "eventTime": "2026-03-01T08:00:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "ListBuckets",
        "awsRegion": "eu-west-1",
        "recipientAccountId": "222222222222",
        "userIdentity": USER,
    } | extra


def _write(path: Path, *documents: Any) -> Path:
    if path.suffix == ".jsonl":
        text = "".join(json.dumps(document) + "\n" for document in documents)
    else:
        (document,) = documents
        text = json.dumps(document)
    path.write_text(text, encoding="utf-8")
    return path


def _stored(workspace: Workspace) -> dict[str, Any]:
    calls = workspace.sql("SELECT call_id FROM calls ORDER BY call_id").fetchall()
    quarantine = workspace.sql(
        "SELECT source_file, source_line, field, reason, record FROM quarantine "
        "ORDER BY source_line, field"
    ).fetchall()
    logged = workspace.sql("SELECT rows_accepted, rows_quarantined FROM load_log")
    report = check_integrity(workspace.connection)
    return {
        "calls": [row[0] for row in calls],
        "quarantine": quarantine,
        "load_log": logged.fetchall(),
        "integrity": report.ok,
    }


def _load(path: Path, folder: Path, **options: Any) -> tuple[Any, dict[str, Any]]:
    with Workspace.open(folder / "audit.duckdb") as workspace:
        result = workspace.load(path, **options)
        return result, _stored(workspace)


def test_bad_middle_event_quarantined(tmp_path: Path) -> None:
    broken = _event("e2", eventTime="yesterday")
    document = {"Records": [_event("e1"), broken, _event("e3")]}
    path = _write(tmp_path / "trail.json", document)

    result, stored = _load(path, tmp_path)

    assert result.rows_accepted == 2
    assert result.rows_quarantined == 1
    assert stored["calls"] == ["e1", "e3"]
    ((source_file, line, field, reason, record),) = stored["quarantine"]
    assert source_file == str(path)
    assert line == 1
    assert field == "Records[1].eventTime"
    assert "invalid timestamp 'yesterday'" in reason
    assert json.loads(record) == broken
    assert stored["load_log"] == [(2, 1)]
    assert stored["integrity"]


def test_bad_lookup_event_text_quarantined(tmp_path: Path) -> None:
    lookup = {
        "Events": [
            {"EventId": "e1", "CloudTrailEvent": json.dumps(_event("e1"))},
            {"EventId": "e2", "CloudTrailEvent": "{not json"},
            {"EventId": "e3", "CloudTrailEvent": json.dumps(_event("e3"))},
        ]
    }
    path = _write(tmp_path / "lookup.json", lookup)

    result, stored = _load(path, tmp_path)

    assert result.rows_accepted == 2
    assert result.rows_quarantined == 1
    assert stored["calls"] == ["e1", "e3"]
    ((_, line, field, reason, record),) = stored["quarantine"]
    assert line == 1
    assert field == "Events[1].CloudTrailEvent"
    assert "not JSON text of an event" in reason
    assert json.loads(record) == lookup["Events"][1]
    assert stored["integrity"]


def test_all_bad_events_each_quarantined(tmp_path: Path) -> None:
    no_source = _event("e3")
    del no_source["eventSource"]
    document = {
        "Records": [
            _event("e1", eventTime="2026-13-01T08:00:00Z"),
            _event("e2", userIdentity=["not", "an", "object"]),
            no_source,
        ]
    }
    path = _write(tmp_path / "trail.json", document)

    result, stored = _load(path, tmp_path)

    assert result.rows_accepted == 0
    assert result.rows_quarantined == 3
    assert stored["calls"] == []
    assert [(row[1], row[2]) for row in stored["quarantine"]] == [
        (1, "Records[0].eventTime"),
        (1, "Records[1].userIdentity"),
        (1, "Records[2].eventSource"),
    ]
    assert stored["load_log"] == [(0, 3)]
    assert stored["integrity"]


def test_bad_events_on_their_lines(tmp_path: Path) -> None:
    first = {"Records": [_event("e1"), 42]}
    second = {"Records": [_event("e3", eventTime=""), _event("e4")]}
    path = _write(tmp_path / "trail.jsonl", first, second)

    result, stored = _load(path, tmp_path, format="cloudtrail")

    assert result.rows_accepted == 2
    assert stored["calls"] == ["e1", "e4"]
    assert [(row[1], row[2]) for row in stored["quarantine"]] == [
        (1, "Records[1]"),
        (2, "Records[0].eventTime"),
    ]
    assert stored["load_log"] == [(2, 2)]
    assert stored["integrity"]


def test_not_cloudtrail_document_quarantined_whole(tmp_path: Path) -> None:
    document = {"Items": [_event("e1")]}
    path = _write(tmp_path / "trail.json", document)

    result, stored = _load(path, tmp_path, format="cloudtrail")

    assert result.rows_accepted == 0
    assert result.rows_quarantined == 1
    ((_, line, field, reason, record),) = stored["quarantine"]
    assert line == 1
    assert field is None
    assert "not a CloudTrail event" in reason
    assert json.loads(record) == document


def test_raise_policy_names_event_path(tmp_path: Path) -> None:
    broken = _event("e2", eventTime="yesterday")
    path = _write(tmp_path / "trail.json", {"Records": [_event("e1"), broken]})

    with Workspace.open(tmp_path / "audit.duckdb") as workspace:
        with pytest.raises(InputError) as raised:
            workspace.load(path, errors="raise")
        counts = workspace.row_counts()

    error = raised.value
    assert error.line == 1
    assert error.field == "Records[1].eventTime"
    assert "trail.json" in str(error)
    assert error.hint
    assert set(counts.values()) == {0}
