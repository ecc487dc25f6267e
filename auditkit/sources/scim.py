"""SCIM 2.0 (RFC 7643, RFC 7644) Users and Groups as canonical entitlements.

An export (a ``ListResponse``, a JSON array of resources, or one resource) is a
state at one instant; :func:`scim_snapshot` stamps it for
:func:`auditkit.entitlements.snapshots.snapshot_intervals`. Mapping:

- a User is the principal ``("user", id)``. Its ``groups`` become memberships in
  ``("group", value)``; its ``roles`` become memberships in ``("role", value)``; its
  ``entitlements`` become allow grants of action ``value`` on resource ``*``.
- a Group's ``members`` become memberships of ``("user", value)`` or, for a member
  whose ``type`` is ``Group`` or whose ``$ref`` names ``/Groups/``,
  ``("group", value)``.
- a User with ``active: false`` holds nothing: its grants and memberships are left
  out of the state, so the series ends them.
- identity is the SCIM ``id``. A re-hire that gets a new ``id`` with the same
  ``externalId`` is a new principal, and the old id's grants never return to it.

PATCH requests on a Group (:func:`patch_events`) are exact changes: each member
added or removed becomes a ``membership_added`` or ``membership_removed`` event at
the instant the caller gives (the request itself carries no time).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditkit.entitlements.snapshots import Snapshot
from auditkit.errors import InputError
from auditkit.models.timestamps import parse_instant
from auditkit.sources.adapter_support import format_utc

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

logger = logging.getLogger(__name__)

Record = dict[str, Any]

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

_MEMBER_FILTER = re.compile(r'^members\[\s*value\s+eq\s*"(?P<value>[^"]*)"\s*\]$')


@dataclass
class ScimExport:
    """Grants and memberships of one SCIM export, and the users it lists."""

    grants: list[Record] = field(default_factory=list)
    memberships: list[Record] = field(default_factory=list)
    users: list[Record] = field(default_factory=list)


def scim_resources(value: Any, *, path: str | None = None) -> list[dict[str, Any]]:
    """Return the resources of a ListResponse, a JSON array or one resource.

    Raises
    ------
    InputError
        If the value is none of these.
    """
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    if isinstance(value, dict) and isinstance(value.get("Resources"), list):
        return [item for item in value["Resources"] if isinstance(item, dict)]
    if isinstance(value, dict) and resource_type(value) is not None:
        return [value]
    reason = "not a SCIM ListResponse, array of resources, User or Group"
    raise InputError(reason, path=path, hint="export Users and Groups with GET")


def resource_type(resource: dict[str, Any]) -> str | None:
    """Return ``User``, ``Group`` or None, from schemas, meta or typical attributes.

    Examples
    --------
    >>> resource_type({"schemas": [USER_SCHEMA], "id": "1"})
    'User'
    >>> resource_type({"id": "g", "displayName": "Staff", "members": []})
    'Group'
    """
    schemas = resource.get("schemas") or []
    if USER_SCHEMA in schemas:
        return "User"
    if GROUP_SCHEMA in schemas:
        return "Group"
    meta_type = (resource.get("meta") or {}).get("resourceType")
    if meta_type in ("User", "Group"):
        return str(meta_type)
    if "userName" in resource:
        return "User"
    if "members" in resource:
        return "Group"
    return None


def scim_entitlements(value: Any, *, path: str | None = None) -> ScimExport:
    """Map decoded SCIM resources onto grants and memberships."""
    export = ScimExport()
    for resource in scim_resources(value, path=path):
        kind = resource_type(resource)
        identifier = resource.get("id")
        if identifier in (None, ""):
            logger.warning("skipping a SCIM %s without id in %s", kind, path)
            continue
        if kind == "User":
            _add_user(export, resource)
        elif kind == "Group":
            export.memberships += _group_members(str(identifier), resource)
    inactive = {user["id"] for user in export.users if user["active"] is False}
    # A Group may still list an inactive user as a member; the user holds nothing.
    export.memberships = [
        link
        for link in export.memberships
        if not (link["member_type"] == "user" and link["member_id"] in inactive)
    ]
    return export


def read_scim(path: str | Path) -> ScimExport:
    """Read one SCIM JSON file (a ListResponse, an array or one resource)."""
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        reason = f"invalid JSON: {error.msg}"
        raise InputError(reason, path=path, line=error.lineno) from None
    return scim_entitlements(value, path=str(path))


def scim_snapshot(paths: Iterable[str | Path], taken_at: str | datetime) -> Snapshot:
    """Read the files of one export (Users and Groups) as a snapshot at ``taken_at``."""
    grants: list[Record] = []
    memberships: list[Record] = []
    for path in paths:
        export = read_scim(path)
        grants += export.grants
        memberships += export.memberships
    return Snapshot(
        taken_at=parse_instant(taken_at),
        grants=tuple(grants),
        memberships=tuple(memberships),
    )


def patch_events(
    patch: dict[str, Any],
    *,
    group_id: str,
    ts: str | datetime,
    current_members: Iterable[str] | None = None,
    request_id: str = "patch",
) -> list[Record]:
    """Map a PATCH request on a Group onto membership events at instant ``ts``.

    Parameters
    ----------
    patch
        The PatchOp body.
    group_id
        The Group the request was sent to (its URL names it, the body does not).
    ts
        When the request took effect.
    current_members
        User ids in the group before the request; needed only when an operation
        removes or replaces every member.
    request_id
        Text that makes event ids unique across requests.

    Raises
    ------
    InputError
        If the body is not a PatchOp, or removes every member without
        ``current_members``.

    Examples
    --------
    >>> body = {"schemas": [PATCH_SCHEMA], "Operations": [
    ...     {"op": "remove", "path": 'members[value eq "ann"]'}]}
    >>> [(e["event_type"], e["principal_id"]) for e in
    ...  patch_events(body, group_id="g1", ts="2026-03-01T08:00:00Z")]
    [('membership_removed', 'ann')]
    """
    if PATCH_SCHEMA not in (patch.get("schemas") or []):
        raise InputError("not a SCIM PatchOp request", field="schemas")
    instant = format_utc(parse_instant(ts))
    members = set(current_members) if current_members is not None else None
    events = []
    for position, operation in enumerate(patch.get("Operations") or [], start=1):
        for event_type, member in _operation_changes(operation, members):
            prefix = f"scim:{request_id}:{position}"
            events.append(
                {
                    "event_id": f"{prefix}:{event_type}:{member[1]}",
                    "ts": instant,
                    "principal_type": member[0],
                    "principal_id": member[1],
                    "event_type": event_type,
                    "parent_type": "group",
                    "parent_id": group_id,
                }
            )
    return events


def _operation_changes(
    operation: dict[str, Any], members: set[str] | None
) -> list[tuple[str, tuple[str, str]]]:
    op = str(operation.get("op", "")).lower()
    path = str(operation.get("path", ""))
    value = operation.get("value")
    if not path.startswith("members"):
        return []
    filtered = _MEMBER_FILTER.match(path)
    if op == "add":
        return [("membership_added", m) for m in _member_refs(value)]
    if op == "remove" and filtered is not None:
        return [("membership_removed", ("user", filtered["value"]))]
    if op == "remove" and value:
        return [("membership_removed", m) for m in _member_refs(value)]
    if op in ("remove", "replace"):
        removed = [("membership_removed", m) for m in _all_members(members)]
        added = [("membership_added", m) for m in _member_refs(value)]
        return removed + added if op == "replace" else removed
    return []


def _all_members(members: set[str] | None) -> list[tuple[str, str]]:
    if members is None:
        reason = "the request removes every member of the group"
        hint = "pass current_members, the member ids before the request"
        raise InputError(reason, field="Operations", hint=hint)
    return [("user", member) for member in sorted(members)]


def _member_refs(value: Any) -> list[tuple[str, str]]:
    if isinstance(value, list):
        items = value
    elif value:
        items = [value]
    else:
        items = []
    refs = []
    for item in items:
        if isinstance(item, dict) and item.get("value") not in (None, ""):
            refs.append((_member_type(item), str(item["value"])))
    return refs


def _member_type(member: dict[str, Any]) -> str:
    if str(member.get("type", "")).lower() == "group":
        return "group"
    if "/Groups/" in str(member.get("$ref", "")):
        return "group"
    return "user"


def _add_user(export: ScimExport, user: dict[str, Any]) -> None:
    user_id = str(user["id"])
    export.users.append(
        {
            "id": user_id,
            "externalId": user.get("externalId"),
            "active": user.get("active"),
        }
    )
    if user.get("active") is False:
        return
    for group in user.get("groups") or []:
        if isinstance(group, dict) and group.get("value"):
            export.memberships.append(
                _link(("user", user_id), ("group", group["value"]))
            )
    for role in user.get("roles") or []:
        if isinstance(role, dict) and role.get("value"):
            export.memberships.append(_link(("user", user_id), ("role", role["value"])))
    for entitlement in user.get("entitlements") or []:
        if isinstance(entitlement, dict) and entitlement.get("value"):
            export.grants.append(
                {
                    "principal_type": "user",
                    "principal_id": user_id,
                    "effect": "allow",
                    "action": str(entitlement["value"]),
                    "resource": "*",
                }
            )


def _group_members(group_id: str, group: dict[str, Any]) -> list[Record]:
    links = []
    for member in _member_refs(group.get("members") or []):
        links.append(_link(member, ("group", group_id)))
    return links


def _link(member: tuple[str, str], parent: tuple[str, Any]) -> Record:
    return {
        "member_type": member[0],
        "member_id": member[1],
        "parent_type": parent[0],
        "parent_id": str(parent[1]),
    }
