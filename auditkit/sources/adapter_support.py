"""Helpers shared by the log adapters: errors with locations, times, ids and streams.

Adapters that need state across records (pairing MCP requests with responses,
resolving OpenTelemetry parent spans, removing duplicate CloudTrail events) offer
``map_stream(records)`` besides ``map(record)``. It yields :data:`StreamItem` pairs:
the record a result is attributed to (for ``source_file`` and ``source_line``) and
either a canonical dictionary or the :class:`~auditkit.errors.InputError` that
quarantines that record. The loader calls ``map_stream`` on the whole file when the
adapter has it, and ``map`` per record otherwise.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from auditkit.errors import InputError
from auditkit.models.timestamps import parse_instant

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from auditkit.sources.base import RawRecord

StreamItem = tuple["RawRecord", "dict[str, Any] | InputError"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RecordMapper(Protocol):
    """Anything with the ``map`` method of an adapter."""

    def map(self, record: RawRecord) -> Iterable[dict[str, Any]]:
        """Map one raw record onto canonical dictionaries."""
        ...


def record_error(
    record: RawRecord, reason: str, *, field: str | None = None, hint: str | None = None
) -> InputError:
    """Return an :class:`InputError` located at ``record``."""
    return InputError(
        reason, path=record.path, line=record.line, field=field, hint=hint
    )


def map_each(
    mapper: RecordMapper, records: Iterable[RawRecord]
) -> Iterator[StreamItem]:
    """Map records one by one, turning each record's ``InputError`` into an item.

    Examples
    --------
    >>> from auditkit.sources.base import RawRecord
    >>> class Upper:
    ...     def map(self, record):
    ...         return [{"tool": record.value.upper()}]
    >>> [row for _, row in map_each(Upper(), [RawRecord("a.jsonl", 1, "x")])]
    [{'tool': 'X'}]
    """
    for record in records:
        try:
            rows = list(mapper.map(record))
        except InputError as error:
            yield record, error
            continue
        for row in rows:
            yield record, row


def raise_first_error(items: Iterable[StreamItem]) -> list[dict[str, Any]]:
    """Return the rows of ``items``, raising the first error among them."""
    rows: list[dict[str, Any]] = []
    for _, item in items:
        if isinstance(item, InputError):
            raise item
        rows.append(item)
    return rows


def format_utc(instant: datetime) -> str:
    """Format a UTC instant as ISO 8601 with ``Z``, keeping microseconds if any.

    Examples
    --------
    >>> format_utc(datetime(2026, 3, 1, 8, 0, 0, 120))
    '2026-03-01T08:00:00.000120Z'
    """
    if instant.tzinfo is not None:
        instant = instant.astimezone(UTC).replace(tzinfo=None)
    return instant.isoformat() + "Z"


def iso_timestamp(
    value: Any, record: RawRecord, field: str, *, assume_utc: bool = False
) -> str:
    """Parse an ISO 8601 timestamp and return it in UTC with ``Z``.

    ``assume_utc`` reads a timestamp without zone as UTC; pass it only for formats
    whose specification writes every time in UTC.

    Raises
    ------
    InputError
        If the value is missing, not a string, or has no zone (without
        ``assume_utc``).
    """
    if value is None or value == "":
        raise record_error(record, "missing timestamp", field=field)
    try:
        instant = parse_instant(value, UTC if assume_utc else None)
    except ValueError as error:
        raise record_error(record, str(error), field=field) from error
    return format_utc(instant)


def epoch_timestamp(value: Any, unit: str, record: RawRecord, field: str) -> str:
    """Convert an epoch number (or a string of digits) in ``unit`` to ISO 8601 UTC.

    ``unit`` is ``s``, ``ms``, ``us`` or ``ns``. Integers are converted exactly, so
    nanoseconds keep their microseconds; finer digits are truncated.

    Examples
    --------
    >>> from auditkit.sources.base import RawRecord
    >>> epoch_timestamp(1758026593450406789, "ns", RawRecord("t.json", 1, None), "ts")
    '2025-09-16T12:43:13.450406Z'
    """
    per_microsecond = {"s": None, "ms": None, "us": 1, "ns": 1000}
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float):
        reason = f"expected an epoch number in {unit}, got {value!r}"
        raise record_error(record, reason, field=field)

    if unit == "s":
        microseconds = round(value * 1_000_000)
    elif unit == "ms":
        microseconds = round(value * 1000)
    else:
        microseconds = int(value) // (per_microsecond[unit] or 1)
    try:
        instant = _EPOCH + timedelta(microseconds=microseconds)
    except OverflowError as error:
        reason = f"epoch value {value!r} in {unit} is out of range"
        raise record_error(record, reason, field=field) from error
    return format_utc(instant)


def content_id(prefix: str, value: Any) -> str:
    """Return a stable id for a record that carries none: a hash of its content.

    The same content always gives the same id, so loading a file twice adds nothing.

    Examples
    --------
    >>> content_id("ct", {"b": 1, "a": 2}) == content_id("ct", {"a": 2, "b": 1})
    True
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"{prefix}-{digest[:24]}"


def json_object(value: Any, record: RawRecord, field: str) -> dict[str, Any]:
    """Return ``value`` as a JSON object, parsing it first when it is JSON text.

    Raises
    ------
    InputError
        If the value is neither an object nor the text of one.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            reason = f"invalid JSON text: {error.msg} at column {error.colno}"
            raise record_error(record, reason, field=field) from error
    if not isinstance(value, dict):
        reason = f"expected a JSON object, got {type(value).__name__}"
        raise record_error(record, reason, field=field)
    return value


def text_or_none(value: Any) -> str | None:
    """Return a non-empty string form of an id-like value, or ``None``.

    Numbers become their decimal text; booleans, objects and empty strings give
    ``None``.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def member(value: Any, *keys: str) -> dict[str, Any]:
    """Return the object at ``keys`` inside ``value``, or an empty one.

    Log fields are attacker-controlled, so a member of the wrong type is treated
    as absent instead of failing.

    Examples
    --------
    >>> member({"a": {"b": {"c": 1}}}, "a", "b"), member({"a": "text"}, "a")
    ({'c': 1}, {})
    """
    current = value
    for key in keys:
        current = current.get(key) if isinstance(current, dict) else None
    return current if isinstance(current, dict) else {}
