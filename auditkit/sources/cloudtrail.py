"""AWS CloudTrail events as tool calls: who acted, for whom, and which IAM action.

Accepted shapes, each as one JSON value: a log file ``{"Records": [...]}`` (the
reader undoes gzip), the output of ``aws cloudtrail lookup-events``
(``{"Events": [...]}`` whose ``CloudTrailEvent`` is the event as JSON text), one
lookup-events element, or one event per JSONL line.

Identity rules, in short (the full table is in ``docs/formats/cloudtrail.md``): an
``AssumedRole`` session acts as the role that issued it, identified by its ARN
(``sessionContext.sessionIssuer.arn``), never by role name alone. The user on whose
behalf is ``sourceIdentity``; the role session name is chosen by whoever assumed the
role, so it is only a hint and goes into ``session_id`` (the session ARN), never into
``subject``.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditkit.errors import InputError
from auditkit.models import InputKind, Outcome
from auditkit.sources.adapter_support import (
    StreamItem,
    content_id,
    iso_timestamp,
    raise_first_error,
    record_error,
    text_or_none,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from auditkit.sources.base import RawRecord

logger = logging.getLogger(__name__)

FORMAT_NAME = "cloudtrail"
ACTION_TABLE = Path(__file__).with_name("cloudtrail_actions.csv")

# Error codes that record an authorization refusal. Every other error code is an
# error, except Client.DryRunOperation: the request would have been allowed.
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "Client.UnauthorizedOperation",
        "UnauthorizedAccess",
        "AuthorizationError",
        "AuthorizationErrorException",
        "NotAuthorized",
        "Forbidden",
        "VpceAccessDenied",
    }
)
ALLOWED_CODES = frozenset({"Client.DryRunOperation", "DryRunOperation"})
ASSUME_ROLE_EVENTS = frozenset(
    {"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"}
)
# Lambda event names carry an API version suffix, such as CreateFunction20150331v2.
_LAMBDA_VERSION = re.compile(r"\d{8}(v\d+)?$")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
INSIGHT_EVENT_TYPE = "AwsCloudTrailInsight"


@dataclass(frozen=True)
class ActionRule:
    """Mapping of one CloudTrail operation to an IAM action and resource."""

    action: str
    resource_type: str | None
    resource_template: str | None


def load_action_table(
    path: str | Path = ACTION_TABLE,
) -> dict[tuple[str, str], ActionRule]:
    """Read the table of (eventSource, eventName) to IAM action and resource.

    The CSV columns are ``event_source``, ``event_name``, ``action``,
    ``resource_type`` (the ``resources[].type`` to take the ARN from) and
    ``resource_template`` (``{name}`` placeholders filled from ``requestParameters``,
    ``{accountId}`` from ``recipientAccountId`` and ``{region}`` from ``awsRegion``).

    Examples
    --------
    >>> load_action_table()[("s3.amazonaws.com", "ListBuckets")].action
    's3:ListAllMyBuckets'
    """
    table: dict[tuple[str, str], ActionRule] = {}
    with Path(path).open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            key = (row["event_source"], row["event_name"])
            table[key] = ActionRule(
                action=row["action"],
                resource_type=row["resource_type"] or None,
                resource_template=row["resource_template"] or None,
            )
    return table


@dataclass(frozen=True)
class Identity:
    """Subject, actor and session read from one event's ``userIdentity``."""

    subject: str | None = None
    actor: str | None = None
    session_id: str | None = None
    session_started_at: str | None = None
    access_key_id: str | None = None


