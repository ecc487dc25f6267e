"""Parsing of input timestamps into UTC instants, with no guessing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from pydantic import ValidationInfo

# ISO 8601 / RFC 3339 with an optional fraction of up to nine digits.
_ISO_PATTERN = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"(?:[.,](?P<fraction>\d{1,9}))?"
    r"(?P<zone>Z|z|[+-]\d{2}:?\d{2})?$"
)


def resolve_zone(name: str) -> tzinfo:
    """Return the time zone called ``name`` (an IANA name such as ``Europe/Paris``)."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        message = f"unknown time zone {name!r}; use an IANA name such as 'Europe/Paris'"
        raise ValueError(message) from error


def parse_instant(value: Any, default_zone: tzinfo | None = None) -> datetime:
    """Parse an ISO 8601 timestamp into a naive datetime holding the UTC instant.

    An explicit offset is applied exactly. A timestamp without zone is rejected unless
    ``default_zone`` says which zone it was written in. Fractions finer than a
    microsecond are truncated, because DuckDB stores microseconds. Numbers are rejected:
    an epoch number carries no unit that could be told apart from a count.

    Examples
    --------
    >>> parse_instant("2026-03-01T08:00:00+08:00")
    datetime.datetime(2026, 3, 1, 0, 0)
    >>> parse_instant("2026-03-01T00:00:00.123456789Z")
    datetime.datetime(2026, 3, 1, 0, 0, 0, 123456)
    """
    if isinstance(value, datetime):
        return _to_utc(value, default_zone, text=value.isoformat())
    if not isinstance(value, str):
        kind = type(value).__name__
        message = f"expected an ISO 8601 timestamp string, got {kind} {value!r}"
        # ValueError, not TypeError: pydantic reports ValueError as a field error.
        raise ValueError(message)

    match = _ISO_PATTERN.match(value.strip())
    if match is None:
        message = (
            f"invalid timestamp {value!r}; expected ISO 8601 such as "
            "'2026-03-01T08:00:00Z' or '2026-03-01T08:00:00+08:00'"
        )
        raise ValueError(message)

    time_text = (
        match["time"] if match["time"].count(":") == 2 else match["time"] + ":00"
    )
    fraction = (match["fraction"] or "0").ljust(6, "0")[:6]
    zone = match["zone"] or ""
    if zone in ("Z", "z"):
        zone = "+00:00"
    elif zone and ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    parsed = datetime.fromisoformat(f"{match['date']}T{time_text}.{fraction}{zone}")
    return _to_utc(parsed, default_zone, text=value)


def _to_utc(parsed: datetime, default_zone: tzinfo | None, text: str) -> datetime:
    if parsed.tzinfo is None:
        if default_zone is None:
            message = (
                f"timestamp {text!r} has no time zone; add an offset such as 'Z' or "
                "'+02:00', or set the zone it was written in (default_timezone)"
            )
            raise ValueError(message)
        parsed = parsed.replace(tzinfo=default_zone)
        if parsed.utcoffset() != parsed.replace(fold=1).utcoffset():
            message = (
                f"timestamp {text!r} is ambiguous or skipped in zone {default_zone} "
                "(a daylight-saving change); write it with an explicit offset"
            )
            raise ValueError(message)
    return parsed.astimezone(UTC).replace(tzinfo=None)


def validate_instant(value: Any, info: ValidationInfo) -> datetime:
    """Pydantic validator: parse with the zone from the validation context, if any."""
    context = info.context or {}
    zone = context.get("default_timezone")
    if isinstance(zone, str):
        zone = resolve_zone(zone)
    return parse_instant(value, zone)
