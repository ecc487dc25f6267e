"""OCSF Detection Finding export of violating and indeterminate findings.

Each finding whose verdict is a violation (``stale_authority``, ``user_over_scope``,
``agent_over_scope``) or ``indeterminate`` becomes one OCSF 1.1.0 Detection Finding
(class 2004) on one line of JSON. docs/ocsf.md lists the mapping field by field.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from auditkit.models.codes import Severity
from auditkit.report.exports import (
    ISO_MICROSECONDS,
    REPORTED_COLUMN,
    CleanedFindings,
    cleaned_findings,
    registered_function,
    sql_identifier,
    sql_string,
    write_lines,
)
from auditkit.report.period import REPORTED_VERDICTS, Period

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

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

    Keys are sorted and separators fixed, so the same findings give the same bytes:
    each line is the one that :func:`finding_to_ocsf` and ``json.dumps(event,
    sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` give for the cleaned
    row, but DuckDB builds and writes it. Returns the number of lines written.
    """
    period = period or Period()
    with cleaned_findings(con, period, reported_verdicts=REPORTED_VERDICTS) as cleaned:
        return write_cleaned_ocsf(cleaned, path, product_version=product_version)


def write_cleaned_ocsf(
    cleaned: CleanedFindings, path: str | Path, *, product_version: str
) -> int:
    """Write the reported rows of ``cleaned`` as :func:`write_ocsf_jsonl` does.

    The rows are those whose :data:`~auditkit.report.exports.REPORTED_COLUMN` is true,
    so ``cleaned`` must have been opened with ``REPORTED_VERDICTS``. Returns the
    number of lines written.
    """
    columns = ", ".join(
        f"{sql_identifier(name) if name in cleaned.types else 'NULL'} "
        f"AS {sql_identifier(name)}"
        for name in _OCSF_COLUMNS
    )
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    source = f"""(
        SELECT *, {_derived_sql()} FROM (
            SELECT {columns} FROM {cleaned.source} WHERE {REPORTED_COLUMN}
        )
    )"""  # noqa: S608
    params = {**cleaned.params, "product_version": _dumps(product_version)}
    events = CleanedFindings(cleaned.con, source, params, cleaned.types)

    with registered_function(cleaned.con, _json_list_text) as json_list_function:
        line = _concat(_event_sql(json_list_function))
        lines = write_lines(events, line, path)

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


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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


# The SQL behind write_ocsf_jsonl. A JSON value is built as a list of pieces: a str
# is JSON text written as it is, a _Sql is an expression that gives JSON text and is
# never NULL. Each line is one concat() of all its pieces, because nested concat()
# calls copy every string once more per level.

# Columns that finding_to_ocsf reads. One that the findings table lacks is NULL, as
# finding.get returns None for it.
_OCSF_COLUMNS = (
    "finding_id", "call_id", "ts", "subject", "actor", "actor_chain", "tool",
    "action", "resource", "risk_tier", "resource_server", "audience", "token_id",
    "session_id", "outcome", "delegation_start", "verdict", "reason", "user_result",
    "user_reason", "agent_result", "agent_reason", "certainty", "severity", "flags",
    "user_evidence", "agent_evidence", "source_file", "source_line",
)  # fmt: skip

# A JSON array of strings without escapes, with whitespace between the tokens where
# JSON allows it. json.loads then json.dumps of such text only drops the whitespace,
# and so does DuckDB's json(); any other text goes to Python (_json_list_text).
_PLAIN_STRING_LIST = (
    r'^[ \t\n\r]*\[[ \t\n\r]*(?:"[^"\\\x00-\x1f]*"'
    r'(?:[ \t\n\r]*,[ \t\n\r]*"[^"\\\x00-\x1f]*")*[ \t\n\r]*)?\][ \t\n\r]*$'
)


@dataclass(frozen=True)
class _Sql:
    """A SQL expression that gives JSON text and is never NULL."""

    expression: str


_Pieces = list[str | _Sql]


@dataclass(frozen=True)
class _Optional:
    """An object member written only where ``condition`` (SQL) is true."""

    condition: str
    value: _Pieces


def _derived_sql() -> str:
    titles = " ".join(
        f"WHEN {sql_string(verdict)} THEN {sql_string(title)}"
        for verdict, title in _TITLES.items()
    )
    severity_ids = " ".join(
        f"WHEN {sql_string(name)} THEN {number}"
        for name, number in SEVERITY_IDS.items()
    )
    return (
        f"CASE verdict {titles} ELSE coalesce(verdict, 'None') END AS ocsf_title, "
        f"CASE severity {severity_ids} ELSE {SEVERITY_UNKNOWN} END "
        "AS ocsf_severity_id, "
        f"{_description_sql()} AS ocsf_description, "
        "epoch_us(ts) AS ocsf_epoch_us"
    )


