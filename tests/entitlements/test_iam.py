"""IAM policy semantics: statements to grants, and allowed actions through the engine.

Hand-written documents cover each rule; the cloudsplaining example export (read from
../shared/data, skipped where absent) is checked on three principals with answers
worked out by hand from its policy documents.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditkit.entitlements.iam import document_grants, policy_document, statements
from auditkit.entitlements.snapshots import Snapshot, snapshot_intervals
from auditkit.errors import InputError
from auditkit.sources.iam import (
    authorization_entitlements,
    read_authorization_details,
)
from tests.reference.engine import run_engine
from tests.reference.evaluator import World

EXAMPLE = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "cloudsplaining"
    / "examples"
    / "files"
    / "example.json"
)
TAKEN_AT = datetime(2026, 3, 1)
ANN = ("user", "arn:aws:iam::1:user/ann")


def decisions(
    export: dict[str, Any], subject: str, requests: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, str]]:
    """Run the engine on one export and return (verdict, reason) per request."""
    entitlements = authorization_entitlements(export)
    snapshot = Snapshot(
        TAKEN_AT, tuple(entitlements.grants), tuple(entitlements.memberships)
    )
    built = snapshot_intervals([snapshot])
    calls = [
        {
            "call_id": f"c{number}",
            "ts": TAKEN_AT + timedelta(hours=1),
            "tool": "aws",
            "subject": subject,
            "action": action,
            "resource": resource,
        }
        for number, (action, resource) in enumerate(requests)
    ]
    world = World.of(
        calls=calls,
        grants=built.grants,
        memberships=built.memberships,
        coverage=built.coverage,
    )
    findings = run_engine(world).findings.set_index("call_id")
    return {
        request: (
            str(findings.loc[f"c{number}", "verdict"]),
            str(findings.loc[f"c{number}", "reason"]),
        )
        for number, request in enumerate(requests)
    }


def user_export(
    policies: dict[str, dict[str, Any]], boundary: str | None = None
) -> dict[str, Any]:
    """Return an export with one user, ann, holding the named managed policies."""
    user: dict[str, Any] = {
        "UserName": "ann",
        "Arn": ANN[1],
        "GroupList": [],
        "AttachedManagedPolicies": [
            {"PolicyName": name, "PolicyArn": f"arn:aws:iam::1:policy/{name}"}
            for name in policies
            if name != boundary
        ],
    }
    if boundary is not None:
        user["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "Policy",
            "PermissionsBoundaryArn": f"arn:aws:iam::1:policy/{boundary}",
        }
    return {
        "UserDetailList": [user],
        "GroupDetailList": [],
        "RoleDetailList": [],
        "Policies": [
            {
                "PolicyName": name,
                "Arn": f"arn:aws:iam::1:policy/{name}",
                "DefaultVersionId": "v1",
                "PolicyVersionList": [
                    {"Document": document, "VersionId": "v1", "IsDefaultVersion": True}
                ],
            }
            for name, document in policies.items()
        ],
    }


# --- statements to grants ---------------------------------------------------------


def test_single_statement_object() -> None:
    document = {"Statement": {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}}

    assert len(statements(document)) == 1


def test_lists_give_every_pair() -> None:
    statement = {
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": ["arn:aws:s3:::a/*", "arn:aws:s3:::b/*"],
    }
    grants = document_grants({"Statement": [statement]}, ANN)

    assert len(grants) == 4


def test_not_resource_becomes_exclusion() -> None:
    statement = {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::a/*"}
    grant = document_grants({"Statement": [statement]}, ANN)[0]

    assert grant["resource"] == "*"
    assert grant["excluded_resources"] == ["arn:aws:s3:::a/*"]
    assert grant["effect"] == "deny"


def test_condition_kept_as_text() -> None:
    condition = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    statement = {
        "Effect": "Allow",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": condition,
    }
    grant = document_grants({"Statement": [statement]}, ANN)[0]

    assert json.loads(grant["condition"]) == {"Condition": condition}


def test_policy_variable_makes_grant_conditional() -> None:
    statement = {
        "Effect": "Allow",
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::home/${aws:username}/*",
    }
    grant = document_grants({"Statement": [statement]}, ANN)[0]

    assert grant["condition"] is not None


def test_boundary_allow_becomes_boundary() -> None:
    statement = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    grant = document_grants({"Statement": [statement]}, ANN, boundary=True)[0]

    assert grant["effect"] == "boundary"


def test_resource_policy_statement_skipped() -> None:
    statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}

    assert document_grants({"Statement": [statement]}, ANN) == []


def test_url_encoded_document_decoded() -> None:
    document = policy_document("%7B%22Statement%22%3A%20%7B%7D%7D")

    assert document == {"Statement": {}}


def test_invalid_document_rejected() -> None:
    with pytest.raises(InputError, match="invalid policy document"):
        policy_document("{not json")


def test_non_export_rejected(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text('{"Users": []}', encoding="utf-8")

    with pytest.raises(InputError, match="not get-account-authorization-details"):
        read_authorization_details(path)


def test_missing_managed_policy_reported() -> None:
    export = user_export({})
    export["UserDetailList"][0]["AttachedManagedPolicies"] = [
        {"PolicyName": "gone", "PolicyArn": "arn:aws:iam::1:policy/gone"}
    ]

    assert authorization_entitlements(export).missing_policies == [
        "arn:aws:iam::1:policy/gone"
    ]


# --- decisions through the engine, hand-written documents ---------------------------

ALLOW_S3 = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def test_case_insensitive_action() -> None:
    result = decisions(user_export({"s3": ALLOW_S3}), ANN[1], [("S3:getobject", "x")])

    assert result[("S3:getobject", "x")] == ("within_scope", "permission_held")


def test_not_action_excludes_listed() -> None:
    document = {
        "Statement": {"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"}
    }
    requests = [("iam:CreateUser", "*"), ("ec2:RunInstances", "*")]
    result = decisions(user_export({"most": document}), ANN[1], requests)

    assert result[requests[0]] == ("user_over_scope", "no_matching_grant")
    assert result[requests[1]] == ("within_scope", "permission_held")


def test_conditional_allow_undecided() -> None:
    document = {
        "Statement": {
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        }
    }
    result = decisions(user_export({"ip": document}), ANN[1], [("s3:GetObject", "x")])

    assert result[("s3:GetObject", "x")] == ("indeterminate", "unevaluated_condition")


def test_boundary_intersects_identity() -> None:
    boundary = {
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:Get*", "ec2:Describe*"], "Resource": "*"}
        ]
    }
    identity = {
        "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sqs:*"], "Resource": "*"}]
    }
    requests = [("s3:GetObject", "x"), ("s3:PutObject", "x"), ("ec2:DescribeVpcs", "x")]
    export = user_export({"identity": identity, "edge": boundary}, boundary="edge")
    result = decisions(export, ANN[1], requests)

    assert result[requests[0]] == ("within_scope", "permission_held")
    assert result[requests[1]] == ("user_over_scope", "outside_boundary")
    # The boundary alone grants nothing.
    assert result[requests[2]] == ("user_over_scope", "no_matching_grant")


# --- the cloudsplaining example export ---------------------------------------------


@pytest.fixture(scope="module")
def example_export() -> dict[str, Any]:
    """The decoded example export, or a skip where the shared data is absent."""
    if not EXAMPLE.is_file():
        pytest.skip(f"{EXAMPLE} is absent")
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _arn(export: dict[str, Any], user_name: str) -> str:
    user = next(u for u in export["UserDetailList"] if u["UserName"] == user_name)
    return str(user["Arn"])


def test_example_loads(example_export: dict[str, Any]) -> None:
    entitlements = read_authorization_details(EXAMPLE)

    assert len(entitlements.grants) > 100
    assert entitlements.missing_policies == []


def test_example_allow_and_deny(example_export: dict[str, Any]) -> None:
    # fp1-allow-and-deny: Allow iam:* on *, and Deny iam:* on *. Nothing else.
    subject = _arn(example_export, "fp1-allow-and-deny-user")
    requests = [("iam:CreateUser", "*"), ("IAM:ListRoles", "*"), ("s3:GetObject", "x")]
    result = decisions(example_export, subject, requests)

    assert result[requests[0]] == ("user_over_scope", "explicit_deny")
    assert result[requests[1]] == ("user_over_scope", "explicit_deny")
    assert result[requests[2]] == ("user_over_scope", "no_matching_grant")


def test_example_not_action(example_export: dict[str, Any]) -> None:
    # fn4-exploitableNotAction: Allow NotAction [iam:Update*, iam:Create*,
    # iam:Attach*] on *. Everything else is allowed, in any letter case.
    subject = _arn(example_export, "fn4-exploitableNotAction-user")
    requests = [
        ("iam:CreateUser", "*"),
        ("iam:updateloginprofile", "*"),
        ("iam:ListUsers", "*"),
        ("s3:GetObject", "arn:aws:s3:::bucket/key"),
    ]
    result = decisions(example_export, subject, requests)

    assert result[requests[0]] == ("user_over_scope", "no_matching_grant")
    assert result[requests[1]] == ("user_over_scope", "no_matching_grant")
    assert result[requests[2]] == ("within_scope", "permission_held")
    assert result[requests[3]] == ("within_scope", "permission_held")


def test_example_with_added_boundary(example_export: dict[str, Any]) -> None:
    # The example has no permissions boundary, so this test adds one by hand: the
    # fn4 user is bounded to s3:Get* and iam:List*. Effective = NotAction policy
    # intersected with the boundary.
    export = copy.deepcopy(example_export)
    arn = "arn:aws:iam::200611803367:policy/handwritten-boundary"
    export["Policies"].append(
        {
            "PolicyName": "handwritten-boundary",
            "Arn": arn,
            "DefaultVersionId": "v1",
            "PolicyVersionList": [
                {
                    "VersionId": "v1",
                    "IsDefaultVersion": True,
                    "Document": {
                        "Statement": {
                            "Effect": "Allow",
                            "Action": ["s3:Get*", "iam:List*", "iam:Create*"],
                            "Resource": "*",
                        }
                    },
                }
            ],
        }
    )
    user = next(
        u
        for u in export["UserDetailList"]
        if u["UserName"] == "fn4-exploitableNotAction-user"
    )
    user["PermissionsBoundary"] = {
        "PermissionsBoundaryType": "Policy",
        "PermissionsBoundaryArn": arn,
    }
    requests = [
        ("s3:GetObject", "arn:aws:s3:::bucket/key"),
        ("iam:ListUsers", "*"),
        ("ec2:RunInstances", "*"),
        ("iam:CreateUser", "*"),
    ]
    result = decisions(export, str(user["Arn"]), requests)

    assert result[requests[0]] == ("within_scope", "permission_held")
    assert result[requests[1]] == ("within_scope", "permission_held")
    # Allowed by the identity policy, but outside the boundary.
    assert result[requests[2]] == ("user_over_scope", "outside_boundary")
    # Inside the boundary, but excluded by NotAction: the boundary grants nothing.
    assert result[requests[3]] == ("user_over_scope", "no_matching_grant")
