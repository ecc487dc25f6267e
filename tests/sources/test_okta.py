"""Okta System Log lifecycle and group-membership events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditkit.errors import InputError
from auditkit.sources.okta import read_okta_events
from auditkit.sources.registry import detect_format

SAMPLE = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "okta"
    / "user.lifecycle.deactivate.event.json"
)


def event(uuid: str, event_type: str, published: str, **extra: Any) -> dict[str, Any]:
    targets = [{"id": "00uann", "type": "User"}]
    if event_type.startswith("group."):
        targets.append({"id": "00geng", "type": "UserGroup"})
    return {
        "uuid": uuid,
        "published": published,
        "eventType": event_type,
        "outcome": {"result": "SUCCESS"},
        "actor": {"id": "00uadmin", "alternateId": "admin@example.com"},
        "target": targets,
        **extra,
    }


def write_jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def test_events_deduplicated_and_ordered(tmp_path: Path) -> None:
    later = event("u2", "user.lifecycle.reactivate", "2026-03-01T12:00:00Z")
    earlier = event("u1", "user.lifecycle.suspend", "2026-03-01T09:00:00Z")
    path = write_jsonl(tmp_path / "log.jsonl", [later, earlier, later])
    events = read_okta_events(path)

    assert [e["event_id"] for e in events] == ["u1", "u2"]
    assert [e["event_type"] for e in events] == ["suspended", "reactivated"]


def test_group_removal_names_group(tmp_path: Path) -> None:
    removal = event("u3", "group.user_membership.remove", "2026-03-01T09:00:00Z")
    events = read_okta_events(write_jsonl(tmp_path / "log.jsonl", [removal]))

    assert events[0]["event_type"] == "membership_removed"
    assert events[0]["parent_type"] == "group"
    assert events[0]["parent_id"] == "00geng"


def test_failed_and_other_events_skipped(tmp_path: Path) -> None:
    failed = event(
        "u4",
        "user.lifecycle.deactivate",
        "2026-03-01T09:00:00Z",
        outcome={"result": "FAILURE"},
    )
    other = event("u5", "user.session.start", "2026-03-01T09:00:00Z")

    assert read_okta_events(write_jsonl(tmp_path / "l.jsonl", [failed, other])) == []


def test_event_without_user_rejected(tmp_path: Path) -> None:
    broken = event("u6", "user.lifecycle.deactivate", "2026-03-01T09:00:00Z")
    broken["target"] = []

    with pytest.raises(InputError, match="no target of type User"):
        read_okta_events(write_jsonl(tmp_path / "log.jsonl", [broken]))


def test_format_detected() -> None:
    sample = event("u7", "user.lifecycle.deactivate", "2026-03-01T09:00:00Z")

    assert detect_format(sample) == "okta"


def test_real_deactivation_event() -> None:
    if not SAMPLE.is_file():
        pytest.skip(f"{SAMPLE} is absent")
    events = read_okta_events(SAMPLE)

    assert events == [
        {
            "event_id": "ab62c0bc-2837-11eb-9823-9fb8f750c5a9",
            "ts": "2020-11-16T18:15:12.862000Z",
            "principal_type": "user",
            "principal_id": "00u3m90rxKjGQ0G6L1d6",
            "event_type": "deactivated",
            "changed_by": "okta.trainer@okta.com",
            "detail": "Deactivate Okta User",
        }
    ]