def _description_sql() -> str:
    # _description: an empty or missing name gets a placeholder; any other missing
    # value reads "None", as Python's f-string writes it.
    def text(name: str, placeholder: str | None = None) -> str:
        if placeholder is None:
            return f"coalesce({name}, 'None')"
        return f"coalesce(nullif({name}, ''), {sql_string(placeholder)})"

    pieces = [
        "'Agent '", text("actor", "(no agent)"),
        "' called '", text("tool"),
        "' on behalf of '", text("subject", "(no user)"),
        "', needing '", text("action", "(unknown action)"),
        "' on '", text("resource", "(unknown resource)"),
        "': verdict '", text("verdict"),
        "' ('", text("reason"),
        "'), call '", text("call_id"),
        "'.'",
    ]  # fmt: skip
    return f"concat({', '.join(pieces)})"


def _epoch_ms_sql(microseconds: str) -> str:
    # _epoch_ms floors, like Python's //. DuckDB's epoch_ms rounds and its // on
    # integers truncates towards zero, so a negative remainder takes one off.
    return (
        f"{microseconds} // 1000 "
        f"- CASE WHEN {microseconds} % 1000 < 0 THEN 1 ELSE 0 END"
    )


def _event_sql(json_list_function: str) -> _Pieces:
    severity_captions = " ".join(
        f"WHEN {number} THEN {sql_string(_dumps(caption))}"
        for number, caption in SEVERITY_CAPTIONS.items()
    )
    severity = (
        f"CASE ocsf_severity_id {severity_captions} "
        f"ELSE {sql_string(_dumps('Unknown'))} END"
    )
    actor_condition = " OR ".join(
        _truthy(name) for name in ("subject", "actor", "session_id")
    )
    members: dict[str, _Pieces | _Optional] = {
        "activity_id": _constant(ACTIVITY_CREATE),
        "activity_name": _constant("Create"),
        "category_uid": _constant(CATEGORY_UID),
        "category_name": _constant("Findings"),
        "class_uid": _constant(CLASS_UID),
        "class_name": _constant("Detection Finding"),
        "type_uid": _constant(TYPE_UID),
        "type_name": _constant("Detection Finding: Create"),
        "time": _number(_epoch_ms_sql("ocsf_epoch_us")),
        "severity_id": _number("ocsf_severity_id"),
        "severity": [_Sql(severity)],
        "status_id": _constant(STATUS_NEW),
        "status": _constant("New"),
        "message": _string("ocsf_title"),
        "metadata": _metadata_sql(),
        "finding_info": _finding_info_sql(),
        "evidences": ["[", *_object({"data": _evidence_sql()}), "]"],
        "unmapped": _unmapped_sql(json_list_function),
        "actor": _Optional(actor_condition, _actor_sql()),
        "resources": _Optional(_truthy("resource"), ["[", *_resource_sql(), "]"]),
    }
    return _object(members)


def _metadata_sql() -> _Pieces:
    product: dict[str, _Pieces | _Optional] = {
        "name": _constant("auditkit"),
        "vendor_name": _constant("auditkit"),
        "version": [_Sql("$product_version")],
    }
    return _object(
        {
            "product": _object(product),
            "version": _constant(OCSF_SCHEMA_VERSION),
            "uid": _string("finding_id"),
            "correlation_uid": _string("call_id"),
        }
    )


def _finding_info_sql() -> _Pieces:
    reason = _string("coalesce(nullif(reason, ''), 'unknown')")
    analytic = {
        "name": reason,
        "uid": reason,
        "type": _constant("Rule"),
        "type_id": _constant(ANALYTIC_TYPE_RULE),
    }
    return _object(
        {
            "uid": _string("finding_id"),
            "title": _string("ocsf_title"),
            "desc": _string("ocsf_description"),
            "types": ["[", *_string("verdict"), "]"],
            "analytic": _object(analytic),
        }
    )


def _actor_sql() -> _Pieces:
    user = {"uid": _string("subject"), "name": _string("subject")}
    session = {"uid": _string("session_id")}
    return _object(
        {
            "user": _Optional(_truthy("subject"), _object(user)),
            "invoked_by": _Optional(_truthy("actor"), _string("actor")),
            "session": _Optional(_truthy("session_id"), _object(session)),
        }
    )


def _resource_sql() -> _Pieces:
    data = {
        "action": _string("action"),
        "resource_server": _string("resource_server"),
        "risk_tier": _string("risk_tier"),
    }
    return _object(
        {
            "uid": _string("resource"),
            "name": _string("resource"),
            "type": _string("tool"),
            "data": _object(data),
        }
    )


