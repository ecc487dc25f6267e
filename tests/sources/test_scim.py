"""SCIM 2.0 exports and PATCH requests as canonical entitlements."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from auditkit.entitlements.snapshots import Snapshot, snapshot_intervals
from auditkit.errors import InputError
from auditkit.sources.scim import (
    LIST_SCHEMA,
    PATCH_SCHEMA,
    USER_SCHEMA,
    patch_events,
    read_scim,
    scim_entitlements,
    scim_snapshot,
)

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "scim2" / "samples"
DAY = [datetime(2026, 3, day) for day in (1, 2, 3)]


def user(user_id: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER_SCHEMA], "id": user_id, "userName": user_id, **extra}


def listing(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [LIST_SCHEMA], "Resources": list(resources)}


def test_user_groups_become_memberships() -> None:
    export = scim_entitlements(user("ann", groups=[{"value": "eng"}]))

    assert export.memberships == [
        {
            "member_type": "user",
            "member_id": "ann",
            "parent_type": "group",
            "parent_id": "eng",
        }
    ]


def test_roles_become_role_memberships() -> None:
    export = scim_entitlements(user("ann", roles=[{"value": "approver"}]))

    assert export.memberships[0]["parent_type"] == "role"


def test_entitlements_become_grants() -> None:
    export = scim_entitlements(user("ann", entitlements=[{"value": "crm:Export"}]))

    assert export.grants[0]["action"] == "crm:Export"
    assert export.grants[0]["resource"] == "*"


def test_group_members_typed() -> None:
    group = {
        "id": "staff",
        "displayName": "Staff",
        "members": [
            {"value": "ann"},
            {"value": "eng", "$ref": "https://example.com/v2/Groups/eng"},
        ],
    }
    export = scim_entitlements(listing(group))

    assert [m["member_type"] for m in export.memberships] == ["user", "group"]


def test_inactive_user_holds_nothing() -> None:
    ann = user("ann", active=False, groups=[{"value": "eng"}])
    group = {"id": "eng", "displayName": "Eng", "members": [{"value": "ann"}]}
    export = scim_entitlements(listing(ann, group))

    assert export.memberships == []


def test_not_scim_rejected() -> None:
    with pytest.raises(InputError, match="not a SCIM ListResponse"):
        scim_entitlements({"name": "x"})


def test_rehire_new_id_is_new_principal() -> None:
    before = scim_entitlements(user("id-1", externalId="e7", groups=[{"value": "eng"}]))
    after = scim_entitlements(user("id-2", externalId="e7", groups=[{"value": "eng"}]))
    series = [
        Snapshot(DAY[0], memberships=tuple(before.memberships)),
        Snapshot(DAY[1], memberships=tuple(after.memberships)),
        Snapshot(DAY[2], memberships=tuple(after.memberships)),
    ]
    built = snapshot_intervals(series)
    old = [m for m in built.memberships if m["member_id"] == "id-1"]

    assert [m["valid_to"] for m in old] == [DAY[1]]
    assert len(built.memberships) == 2


def test_patch_add_and_remove() -> None:
    body = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [
            {"op": "remove", "path": 'members[value eq "ann"]'},
            {"op": "add", "path": "members", "value": [{"value": "bob"}]},
        ],
    }
    events = patch_events(body, group_id="eng", ts="2026-03-01T10:00:00Z")

    assert [(e["event_type"], e["principal_id"]) for e in events] == [
        ("membership_removed", "ann"),
        ("membership_added", "bob"),
    ]
    assert events[0]["ts"] == "2026-03-01T10:00:00Z"
    assert events[0]["parent_id"] == "eng"


def test_patch_remove_all_needs_members() -> None:
    body = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "remove", "path": "members"}],
    }

    with pytest.raises(InputError, match="removes every member"):
        patch_events(body, group_id="eng", ts="2026-03-01T10:00:00Z")


def test_patch_replace_all_members() -> None:
    body = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [
            {"op": "replace", "path": "members", "value": [{"value": "cy"}]}
        ],
    }
    events = patch_events(
        body, group_id="eng", ts="2026-03-01T10:00:00Z", current_members=["ann"]
    )

    assert [(e["event_type"], e["principal_id"]) for e in events] == [
        ("membership_removed", "ann"),
        ("membership_added", "cy"),
    ]


def test_patch_pins_membership_end() -> None:
    link = scim_entitlements(user("ann", groups=[{"value": "eng"}])).memberships
    body = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "remove", "path": 'members[value eq "ann"]'}],
    }
    events = patch_events(body, group_id="eng", ts="2026-03-01T10:00:00Z")
    series = [Snapshot(DAY[0], memberships=tuple(link)), Snapshot(DAY[1])]
    built = snapshot_intervals(series, events=events)

    assert built.memberships[0]["valid_to"] == datetime(2026, 3, 1, 10)
    assert "valid_to_earliest" not in built.memberships[0]


def test_snapshot_from_files(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text(json.dumps(listing(user("ann", groups=[{"value": "g"}]))))
    snapshot = scim_snapshot([path], "2026-03-01T00:00:00Z")

    assert snapshot.taken_at == DAY[0]
    assert len(snapshot.memberships) == 1


# --- the RFC examples ---------------------------------------------------------------


@pytest.fixture
def samples() -> Path:
    """The RFC 7643 and 7644 example files, or a skip where they are absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f"{SAMPLES} is absent")
    return SAMPLES


def test_rfc_full_user(samples: Path) -> None:
    export = read_scim(samples / "rfc7643-8.2-user-full.json")

    assert [m["parent_id"] for m in export.memberships] == [
        "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "fc348aa8-3835-40eb-a20b-c726e15c55b5",
        "71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7",
    ]


def test_rfc_group(samples: Path) -> None:
    export = read_scim(samples / "rfc7643-8.4-group.json")

    assert [m["member_id"] for m in export.memberships] == [
        "2819c223-7f76-453a-919d-413861904646",
        "902c246b-6245-4190-8e05-00816be7344a",
    ]


def test_rfc_list_response(samples: Path) -> None:
    export = read_scim(samples / "rfc7644-3.4.3-list_response-post_query.json")

    assert [u["id"] for u in export.users] == ["2819c223-7f76-413861904646"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "rfc7644-3.5.2.1-patch_op-add_members.json",
            [("membership_added", "2819c223-7f76-453a-919d-413861904646")],
        ),
        (
            "rfc7644-3.5.2.2-patch_op-remove_one_member.json",
            [("membership_removed", "2819c223-7f76-...413861904646")],
        ),
        (
            "rfc7644-3.5.2.2-patch_op-remove_and_add_one_member.json",
            [
                ("membership_removed", "2819c223...919d-413861904646"),
                ("membership_added", "08e1d05d...473d93df9210"),
            ],
        ),
        (
            "rfc7644-3.5.2.2-patch_op-remove_all_members.json",
            [("membership_removed", "old")],
        ),
    ],
)
def test_rfc_patch_requests(
    samples: Path, name: str, expected: list[tuple[str, str]]
) -> None:
    body = json.loads((samples / name).read_text(encoding="utf-8"))
    events = patch_events(
        body, group_id="g", ts="2026-03-01T00:00:00Z", current_members=["old"]
    )

    assert [(e["event_type"], e["principal_id"]) for e in events] == expected