class CloudTrailAdapter:
    """Maps CloudTrail events onto ToolCall dictionaries.

    Examples
    --------
    >>> from auditkit.sources.base import RawRecord
    >>> event = {
    ...     "eventVersion": "1.08", "eventID": "e1",
    ...     "eventTime": "2026-03-01T08:00:00Z",
    ...     "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets",
    ...     "errorCode": "AccessDenied",
    ...     "userIdentity": {"type": "IAMUser",
    ...                      "arn": "arn:aws:iam::111122223333:user/alice"},
    ... }
    >>> row = next(iter(CloudTrailAdapter().map(RawRecord("ct.jsonl", 1, event))))
    >>> row["action"], str(row["outcome"]), row["subject"]
    ('s3:ListAllMyBuckets', 'denied', 'arn:aws:iam::111122223333:user/alice')
    """

    name: str = FORMAT_NAME
    kind: InputKind = InputKind.CALLS

    def __init__(
        self, action_table: Mapping[tuple[str, str], ActionRule] | None = None
    ):
        self.actions = (
            dict(action_table) if action_table is not None else load_action_table()
        )

    def detect(self, sample: Any) -> bool:
        """Return whether ``sample`` is a CloudTrail event, log or lookup output."""
        if not isinstance(sample, dict):
            return False
        if isinstance(sample.get("Records"), list):
            return any(_is_event(item) for item in sample["Records"][:20])
        if isinstance(sample.get("Events"), list):
            return any(_is_lookup_event(item) for item in sample["Events"][:20])
        return _is_event(sample) or _is_lookup_event(sample)

    def map(self, record: RawRecord) -> Iterator[dict[str, Any]]:
        """Map the events of one record; duplicates by ``eventID`` are dropped.

        Raises
        ------
        InputError
            If the record is no CloudTrail shape or any of its events cannot be
            mapped. :meth:`map_stream` instead reports each bad event on its own.
        """
        return iter(raise_first_error(self.map_stream([record])))

    def map_stream(self, records: Iterable[RawRecord]) -> Iterator[StreamItem]:
        """Map a whole file: links role chains and drops repeated ``eventID`` values.

        Events are read first, because a role's ``AssumeRole`` event (which names the
        previous link of a chain) may come after the calls made with it.

        Each event of a ``Records`` or ``Events`` document is mapped on its own: a
        bad event yields an :class:`InputError` whose field is its path in the
        document (``Records[3].eventTime``), and the other events still yield
        calls. Results are attributed to a record at the document's location whose
        value is the event alone, so a quarantined event is stored without the
        rest of the document.
        """
        entries: list[_Entry] = []
        for record in records:
            try:
                entries.extend(_entries_of(record))
            except InputError as error:
                entries.append(_Entry(record, "", error))

        links = _session_links(
            entry.event for entry in entries if not isinstance(entry.event, InputError)
        )
        seen: set[str] = set()
        duplicates = 0
        for entry in entries:
            event = entry.event
            if isinstance(event, InputError):
                yield entry.record, event
                continue
            if event.get("eventType") == INSIGHT_EVENT_TYPE:
                continue
            # Every event is mapped before the duplicate check, so a bad copy of an
            # event is quarantined and never hides a good copy of the same eventID.
            try:
                call = self._call(entry.record, entry.where, event, links)
            except InputError as error:
                yield entry.record, error
                continue
            event_id = text_or_none(event.get("eventID"))
            if event_id is not None and event_id in seen:
                duplicates += 1
                continue
            if event_id is not None:
                seen.add(event_id)
            yield entry.record, call
        if duplicates:
            logger.info(
                "skipped %d CloudTrail events with a repeated eventID", duplicates
            )

    def _call(
        self,
        record: RawRecord,
        where: str,
        event: dict[str, Any],
        links: dict[str, tuple[str | None, str | None]],
    ) -> dict[str, Any]:
        source = _required(event, "eventSource", record, where)
        name = _required(event, "eventName", record, where)
        identity = _identity(event.get("userIdentity"), record, where)
        chain = _actor_chain(identity, links)
        rule = self._rule(source, name)
        parameters = _object_or_none(event.get("requestParameters"))

        call: dict[str, Any] = {
            "call_id": text_or_none(event.get("eventID"))
            or content_id("cloudtrail", event),
            "ts": _event_time(event.get("eventTime"), record, f"{where}eventTime"),
            "tool": f"{source}:{name}",
            "subject": identity.subject,
            "actor": identity.actor,
            "actor_chain": chain or None,
            "arguments": parameters,
            "action": rule.action if rule else None,
            "resource": _resource(rule, event, parameters) if rule else None,
            "resource_server": source,
            "outcome": outcome_of(event.get("errorCode")),
            "session_id": identity.session_id,
            "session_started_at": identity.session_started_at,
        }
        return {key: value for key, value in call.items() if value is not None}

    def _rule(self, source: str, name: str) -> ActionRule | None:
        rule = self.actions.get((source, name))
        if rule is None and source == "lambda.amazonaws.com":
            rule = self.actions.get((source, _LAMBDA_VERSION.sub("", name)))
        return rule


def outcome_of(error_code: Any) -> Outcome:
    """Return the recorded outcome for a CloudTrail ``errorCode``.

    Examples
    --------
    >>> [str(outcome_of(code)) for code in (None, "AccessDenied", "NoSuchEntity")]
    ['allowed', 'denied', 'error']
    """
    code = text_or_none(error_code)
    if code is None or code in ALLOWED_CODES:
        return Outcome.ALLOWED
    if code in DENIED_CODES or "AccessDenied" in code or "Unauthorized" in code:
        return Outcome.DENIED
    return Outcome.ERROR


