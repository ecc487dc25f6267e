"""AWS ``aws iam get-account-authorization-details`` output as canonical entitlements.

Principals are named by ARN, as the CloudTrail adapter names them: users as
``("user", arn)``, groups as ``("group", arn)`` and roles as ``("role", arn)``. A role
session in CloudTrail acts as the agent named by the role's ARN, so each role also
gets a membership of ``("agent", role arn)`` in ``("role", role arn)``.

Inline policies (``UserPolicyList``, ``GroupPolicyList``, ``RolePolicyList``) and
attached managed policies (the default version from ``Policies``) become grants of
the principal they are attached to; ``GroupList`` becomes user-in-group memberships;
a ``PermissionsBoundary`` becomes ``boundary`` grants of the principal. Statement
semantics are those of :mod:`auditkit.entitlements.iam`.

The export is a state at one instant: :func:`authorization_snapshot` stamps it with
the time the caller gives, for
:func:`auditkit.entitlements.snapshots.snapshot_intervals`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditkit.entitlements.iam import document_grants, policy_document
from auditkit.entitlements.snapshots import Snapshot
from auditkit.errors import InputError
from auditkit.models.timestamps import parse_instant

if TYPE_CHECKING:
    from datetime import datetime

logger = logging.getLogger(__name__)

Record = dict[str, Any]

_KINDS = (
    ("UserDetailList", "user", "UserPolicyList"),
    ("GroupDetailList", "group", "GroupPolicyList"),
    ("RoleDetailList", "role", "RolePolicyList"),
)


@dataclass
class IamExport:
    """Grants and memberships read from one authorization-details export.

    ``missing_policies`` lists attached or boundary policy ARNs that the export does
    not contain (an export filtered to local policies omits AWS managed ones): the
    grants they would give are absent, so verdicts may read as over scope.
    """

    grants: list[Record] = field(default_factory=list)
    memberships: list[Record] = field(default_factory=list)
    missing_policies: list[str] = field(default_factory=list)


def is_authorization_details(value: Any) -> bool:
    """Return whether a decoded JSON value looks like authorization-details output.

    Examples
    --------
    >>> is_authorization_details({"UserDetailList": [], "Policies": []})
    True
    >>> is_authorization_details({"Users": []})
    False
    """
    if not isinstance(value, dict):
        return False
    return any(key in value for key, _, _ in _KINDS)


def read_authorization_details(path: str | Path) -> IamExport:
    """Read one ``get-account-authorization-details`` JSON file.

    Raises
    ------
    InputError
        If the file is not valid JSON or not of this shape.
    """
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        reason = f"invalid JSON: {error.msg}"
        raise InputError(reason, path=path, line=error.lineno) from None
    if not is_authorization_details(value):
        reason = "not get-account-authorization-details output"
        hint = "export with: aws iam get-account-authorization-details"
        raise InputError(reason, path=path, hint=hint)
    return authorization_entitlements(value, source=str(path))


def authorization_snapshot(path: str | Path, taken_at: str | datetime) -> Snapshot:
    """Read an export as a :class:`Snapshot` taken at ``taken_at``."""
    export = read_authorization_details(path)
    return Snapshot(
        taken_at=parse_instant(taken_at),
        grants=tuple(export.grants),
        memberships=tuple(export.memberships),
        source=str(path),
    )


def authorization_entitlements(value: dict[str, Any], *, source: str = "") -> IamExport:
    """Map decoded authorization-details output onto grants and memberships."""
    managed = _managed_documents(value, source)
    groups = {
        str(group.get("GroupName")): str(group.get("Arn"))
        for group in value.get("GroupDetailList") or []
    }
    export = IamExport()
    for list_key, principal_type, inline_key in _KINDS:
        for detail in value.get(list_key) or []:
            _add_principal(
                export,
                detail,
                principal_type,
                inline_key,
                managed=managed,
                source=source,
            )
            if principal_type == "user":
                export.memberships += _group_links(detail, groups)
            if principal_type == "role":
                export.memberships.append(_role_link(str(detail["Arn"])))
    export.missing_policies = sorted(set(export.missing_policies))
    for arn in export.missing_policies:
        logger.warning("policy %s is attached but not in the export %s", arn, source)
    return export


def _managed_documents(value: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    documents = {}
    for policy in value.get("Policies") or []:
        versions = policy.get("PolicyVersionList") or []
        default = [v for v in versions if v.get("IsDefaultVersion")]
        chosen = default or [
            v for v in versions if v.get("VersionId") == policy.get("DefaultVersionId")
        ]
        if not chosen:
            logger.warning(
                "policy %s has no default version in %s", policy.get("Arn"), source
            )
            continue
        documents[str(policy["Arn"])] = policy_document(
            chosen[0]["Document"], path=source
        )
    return documents


def _add_principal(
    export: IamExport,
    detail: dict[str, Any],
    principal_type: str,
    inline_key: str,
    *,
    managed: dict[str, dict[str, Any]],
    source: str,
) -> None:
    holder = (principal_type, str(detail["Arn"]))
    for inline in detail.get(inline_key) or []:
        document = policy_document(inline.get("PolicyDocument"), path=source)
        name = f"inline:{inline.get('PolicyName')}"
        export.grants += document_grants(document, holder, source=name)
    for attached in detail.get("AttachedManagedPolicies") or []:
        arn = str(attached.get("PolicyArn"))
        if arn not in managed:
            export.missing_policies.append(arn)
            continue
        export.grants += document_grants(managed[arn], holder, source=arn)
    boundary = (detail.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    if boundary is None:
        return
    if str(boundary) not in managed:
        # NOTE: without the boundary's document the principal cannot be bounded
        # correctly; it is reported as missing and left unbounded.
        export.missing_policies.append(str(boundary))
        return
    export.grants += document_grants(
        managed[str(boundary)], holder, boundary=True, source=f"boundary:{boundary}"
    )


def _group_links(detail: dict[str, Any], groups: dict[str, str]) -> list[Record]:
    links = []
    for name in detail.get("GroupList") or []:
        arn = groups.get(str(name))
        if arn is None:
            logger.warning(
                "group %s of %s is not in the export", name, detail.get("Arn")
            )
            continue
        links.append(
            {
                "member_type": "user",
                "member_id": str(detail["Arn"]),
                "parent_type": "group",
                "parent_id": arn,
            }
        )
    return links


def _role_link(arn: str) -> Record:
    return {
        "member_type": "agent",
        "member_id": arn,
        "parent_type": "role",
        "parent_id": arn,
    }
