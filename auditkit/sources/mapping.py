"""A declarative mapping from any JSON or CSV log onto tool calls.

A mapping names, for each canonical ToolCall field, where its value comes from::

    name: gateway_v2
    fields:
      call_id: event.id                  # a dotted JSON path, [index] for lists
      ts: {path: event.time, format: "%d/%m/%Y %H:%M:%S", timezone: UTC}
      tool: {column: "tool.name"}        # a CSV column or top-level key, read as is
      subject: 'auth["user.email"]'      # a quoted key may contain dots
      actor: {const: support-agent}      # the same value on every call
      outcome: {path: status, values: {"200": allowed, "403": denied}}

``ts`` formats are ``iso`` (the default), ``epoch_s``, ``epoch_ms``, ``epoch_us``,
``epoch_ns`` or a :func:`datetime.strptime` pattern. When ``call_id`` is not mapped,
it is a hash of the whole record. ``docs/formats/mapping.md`` has a full example.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from auditkit.errors import InputError
from auditkit.models import InputKind, Outcome, ToolCall
from auditkit.models.timestamps import parse_instant, resolve_zone
from auditkit.sources.adapter_support import (
    content_id,
    epoch_timestamp,
    format_utc,
    iso_timestamp,
    record_error,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from auditkit.sources.base import RawRecord

FORMAT_NAME = "mapping"
RULE_KEYS = frozenset(
    {"path", "column", "const", "default", "values", "format", "timezone"}
)
EPOCH_FORMATS = {"epoch_s": "s", "epoch_ms": "ms", "epoch_us": "us", "epoch_ns": "ns"}
TIME_FIELDS = frozenset(
    {"ts", "token_issued_at", "token_expires_at", "session_started_at"}
)
_MISSING = object()
_PATH_TOKEN = re.compile(
    r"""\.?(?P<name>[^.\[\]"']+)|\[(?P<index>-?\d+)\]|\[(?P<quote>["'])(?P<key>.*?)(?P=quote)\]"""
)


@dataclass(frozen=True)
class FieldRule:
    """Source and conversion of one canonical field."""

    path: tuple[str | int, ...] | None = None
    const: Any = None
    default: Any = None
    values: Mapping[str, Any] | None = None
    time_format: str = "iso"
    timezone: str | None = None

    def extract(self, value: Any) -> Any:
        """Return the raw value this rule selects from a record, or ``None``."""
        if self.path is None:
            return self.const
        found = lookup(value, self.path)
        if found is _MISSING or found is None or found == "":
            return self.default
        if self.values is not None:
            return self.values.get(str(found), found)
        return found


def parse_path(text: str) -> tuple[str | int, ...]:
    """Split a path such as ``a.b[0]["c.d"]`` into keys and list indexes.

    Raises
    ------
    ValueError
        If the path is empty or has text that is neither a key nor an index.

    Examples
    --------
    >>> parse_path('event.items[0]["user.email"]')
    ('event', 'items', 0, 'user.email')
    """
    parts: list[str | int] = []
    position = 0
    while position < len(text):
        match = _PATH_TOKEN.match(text, position)
        if match is None or match.end() == position:
            message = f"invalid path {text!r} at character {position + 1}"
            raise ValueError(message)
        if match["name"] is not None:
            parts.append(match["name"])
        elif match["index"] is not None:
            parts.append(int(match["index"]))
        else:
            parts.append(match["key"])
        position = match.end()
    if not parts:
        raise ValueError("empty path")
    return tuple(parts)


def lookup(value: Any, path: tuple[str | int, ...]) -> Any:
    """Follow ``path`` through nested objects and lists; a sentinel when absent."""
    current = value
    for part in path:
        if isinstance(part, int) and isinstance(current, list):
            if not -len(current) <= part < len(current):
                return _MISSING
            current = current[part]
        elif isinstance(part, str) and isinstance(current, dict) and part in current:
            current = current[part]
        else:
            return _MISSING
    return current


class MappingAdapter:
    """Maps JSON or CSV records onto ToolCall dictionaries by a declarative mapping.

    A mapping is chosen explicitly, so ``detect`` always returns ``False``.

    Examples
    --------
    >>> from auditkit.sources.base import RawRecord
    >>> adapter = MappingAdapter({"fields": {
    ...     "call_id": "id", "tool": "op.name", "subject": {"column": "user"},
    ...     "ts": {"path": "t", "format": "epoch_ms"},
    ...     "actor": {"const": "agent-7"}}})
    >>> row = {"id": 9, "op": {"name": "search"}, "user": "alice", "t": 1772352000000}
    >>> call = next(iter(adapter.map(RawRecord("log.jsonl", 1, row))))
    >>> call["call_id"], call["ts"], call["tool"], call["subject"], call["actor"]
    ('9', '2026-03-01T08:00:00Z', 'search', 'alice', 'agent-7')
    """

    kind: InputKind = InputKind.CALLS

    def __init__(self, spec: Mapping[str, Any], *, source: str = "<mapping>") -> None:
        self.source = source
        self.name = str(spec.get("name") or FORMAT_NAME)
        fields = spec.get("fields")
        if not isinstance(fields, dict) or not fields:
            raise self._spec_error(
                "a mapping needs a non-empty 'fields' object", "fields"
            )
        self.rules = {name: self._rule(name, rule) for name, rule in fields.items()}
        for required in ("ts", "tool"):
            if required not in self.rules:
                raise self._spec_error(
                    f"the field {required!r} must be mapped", "fields"
                )

    @classmethod
    def from_file(cls, path: str | Path) -> MappingAdapter:
        """Read a mapping from a YAML (or JSON) file.

        Raises
        ------
        InputError
            If the file cannot be read or the mapping is invalid.
        """
        try:
            spec = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise InputError(f"cannot read mapping: {error}", path=path) from error
        if not isinstance(spec, dict):
            raise InputError("a mapping file must hold an object", path=path)
        return cls(spec, source=str(path))

    def detect(self, sample: Any) -> bool:
        """Return ``False``: a declarative mapping is never guessed from data."""
        return False

    def map(self, record: RawRecord) -> Iterator[dict[str, Any]]:
        """Map one record by the mapping's rules.

        Raises
        ------
        InputError
            If a mapped value cannot be converted, or a required field is empty.
        """
        call: dict[str, Any] = {}
        for name, rule in self.rules.items():
            value = rule.extract(record.value)
            if value is None:
                continue
            call[name] = self._convert(name, rule, value, record)
        call.setdefault("call_id", content_id("mapped", record.value))
        for required in ("ts", "tool"):
            if required not in call:
                reason = f"the mapped value for {required!r} is missing or empty"
                raise record_error(record, reason, field=required)
        yield call

    def _convert(
        self, name: str, rule: FieldRule, value: Any, record: RawRecord
    ) -> Any:
        if name in TIME_FIELDS:
            return _timestamp(value, rule, record, name)
        if name == "arguments" and isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as error:
                reason = f"invalid JSON object text: {error.msg}"
                raise record_error(record, reason, field=name) from error
        if name == "outcome":
            return _outcome(value, record)
        if name in {"actor_chain", "arguments"}:
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    def _rule(self, name: str, rule: Any) -> FieldRule:
        if name not in ToolCall.model_fields:
            known = ", ".join(ToolCall.model_fields)
            raise self._spec_error(f"unknown field {name!r}; use one of: {known}", name)
        if isinstance(rule, str):
            rule = {"path": rule}
        if not isinstance(rule, dict) or not rule.keys() <= RULE_KEYS:
            hint = f"a rule is a path text or an object with keys {sorted(RULE_KEYS)}"
            raise self._spec_error(f"invalid rule for {name!r}", name, hint)

        path: tuple[str | int, ...] | None = None
        try:
            if "path" in rule:
                path = parse_path(str(rule["path"]))
            elif "column" in rule:
                path = (str(rule["column"]),)
        except ValueError as error:
            raise self._spec_error(str(error), name) from error
        if path is None and "const" not in rule:
            raise self._spec_error(
                f"the rule for {name!r} needs path, column or const", name
            )
        values = rule.get("values")
        return FieldRule(
            path=path,
            const=rule.get("const"),
            default=rule.get("default"),
            values={str(key): item for key, item in values.items()} if values else None,
            time_format=str(rule.get("format") or "iso"),
            timezone=rule.get("timezone"),
        )

    def _spec_error(
        self, reason: str, field: str, hint: str | None = None
    ) -> InputError:
        return InputError(reason, path=self.source, field=field, hint=hint)


def _timestamp(value: Any, rule: FieldRule, record: RawRecord, name: str) -> str:
    if rule.time_format in EPOCH_FORMATS:
        return epoch_timestamp(value, EPOCH_FORMATS[rule.time_format], record, name)
    if rule.time_format == "iso":
        if rule.timezone is None:
            return iso_timestamp(value, record, name)
        try:
            return format_utc(parse_instant(value, resolve_zone(rule.timezone)))
        except ValueError as error:
            raise record_error(record, str(error), field=name) from error
    try:
        parsed = datetime.strptime(str(value), rule.time_format)
    except ValueError as error:
        raise record_error(record, str(error), field=name) from error
    if parsed.tzinfo is None and rule.timezone is None:
        reason = f"timestamp {value!r} has no time zone"
        hint = "add timezone: to the rule, such as UTC or Europe/Paris"
        raise record_error(record, reason, field=name, hint=hint)
    return format_utc(
        _with_zone(parsed, rule.timezone) if parsed.tzinfo is None else parsed
    )


def _outcome(value: Any, record: RawRecord) -> Outcome:
    try:
        return Outcome(str(value))
    except ValueError:
        reason = f"invalid outcome {value!r}"
        hint = "map source values to allowed, denied or error with values:"
        raise record_error(record, reason, field="outcome", hint=hint) from None


def _with_zone(parsed: datetime, zone: str | None) -> datetime:
    if parsed.tzinfo is not None or zone is None:
        return parsed
    return parsed.replace(tzinfo=resolve_zone(zone))


def load_mapping(path: str | Path) -> MappingAdapter:
    """Return the adapter described by a mapping file (YAML or JSON)."""
    return MappingAdapter.from_file(path)


# The generic mapping needs a mapping file, so it is not registered for detection.
ADAPTERS: tuple[MappingAdapter, ...] = ()