def unmapped_operations(calls: Iterable[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """List the operations that have no IAM action, most frequent first.

    Parameters
    ----------
    calls
        Canonical call dictionaries, as :class:`CloudTrailAdapter` returns them.

    Returns
    -------
    list of tuple of str and int
        ``eventSource:eventName`` and how many calls used it.

    Examples
    --------
    >>> unmapped_operations([{"tool": "signin.amazonaws.com:ConsoleLogin"}])
    [('signin.amazonaws.com:ConsoleLogin', 1)]
    """
    counts = Counter(str(call.get("tool")) for call in calls if not call.get("action"))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


# Reading the shapes.


@dataclass(frozen=True)
class _Entry:
    """One event of a file, or the error that it cannot be read as an event.

    ``record`` has the location of the line that contains the event and, inside a
    ``Records`` or ``Events`` document, the event element as its value. ``where``
    is the event's path prefix in the document, such as ``Records[3].``.
    """

    record: RawRecord
    where: str
    event: dict[str, Any] | InputError


def _entries_of(record: RawRecord) -> list[_Entry]:
    """Split a record into its events, turning each unreadable element into an error.

    Raises
    ------
    InputError
        If the record is neither a CloudTrail document nor an event.
    """
    value = record.value
    for key in ("Records", "Events"):
        if isinstance(value, dict) and isinstance(value.get(key), list):
            return [
                _element_entry(record, item, f"{key}[{index}].")
                for index, item in enumerate(value[key])
            ]
    where, event = _one_event(record, value, "")
    return [_Entry(record, where, event)]


def _element_entry(record: RawRecord, item: Any, where: str) -> _Entry:
    element = replace(record, value=item)
    try:
        where, event = _one_event(element, item, where)
    except InputError as error:
        return _Entry(element, where, error)
    return _Entry(element, where, event)


def _one_event(record: RawRecord, value: Any, where: str) -> tuple[str, dict[str, Any]]:
    if isinstance(value, dict) and "CloudTrailEvent" in value:
        where = f"{where}CloudTrailEvent."
        try:
            value = json.loads(value["CloudTrailEvent"])
        except (TypeError, json.JSONDecodeError) as error:
            reason = f"CloudTrailEvent is not JSON text of an event: {error}"
            hint = "expected the event as JSON text, as lookup-events writes it"
            raise record_error(
                record, reason, field=where.rstrip("."), hint=hint
            ) from error
    if not isinstance(value, dict) or not (
        "eventTime" in value or "eventName" in value
    ):
        reason = "not a CloudTrail event: eventTime and eventName are missing"
        hint = 'expected an event, {"Records": [...]} or lookup-events output'
        raise record_error(record, reason, field=where.rstrip(".") or None, hint=hint)
    return where, value


def _is_event(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and "eventVersion" in value
        and ("eventSource" in value or "eventType" in value)
    )


def _is_lookup_event(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("CloudTrailEvent"), str)


def _required(event: dict[str, Any], key: str, record: RawRecord, where: str) -> str:
    value = text_or_none(event.get(key))
    if value is None:
        raise record_error(record, f"missing {key}", field=f"{where}{key}")
    return value


def _object_or_none(value: Any) -> dict[str, Any] | None:
    # Some pipelines re-serialise requestParameters as JSON text.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    return value if isinstance(value, dict) else None


# Identity.


def _identity(value: Any, record: RawRecord, where: str) -> Identity:
    if value is None:
        return Identity()
    if not isinstance(value, dict):
        reason = f"expected an object, got {type(value).__name__}"
        raise record_error(record, reason, field=f"{where}userIdentity")

    kind = value.get("type")
    key_id = text_or_none(value.get("accessKeyId"))
    if kind in ("AssumedRole", "FederatedUser"):
        return _session_identity(value, record, where)
    if kind in ("IAMUser", "Root", "IdentityCenterUser"):
        user = (
            text_or_none(value.get("arn"))
            or _identity_center_user(value)
            or text_or_none(value.get("userName"))
        )
        return Identity(subject=user, access_key_id=key_id)
    if kind in ("SAMLUser", "WebIdentityUser"):
        # The identity provider authenticated this name before AWS issued the session.
        user = text_or_none(value.get("userName")) or text_or_none(
            value.get("principalId")
        )
        return Identity(subject=user, access_key_id=key_id)
    return Identity(actor=_other_actor(kind, value), access_key_id=key_id)


def _session_identity(value: dict[str, Any], record: RawRecord, where: str) -> Identity:
    context = _member(value, "sessionContext")
    issuer = _member(context, "sessionIssuer")
    started = text_or_none(_member(context, "attributes").get("creationDate"))
    source_identity = text_or_none(context.get("sourceIdentity")) or text_or_none(
        value.get("sourceIdentity")
    )
    return Identity(
        subject=source_identity or _identity_center_user(value),
        actor=text_or_none(issuer.get("arn")),
        session_id=text_or_none(value.get("arn")),
        session_started_at=_time_or_none(started, record, where),
        access_key_id=text_or_none(value.get("accessKeyId")),
    )


def _identity_center_user(value: dict[str, Any]) -> str | None:
    # IAM Identity Center records the authenticated user behind a session here.
    return text_or_none(_member(value, "onBehalfOf").get("userId"))


def _other_actor(kind: Any, value: dict[str, Any]) -> str | None:
    if kind == "AWSAccount":
        account = text_or_none(value.get("accountId"))
        return f"arn:aws:iam::{account}:root" if account else None
    if kind == "AWSService":
        return text_or_none(value.get("invokedBy"))
    return text_or_none(value.get("arn"))


def _member(value: dict[str, Any], key: str) -> dict[str, Any]:
    member = value.get(key)
    return member if isinstance(member, dict) else {}


def _time_or_none(value: str | None, record: RawRecord, where: str) -> str | None:
    if value is None:
        return None
    field = f"{where}userIdentity.sessionContext.attributes.creationDate"
    return _event_time(value, record, field)


def _event_time(value: Any, record: RawRecord, field: str) -> str:
    # CloudTrail writes every time in UTC; some pipelines drop the trailing Z.
    return iso_timestamp(value, record, field, assume_utc=True)


def _session_links(
    events: Iterable[dict[str, Any]],
) -> dict[str, tuple[str | None, str | None]]:
    # Access key id of each issued session -> (issuing role ARN, caller's access key
    # id). Role chains are followed through these keys, never through role names.
    links: dict[str, tuple[str | None, str | None]] = {}
    for event in events:
        name = text_or_none(event.get("eventName"))
        if name not in ASSUME_ROLE_EVENTS or event.get("errorCode"):
            continue
        response = _object_or_none(event.get("responseElements")) or {}
        credentials = response.get("credentials")
        if not isinstance(credentials, dict):
            continue
        new_key = text_or_none(credentials.get("accessKeyId"))
        caller = event.get("userIdentity")
        if new_key is None or not isinstance(caller, dict):
            continue
        caller_role = None
        if caller.get("type") == "AssumedRole":
            issuer = _member(_member(caller, "sessionContext"), "sessionIssuer")
            caller_role = text_or_none(issuer.get("arn"))
        links[new_key] = (caller_role, text_or_none(caller.get("accessKeyId")))
    return links


def _actor_chain(
    identity: Identity, links: dict[str, tuple[str | None, str | None]]
) -> list[str]:
    chain = [identity.actor] if identity.actor else []
    key = identity.access_key_id
    visited: set[str] = set()
    while key is not None and key in links and key not in visited and identity.actor:
        visited.add(key)
        role, key = links[key]
        if role is None:
            break
        chain.append(role)
    return chain


def _resource(
    rule: ActionRule, event: dict[str, Any], parameters: dict[str, Any] | None
) -> str | None:
    resources = [
        item for item in event.get("resources") or [] if isinstance(item, dict)
    ]
    if rule.resource_type is not None:
        for item in resources:
            if item.get("type") == rule.resource_type and text_or_none(item.get("ARN")):
                return str(item["ARN"])
    if rule.resource_template is not None:
        filled = _fill(rule.resource_template, event, parameters or {})
        if filled is not None:
            return filled
    arns = [str(item["ARN"]) for item in resources if text_or_none(item.get("ARN"))]
    return arns[0] if len(arns) == 1 else None


def _fill(
    template: str, event: dict[str, Any], parameters: dict[str, Any]
) -> str | None:
    values = {
        "accountId": text_or_none(event.get("recipientAccountId")),
        "region": text_or_none(event.get("awsRegion")),
    }
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        value = text_or_none(parameters.get(name)) or values.get(name)
        if value is None:
            missing = True
            return ""
        return value

    filled = _PLACEHOLDER.sub(replace, template)
    return None if missing else filled


ADAPTERS: tuple[CloudTrailAdapter, ...] = (CloudTrailAdapter(),)