def _evidence_sql() -> _Pieces:
    return _object(
        {
            "call_id": _string("call_id"),
            "user_evidence": _split_sql("user_evidence"),
            "agent_evidence": _split_sql("agent_evidence"),
            "outcome": _string("outcome"),
            "token_id": _string("token_id"),
            "audience": _string("audience"),
            "source_file": _string("source_file"),
            "source_line": _number("source_line"),
        }
    )


def _unmapped_sql(json_list_function: str) -> _Pieces:
    # NOTE: DuckDB writes years before 1000 with four digits; Python's strftime
    # (glibc) wrote them without leading zeros.
    delegation_start = f"strftime(delegation_start, {sql_string(ISO_MICROSECONDS)})"
    return _object(
        {
            "verdict": _string("verdict"),
            "reason": _string("reason"),
            "certainty": _string("certainty"),
            "flags": _split_sql("flags"),
            "user_result": _string("user_result"),
            "user_reason": _string("user_reason"),
            "agent_result": _string("agent_result"),
            "agent_reason": _string("agent_reason"),
            "agent": _string("actor"),
            "actor_chain": _json_list_sql("actor_chain", json_list_function),
            "delegation_start": _string(delegation_start),
        }
    )


def _split_sql(name: str) -> _Pieces:
    # _split: the non-empty parts between commas; [] for a missing or empty value.
    parts = f"list_filter(string_split({name}, ','), lambda part: part <> '')"
    return [
        _Sql(
            f"CASE WHEN coalesce({name}, '') = '' THEN '[]' "
            f"ELSE CAST(to_json({parts}) AS VARCHAR) END"
        )
    ]


def _json_list_sql(name: str, json_list_function: str) -> _Pieces:
    # _json_list: [] for a missing or empty value, the value re-serialised where it is
    # JSON, else the value as a string.
    pattern = sql_string(_PLAIN_STRING_LIST)
    return [
        _Sql(
            f"CASE WHEN coalesce({name}, '') = '' THEN '[]' "
            f"WHEN regexp_matches({name}, {pattern}) "
            f"THEN CAST(json({name}) AS VARCHAR) "
            f"ELSE {json_list_function}({name}) END"
        )
    ]


def _json_list_text(text: str) -> str:
    return _dumps(_json_list(text))


def _object(members: Mapping[str, _Pieces | _Optional]) -> _Pieces:
    # Members in sorted key order, as json.dumps(sort_keys=True) writes them. An
    # optional member is left out, with its comma, where its condition is false.
    keys = sorted(members)
    if isinstance(members[keys[0]], _Optional):
        return _object_without_first_member(members)

    pieces: _Pieces = ["{"]
    for index, key in enumerate(keys):
        value = members[key]
        name = ("," if index else "") + _dumps(key) + ":"
        if isinstance(value, _Optional):
            member = _concat([name, *value.value])
            pieces.append(
                _Sql(f"CASE WHEN {value.condition} THEN {member} ELSE '' END")
            )
        else:
            pieces.extend([name, *value])
    pieces.append("}")
    return pieces


def _object_without_first_member(members: Mapping[str, _Pieces | _Optional]) -> _Pieces:
    # An object whose first member is optional cannot know where its commas go, so
    # concat_ws places them between the members that are present.
    parts: list[str] = []
    for key in sorted(members):
        value = members[key]
        if isinstance(value, _Optional):
            member = _concat([_dumps(key) + ":", *value.value])
            parts.append(f"CASE WHEN {value.condition} THEN {member} END")
        else:
            parts.append(_concat([_dumps(key) + ":", *value]))
    return ["{", _Sql(f"concat_ws(',', {', '.join(parts)})"), "}"]


def _concat(pieces: _Pieces) -> str:
    # One concat() call, with adjacent JSON text joined into one literal.
    arguments: list[str] = []
    text = ""
    for piece in pieces:
        if isinstance(piece, str):
            text += piece
            continue
        if text:
            arguments.append(sql_string(text))
            text = ""
        arguments.append(piece.expression)
    if text:
        arguments.append(sql_string(text))
    return f"concat({', '.join(arguments)})"


def _string(expression: str) -> _Pieces:
    # DuckDB's to_json escapes as json.dumps(ensure_ascii=False) does for every
    # character that a cleaned string can contain. It writes the hex digits of a \u
    # escape in capitals, but only C0 control characters other than tab and newline
    # get one, and clean_text removes those.
    return [_Sql(f"coalesce(CAST(to_json({expression}) AS VARCHAR), 'null')")]


def _number(expression: str) -> _Pieces:
    return [_Sql(f"coalesce(CAST({expression} AS VARCHAR), 'null')")]


def _constant(value: str | int) -> _Pieces:
    return [_dumps(value)]


def _truthy(name: str) -> str:
    # Python's truth value of a string column: set and not empty.
    return f"coalesce({name} <> '', false)"
