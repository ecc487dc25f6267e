"""Google Cloud Audit Logs entries as tool calls.

Accepted shapes: a ``LogEntry`` whose ``protoPayload`` is an ``AuditLog`` (as
``gcloud logging read --format=json`` and log sinks write it), and the CloudEvents
envelope of type ``google.cloud.audit.log.v1.written`` whose ``data`` is that
``LogEntry``. The field rules are listed in ``docs/formats/gcp.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from auditkit.models import InputKind, Outcome
from auditkit.sources.adapter_support import (
    content_id,
    iso_timestamp,
    member,
    record_error,
    text_or_none,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from auditkit.sources.base import RawRecord

logger = logging.getLogger(__name__)

FORMAT_NAME = "gcp_audit"
AUDIT_LOG_TYPE = "type.googleapis.com/google.cloud.audit.AuditLog"
CLOUDEVENT_TYPE_PREFIX = "google.cloud.audit.log."
SERVICE_ACCOUNT_SUFFIX = ".gserviceaccount.com"
# google.rpc.Code values that record a refusal: PERMISSION_DENIED, UNAUTHENTICATED.
DENIED_STATUS_CODES = frozenset({7, 16})


@dataclass(frozen=True)
class GcpAuditAdapter:
    """Maps Cloud Audit Logs entries onto ToolCall dictionaries.

    Examples
    --------
    >>> from auditkit.sources.base import RawRecord
    >>> entry = {
    ...     "insertId": "a1", "timestamp": "2026-03-01T08:00:00Z",
    ...     "protoPayload": {
    ...         "methodName": "storage.objects.get",
    ...         "authenticationInfo": {"principalEmail": "alice@example.com"},
    ...         "authorizationInfo": [
    ...             {"permission": "storage.objects.get", "granted": False}],
    ...         "resourceName": "projects/_/buckets/b/objects/o",
    ...     },
    ... }
    >>> row = next(iter(GcpAuditAdapter().map(RawRecord("gcp.jsonl", 1, entry))))
    >>> row["subject"], row["action"], str(row["outcome"])
    ('alice@example.com', 'storage.objects.get', 'denied')
    """

    name: str = FORMAT_NAME
    kind: InputKind = InputKind.CALLS

    def detect(self, sample: Any) -> bool:
        """Return whether ``sample`` is an audit log entry or its CloudEvent."""
        if not isinstance(sample, dict):
            return False
        event_type = sample.get("type")
        if isinstance(event_type, str) and event_type.startswith(
            CLOUDEVENT_TYPE_PREFIX
        ):
            return isinstance(sample.get("data"), dict)
        return _is_audit_payload(sample.get("protoPayload"))

    def map(self, record: RawRecord) -> Iterator[dict[str, Any]]:
        """Map one log entry.

        Raises
        ------
        InputError
            If the record is not an audit log entry, or lacks its method or time.
        """
        entry, envelope = _unwrap(record)
        payload = entry.get("protoPayload")
        if not isinstance(payload, dict) or not _is_audit_payload(payload):
            reason = "not a Cloud Audit Logs entry: protoPayload is not an AuditLog"
            hint = "only audit log entries (protoPayload with methodName) are calls"
            raise record_error(record, reason, field="protoPayload", hint=hint)

        method = text_or_none(payload.get("methodName"))
        if method is None:
            raise record_error(
                record, "missing methodName", field="protoPayload.methodName"
            )
        authorizations = _authorizations(payload)
        call: dict[str, Any] = {
            "call_id": _call_id(entry, envelope),
            "ts": _timestamp(entry, payload, record),
            "tool": method,
            "arguments": payload.get("request")
            if isinstance(payload.get("request"), dict)
            else None,
            "action": text_or_none(authorizations[0].get("permission"))
            if authorizations
            else None,
            "resource": _resource(payload, authorizations),
            "resource_server": text_or_none(payload.get("serviceName")),
            "outcome": _outcome(payload, authorizations),
            "session_id": _operation_id(entry),
        }
        call |= _principals(payload.get("authenticationInfo"))
        yield {key: value for key, value in call.items() if value is not None}


def delegation_chain(authentication: Any) -> list[str]:
    """Return the principals of ``serviceAccountDelegationInfo``, in log order.

    Cloud Audit Logs sorts the entries in the order the delegations happened, so the
    first is the original caller. A third-party principal is named by its ``sub`` or
    ``email`` claim.

    Examples
    --------
    >>> delegation_chain({"serviceAccountDelegationInfo": [
    ...     {"firstPartyPrincipal": {"principalEmail": "alice@example.com"}}]})
    ['alice@example.com']
    """
    if not isinstance(authentication, dict):
        return []
    chain: list[str] = []
    items = authentication.get("serviceAccountDelegationInfo")
    for item in items if isinstance(items, list) else []:
        first = member(item, "firstPartyPrincipal")
        third = member(item, "thirdPartyPrincipal", "thirdPartyClaims")
        name = text_or_none(first.get("principalEmail"))
        if name is None:
            name = text_or_none(third.get("sub")) or text_or_none(third.get("email"))
        if name is not None:
            chain.append(name)
    return chain


def _principals(authentication: Any) -> dict[str, Any]:
    # Without delegation, a person calling directly is the subject (run as user) and
    # a service account calling on its own is an actor with no known user. With
    # delegation, the first delegating principal is the subject and the
    # authenticated principal the current actor, earlier links following it.
    if not isinstance(authentication, dict):
        return {}
    principal = text_or_none(authentication.get("principalEmail"))
    chain = delegation_chain(authentication)
    if chain:
        actors = [name for name in [principal, *reversed(chain[1:])] if name]
        return {
            "subject": chain[0],
            "actor": actors[0] if actors else None,
            "actor_chain": actors or None,
        }
    if principal is None:
        return {}
    if principal.endswith(SERVICE_ACCOUNT_SUFFIX):
        return {"actor": principal, "actor_chain": [principal]}
    return {"subject": principal}


def _unwrap(record: RawRecord) -> tuple[dict[str, Any], dict[str, Any] | None]:
    value = record.value
    if not isinstance(value, dict):
        reason = f"expected a JSON object, got {type(value).__name__}"
        raise record_error(record, reason)
    event_type = value.get("type")
    if isinstance(event_type, str) and event_type.startswith(CLOUDEVENT_TYPE_PREFIX):
        data = value.get("data")
        if not isinstance(data, dict):
            raise record_error(record, "CloudEvent without a data object", field="data")
        return data, value
    return value, None


def _is_audit_payload(payload: Any) -> bool:
    if not isinstance(payload, dict):
        return False
    if payload.get("@type") == AUDIT_LOG_TYPE:
        return True
    return "methodName" in payload


def _authorizations(payload: dict[str, Any]) -> list[dict[str, Any]]:
    items = payload.get("authorizationInfo") or []
    return (
        [item for item in items if isinstance(item, dict)]
        if isinstance(items, list)
        else []
    )


def _call_id(entry: dict[str, Any], envelope: dict[str, Any] | None) -> str:
    insert_id = text_or_none(entry.get("insertId"))
    if insert_id is not None:
        return insert_id
    if envelope is not None and text_or_none(envelope.get("id")):
        return str(envelope["id"])
    return content_id("gcp", entry)


def _timestamp(
    entry: dict[str, Any], payload: dict[str, Any], record: RawRecord
) -> str:
    # The entry's timestamp is when the call happened; the request time and the
    # receive time are later fallbacks for entries that lack it.
    request_time = member(payload, "requestMetadata", "requestAttributes").get("time")
    for field, value in (
        ("timestamp", entry.get("timestamp")),
        ("protoPayload.requestMetadata.requestAttributes.time", request_time),
        ("receiveTimestamp", entry.get("receiveTimestamp")),
    ):
        if value:
            # LogEntry times are protobuf Timestamps, written in UTC; some
            # pipelines drop the trailing Z.
            return iso_timestamp(value, record, field, assume_utc=True)
    raise record_error(record, "missing timestamp", field="timestamp")


def _resource(
    payload: dict[str, Any], authorizations: list[dict[str, Any]]
) -> str | None:
    name = text_or_none(payload.get("resourceName"))
    if name is None and authorizations:
        name = text_or_none(authorizations[0].get("resource"))
    return name


def _outcome(payload: dict[str, Any], authorizations: list[dict[str, Any]]) -> Outcome:
    if any(item.get("granted") is False for item in authorizations):
        return Outcome.DENIED
    status = payload.get("status")
    code = status.get("code") if isinstance(status, dict) else None
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        return Outcome.DENIED if code in DENIED_STATUS_CODES else Outcome.ERROR
    return Outcome.ALLOWED


def _operation_id(entry: dict[str, Any]) -> str | None:
    operation = entry.get("operation")
    return text_or_none(operation.get("id")) if isinstance(operation, dict) else None


ADAPTERS: tuple[GcpAuditAdapter, ...] = (GcpAuditAdapter(),)
