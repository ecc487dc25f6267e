"""AWS IAM policy documents as canonical grants.

Each statement becomes one grant per (action, resource) pattern pair:

- ``Effect`` ``Allow`` gives ``allow`` grants and ``Deny`` gives ``deny`` grants; a
  statement of a permissions boundary policy gives ``boundary`` grants for ``Allow``
  and ``deny`` grants for ``Deny`` (an explicit deny in a boundary still denies).
- ``Action``, ``Resource`` and ``NotAction``, ``NotResource`` may each be a string or
  a list. ``NotAction: [X, Y]`` becomes action ``*`` with ``excluded_actions
  [X, Y]``, and ``NotResource`` likewise becomes resource ``*`` with
  ``excluded_resources``.
- ``Statement`` may be one object or a list. Action names compare
  case-insensitively in the engine, as IAM compares them.
- A statement with a ``Condition``, or whose resource holds a policy variable such as
  ``${aws:username}``, gives conditional grants (the ``condition`` column holds the
  condition as JSON text), because auditkit cannot evaluate either. A call whose
  verdict depends on such a grant is ``indeterminate`` / ``unevaluated_condition``.

Statements with ``Principal`` or ``NotPrincipal`` belong to resource policies and
trust policies, which do not grant identity permissions; they are skipped with a
warning.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from typing import Any

from auditkit.errors import InputError

logger = logging.getLogger(__name__)

Record = dict[str, Any]

_EFFECTS = {"allow": "allow", "deny": "deny"}


def policy_document(value: Any, *, path: str | None = None) -> dict[str, Any]:
    """Return a policy document as a dict, decoding URL-encoded JSON text if needed.

    The IAM API returns documents URL-encoded; the AWS CLI decodes them.

    Examples
    --------
    >>> policy_document('%7B%22Statement%22%3A%20%5B%5D%7D')
    {'Statement': []}
    """
    if isinstance(value, str):
        try:
            value = json.loads(urllib.parse.unquote(value))
        except json.JSONDecodeError as error:
            reason = f"invalid policy document: {error.msg}"
            raise InputError(reason, path=path, field="PolicyDocument") from None
    if not isinstance(value, dict):
        reason = "a policy document must be a JSON object"
        raise InputError(reason, path=path, field="PolicyDocument")
    return value


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the statements of a document; a single statement object counts as one."""
    found = document.get("Statement", [])
    if isinstance(found, dict):
        return [found]
    return [statement for statement in found if isinstance(statement, dict)]


def _patterns(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value]


def statement_grants(
    statement: dict[str, Any],
    holder: tuple[str, str],
    *,
    boundary: bool = False,
    source: str = "",
) -> list[Record]:
    """Map one policy statement onto grant records without ids or validity.

    Parameters
    ----------
    statement
        One IAM policy statement.
    holder
        The (principal_type, principal_id) the policy is attached to.
    boundary
        Whether the statement belongs to a permissions boundary.
    source
        Text naming the policy, kept in ``changed_by`` for explanations.

    Examples
    --------
    >>> rows = statement_grants(
    ...     {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
    ...     ("user", "arn:aws:iam::1:user/ann"))
    >>> rows[0]["action"], rows[0]["excluded_actions"], rows[0]["effect"]
    ('*', ['iam:*'], 'allow')
    """
    effect = _EFFECTS.get(str(statement.get("Effect", "")).lower())
    if effect is None:
        logger.warning(
            "skipping a statement of %s with effect %r", source, statement.get("Effect")
        )
        return []
    if "Principal" in statement or "NotPrincipal" in statement:
        logger.warning("skipping a resource-policy statement in %s", source)
        return []
    if boundary and effect == "allow":
        effect = "boundary"

    actions, excluded_actions = _pair(statement, "Action", "NotAction")
    resources, excluded_resources = _pair(statement, "Resource", "NotResource")
    condition = _condition(statement, [*resources, *excluded_resources])
    grants = []
    for action in actions:
        for resource in resources:
            grants.append(
                {
                    "principal_type": holder[0],
                    "principal_id": holder[1],
                    "effect": effect,
                    "action": action,
                    "resource": resource,
                    "condition": condition,
                    "excluded_actions": excluded_actions or None,
                    "excluded_resources": excluded_resources or None,
                    "changed_by": source or None,
                }
            )
    return grants


def document_grants(
    document: dict[str, Any],
    holder: tuple[str, str],
    *,
    boundary: bool = False,
    source: str = "",
) -> list[Record]:
    """Map every statement of a policy document onto grant records."""
    grants = []
    for statement in statements(document):
        grants += statement_grants(statement, holder, boundary=boundary, source=source)
    return grants


def _pair(
    statement: dict[str, Any], plain: str, negated: str
) -> tuple[list[str], list[str]]:
    if negated in statement:
        return ["*"], _patterns(statement[negated])
    return _patterns(statement.get(plain)), []


def _condition(statement: dict[str, Any], resources: list[str]) -> str | None:
    parts = {}
    if statement.get("Condition"):
        parts["Condition"] = statement["Condition"]
    variables = [resource for resource in resources if "${" in resource]
    if variables:
        # NOTE: policy variables are resolved per request; auditkit has no request
        # context, so such a resource is treated like a condition.
        parts["PolicyVariables"] = variables
    if not parts:
        return None
    return json.dumps(parts, sort_keys=True, separators=(",", ":"))
