"""OCSF Detection Finding export of violating and indeterminate findings.

Each finding whose verdict is a violation (``stale_authority``, ``user_over_scope``,
``agent_over_scope``) or ``indeterminate`` becomes one OCSF 1.1.0 Detection Finding
(class 2004) on one line of JSON. docs/ocsf.md lists the mapping field by field.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditkit.models.codes import Severity
from auditkit.report.exports import finding_batches
from auditkit.report.period import REPORTED_VERDICTS, Period

if TYPE_CHECKING:
    from collections.abc import Mapping

    import duckdb

logger = logging.getLogger(__name__)

OCSF_SCHEMA_VERSION = "1.1.0"
CLASS_UID = 2004
CATEGORY_UID = 2
ACTIVITY_CREATE = 1
TYPE_UID = CLASS_UID * 100 + ACTIVITY_CREATE
STATUS_NEW = 1
ANALYTIC_TYPE_RULE = 1

SEVERITY_IDS: dict[str, int] = {
    Severity.INFO.value: 1,
    Severity.LOW.value: 2,
    Severity.MEDIUM.value: 3,
    Severity.HIGH.value: 4,
    Severity.CRITICAL.value: 5,
}
SEVERITY_CAPTIONS = {
    1: "Informational",
    2: "Low",
    3: "Medium",
    4: "High",
    5: "Critical",
}
# OCSF severity_id 0 is Unknown; used for a severity outside auditkit's scale.
SEVERITY_UNKNOWN = 0

# The attributes OCSF 1.1.0 requires on a Detection Finding (base event and class)
# and on the objects auditkit fills. Profiles (cloud, security_control) add more, but
# auditkit applies none of them.
REQUIRED_FIELDS: tuple[str, ...] = (
    "activity_id",
    "category_uid",
    "class_uid",
    "finding_info.title",
    "finding_info.uid",
    "finding_info.analytic.type_id",
    "metadata.product.vendor_name",
    "metadata.version",
    "severity_id",
    "time",
    "type_uid",
)

# Naive, like the workspace's timestamps, which hold UTC instants.
_EPOCH = datetime(1970, 1, 1)
_TITLES = {
    "stale_authority": "Agent used authority the user had lost",
    "user_over_scope": "Agent acted beyond the user's permissions",
    "agent_over_scope": "Agent acted beyond its own scope",
    "indeterminate": "Call could not be checked against the permissions",
}


def finding_to_ocsf(
    finding: Mapping[str, Any], *, product_version: str
) -> dict[str, Any]:
    """Map one row of the ``findings`` table to an OCSF Detection Finding.

    The row's strings should already be cleaned (:func:`~auditkit.safety.
    clean_text`); :func:`write_ocsf_jsonl` does that.

    Examples
    --------
    >>> from datetime import datetime
    >>> event = finding_to_ocsf(
    ...     {"finding_id": "1f2e", "call_id": "c1", "ts": datetime(2026, 3, 1),
    ...      "verdict": "user_over_scope", "reason": "no_matching_grant",
    ...      "severity": "high", "subject": "ann", "actor": "agent-crm",
    ...      "tool": "crm.export", "action": "crm:Export", "resource": "crm:accounts"},
    ...     product_version="0.1.0",
    ... )
    >>> event["type_uid"], event["severity_id"], event["time"]
    (200401, 4, 1772323200000)
    >>> event["finding_info"]["analytic"]["name"]
    'no_matching_grant'
    """
    severity_id = SEVERITY_IDS.get(str(finding.get("severity")), SEVERITY_UNKNOWN)
    event: dict[str, Any] = {
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": TYPE_UID,
        "type_name": "Detection Finding: Create",
        "time": _epoch_ms(finding["ts"]),
        "severity_id": severity_id,
        "severity": SEVERITY_CAPTIONS.get(severity_id, "Unknown"),
        "status_id": STATUS_NEW,
        "status": "New",
        "message": _title(finding),
        "metadata": _metadata(finding, product_version),
        "finding_info": _finding_info(finding),
        "evidences": [{"data": _evidence(finding)}],
        "unmapped": _unmapped(finding),
    }
    actor = _actor(finding)
    if actor:
        event["actor"] = actor
    if finding.get("resource"):
        event["resources"] = [_resource(finding)]

    return event


def write_ocsf_jsonl(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    period: Period | None = None,
    *,
    product_version: str,
) -> int:
    """Write the period's violating and indeterminate findings as OCSF JSON lines.

    Keys are sorted and separators fixed, so the same findings give the same bytes.
    Returns the number of lines written.
    """
    lines = 0
    batches = finding_batches(con, period or Period(), verdicts=REPORTED_VERDICTS)
    with Path(path).open("w", encoding="utf-8", newline="\n") as handle:
        for batch in batches:
            for finding in batch.to_pylist():
                event = finding_to_ocsf(finding, product_version=product_version)
                handle.write(_dumps(event) + "\n")
                lines += 1

    logger.info("wrote %d OCSF detection findings to %s", lines, path)
    return lines


def missing_required_fields(event: Mapping[str, Any]) -> list[str]:
    """Return the dotted names from :data:`REQUIRED_FIELDS` that ``event`` lacks.

    Examples
    --------
    >>> missing_required_fields({"class_uid": 2004})[:2]
    ['activity_id', 'category_uid']
    """
    missing: list[str] = []
    for dotted in REQUIRED_FIELDS:
        value: Any = event
        for key in dotted.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if value is None or value == "":
            missing.append(dotted)
    return missing


def _dumps(event: Mapping[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _epoch_ms(instant: datetime) -> int:
    return (instant.replace(tzinfo=None) - _EPOCH) // timedelta(milliseconds=1)


def _title(finding: Mapping[str, Any]) -> str:
    verdict = str(finding.get("verdict"))
    return _TITLES.get(verdict, verdict)


def _metadata(finding: Mapping[str, Any], product_version: str) -> dict[str, Any]:
    return {
        "product": {
            "name": "auditkit",
            "vendor_name": "auditkit",
            "version": product_version,
        },
        "version": OCSF_SCHEMA_VERSION,
        "uid": finding["finding_id"],
        "correlation_uid": finding.get("call_id"),
    }


def _finding_info(finding: Mapping[str, Any]) -> dict[str, Any]:
    reason = finding.get("reason") or "unknown"
    return {
        "uid": finding["finding_id"],
        "title": _title(finding),
        "desc": _description(finding),
        "types": [finding.get("verdict")],
        "analytic": {
            "name": reason,
            "uid": reason,
            "type": "Rule",
            "type_id": ANALYTIC_TYPE_RULE,
        },
    }


def _description(finding: Mapping[str, Any]) -> str:
    actor = finding.get("actor") or "(no agent)"
    subject = finding.get("subject") or "(no user)"
    action = finding.get("action") or "(unknown action)"
    resource = finding.get("resource") or "(unknown resource)"
    return (
        f"Agent {actor} called {finding.get('tool')} on behalf of {subject}, needing "
        f"{action} on {resource}: verdict {finding.get('verdict')} "
        f"({finding.get('reason')}), call {finding.get('call_id')}."
    )


def _actor(finding: Mapping[str, Any]) -> dict[str, Any]:
    actor: dict[str, Any] = {}
    if finding.get("subject"):
        actor["user"] = {"uid": finding["subject"], "name": finding["subject"]}
    if finding.get("actor"):
        actor["invoked_by"] = finding["actor"]
    if finding.get("session_id"):
        actor["session"] = {"uid": finding["session_id"]}
    return actor


def _resource(finding: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "uid": finding["resource"],
        "name": finding["resource"],
        "type": finding.get("tool"),
        "data": {
            "action": finding.get("action"),
            "resource_server": finding.get("resource_server"),
            "risk_tier": finding.get("risk_tier"),
        },
    }


def _evidence(finding: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "call_id": finding.get("call_id"),
        "user_evidence": _split(finding.get("user_evidence")),
        "agent_evidence": _split(finding.get("agent_evidence")),
        "outcome": finding.get("outcome"),
        "token_id": finding.get("token_id"),
        "audience": finding.get("audience"),
        "source_file": finding.get("source_file"),
        "source_line": finding.get("source_line"),
    }


def _unmapped(finding: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "verdict": finding.get("verdict"),
        "reason": finding.get("reason"),
        "certainty": finding.get("certainty"),
        "flags": _split(finding.get("flags")),
        "user_result": finding.get("user_result"),
        "user_reason": finding.get("user_reason"),
        "agent_result": finding.get("agent_result"),
        "agent_reason": finding.get("agent_reason"),
        "agent": finding.get("actor"),
        "actor_chain": _json_list(finding.get("actor_chain")),
        "delegation_start": _iso(finding.get("delegation_start")),
    }


def _split(text: Any) -> list[str]:
    if not text:
        return []
    return [part for part in str(text).split(",") if part]


def _json_list(text: Any) -> Any:
    if not text:
        return []
    try:
        return json.loads(str(text))
    except json.JSONDecodeError:
        return str(text)


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return None
