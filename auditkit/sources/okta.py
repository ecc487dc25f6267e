"""Okta System Log events as exact lifecycle and group-membership events.

Mapped event types (others are read and skipped):

| Okta ``eventType`` | canonical ``event_type`` |
| --- | --- |
| ``user.lifecycle.deactivate`` | ``deactivated`` |
| ``user.lifecycle.suspend`` | ``suspended`` |
| ``user.lifecycle.reactivate``, ``user.lifecycle.unsuspend`` | ``reactivated`` |
| ``group.user_membership.add`` | ``membership_added`` (parent: the group) |
| ``group.user_membership.remove`` | ``membership_removed`` (parent: the group) |

The user is the ``target`` of type ``User``, named by its Okta id (the ``sub`` of
tokens Okta issues); the group is the ``target`` of type ``UserGroup``. The event id
is the event's ``uuid``, so an event delivered twice loads once. The instant is
``published``, never the time the event arrived. Events whose ``outcome.result`` is
not ``SUCCESS`` changed nothing and are skipped.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from auditkit.errors import InputError
from auditkit.models import InputKind
from auditkit.sources.adapter_support import (
    iso_timestamp,
    record_error,
    text_or_none,
)
from auditkit.sources.readers import UnreadableRecord, read_records

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from auditkit.sources.base import RawRecord

logger = logging.getLogger(__name__)

FORMAT_NAME = "okta"

EVENT_TYPES: dict[str, str] = {
    "user.lifecycle.deactivate": "deactivated",
    "user.lifecycle.suspend": "suspended",
    "user.lifecycle.reactivate": "reactivated",
    "user.lifecycle.unsuspend": "reactivated",
    "group.user_membership.add": "membership_added",
    "group.user_membership.remove": "membership_removed",
}


class OktaSystemLogAdapter:
    """Maps Okta System Log events onto LifecycleEvent dictionaries.

    Examples
    --------
    >>> from auditkit.sources.base import RawRecord
    >>> event = {
    ...     "uuid": "u-1", "published": "2026-03-01T08:00:00.000Z",
    ...     "eventType": "user.lifecycle.deactivate",
    ...     "outcome": {"result": "SUCCESS"},
    ...     "actor": {"id": "00uadmin", "type": "User"},
    ...     "target": [{"id": "00uann", "type": "User"}],
    ... }
    >>> row = next(iter(OktaSystemLogAdapter().map(RawRecord("okta.json", 1, event))))
    >>> row["principal_id"], row["event_type"], row["ts"]
    ('00uann', 'deactivated', '2026-03-01T08:00:00Z')
    """

    name: str = FORMAT_NAME
    kind: InputKind = InputKind.EVENTS

    def detect(self, sample: Any) -> bool:
        """Return whether ``sample`` is a System Log event."""
        if not isinstance(sample, dict):
            return False
        has_fields = {"uuid", "published", "eventType"} <= sample.keys()
        return has_fields and isinstance(sample.get("eventType"), str)

    def map(self, record: RawRecord) -> Iterator[dict[str, Any]]:
        """Map one event; events of other types, or that failed, yield nothing.

        Raises
        ------
        InputError
            If a mapped event lacks its uuid, time, user or group.
        """
        event = record.value
        if not isinstance(event, dict):
            raise record_error(record, "expected a System Log event object")
        event_type = EVENT_TYPES.get(str(event.get("eventType")))
        if event_type is None or not _succeeded(event):
            return
        uuid = text_or_none(event.get("uuid"))
        if uuid is None:
            raise record_error(record, "missing uuid", field="uuid")
        mapped: dict[str, Any] = {
            "event_id": uuid,
            "ts": iso_timestamp(event.get("published"), record, "published"),
            "principal_type": "user",
            "principal_id": _target_id(event, "User", record),
            "event_type": event_type,
            "changed_by": _actor(event),
            "detail": text_or_none(event.get("displayMessage")),
        }
        if event_type.startswith("membership_"):
            mapped["parent_type"] = "group"
            mapped["parent_id"] = _target_id(event, "UserGroup", record)
        yield {key: value for key, value in mapped.items() if value is not None}


def read_okta_events(path: str | Path) -> list[dict[str, Any]]:
    """Read a System Log file (JSON array, one object, or JSONL) as canonical events.

    Events are de-duplicated by uuid and ordered by ``published``, then uuid.

    Raises
    ------
    InputError
        If a line cannot be decoded or a mapped event is invalid.
    """
    adapter = OktaSystemLogAdapter()
    found: dict[str, dict[str, Any]] = {}
    for raw in read_records(path):
        if isinstance(raw.value, UnreadableRecord):
            raise InputError(raw.value.reason, path=raw.path, line=raw.line)
        for event in adapter.map(raw):
            found.setdefault(event["event_id"], event)
    events = sorted(found.values(), key=lambda event: (event["ts"], event["event_id"]))
    logger.info("read %d Okta lifecycle events from %s", len(events), path)
    return events


def _succeeded(event: dict[str, Any]) -> bool:
    outcome = event.get("outcome")
    if not isinstance(outcome, dict) or outcome.get("result") is None:
        return True
    return str(outcome.get("result")).upper() == "SUCCESS"


def _target_id(event: dict[str, Any], target_type: str, record: RawRecord) -> str:
    targets = event.get("target")
    for target in targets if isinstance(targets, list) else []:
        if isinstance(target, dict) and target.get("type") == target_type:
            found = text_or_none(target.get("id"))
            if found is not None:
                return found
    reason = f"no target of type {target_type} with an id"
    raise record_error(record, reason, field="target")


def _actor(event: dict[str, Any]) -> str | None:
    actor = event.get("actor")
    if not isinstance(actor, dict):
        return None
    return text_or_none(actor.get("alternateId")) or text_or_none(actor.get("id"))


ADAPTERS: tuple[OktaSystemLogAdapter, ...] = (OktaSystemLogAdapter(),)
