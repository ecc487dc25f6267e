"""OpenTelemetry GenAI traces: ``execute_tool`` spans become tool calls.

Two shapes are read. OTLP JSON exports hold ``resourceSpans`` / ``scopeSpans`` /
``spans`` with attributes as typed key-value lists and times in nanoseconds. SDK
span dictionaries (``ReadableSpan.to_json`` or exporters shaped like it) hold
``context``, ``parent``, ``attributes`` as a plain object and times as nanoseconds or
ISO strings, either one span per JSON value or a ``{"spans": [...]}`` document.

A tool span takes its session, agent, user and delegation start from its ancestors,
such as the nearest ``invoke_agent`` span. So :meth:`OtelGenAIAdapter.map_stream`
reads a whole file before mapping, while ``map`` resolves ancestors within one record
only. The field rules are listed in ``docs/formats/otel.md``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditkit.errors import InputError
from auditkit.models import InputKind, Outcome
from auditkit.sources.adapter_support import (
    StreamItem,
    epoch_timestamp,
    iso_timestamp,
    json_object,
    member,
    raise_first_error,
    record_error,
    text_or_none,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from auditkit.sources.base import RawRecord

logger = logging.getLogger(__name__)

FORMAT_NAME = "otel"
EXECUTE_TOOL = "execute_tool"
INVOKE_AGENT = "invoke_agent"

OPERATION_KEYS = ("gen_ai.operation.name",)
TOOL_NAME_KEYS = ("gen_ai.tool.name", "tool.name")
CALL_ID_KEYS = ("gen_ai.tool.call.id",)
# Newer semantic conventions name the arguments gen_ai.tool.call.arguments; older
# instrumentations write gen_ai.tool.args or tool.args.
ARGUMENT_KEYS = ("gen_ai.tool.call.arguments", "gen_ai.tool.args", "tool.args")
AGENT_KEYS = ("gen_ai.agent.id", "gen_ai.agent.name")
CONVERSATION_KEYS = ("gen_ai.conversation.id", "session.id")
# enduser.id is deprecated in favour of user.id; both are read.
DEFAULT_USER_KEYS = ("enduser.id", "user.id")
# gen_ai.system was renamed gen_ai.provider.name; either marks a GenAI span.
GENAI_MARKER_KEYS = (
    "gen_ai.operation.name",
    "gen_ai.system",
    "gen_ai.provider.name",
    "gen_ai.tool.name",
    "gen_ai.agent.name",
)
MAX_ANCESTORS = 256


@dataclass
class Span:
    """One span, in one shape whatever the source shape was."""

    record: RawRecord
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start: Any
    start_unit: str
    attributes: dict[str, Any]
    resource: dict[str, Any] = field(default_factory=dict)
    error: bool = False

    @property
    def operation(self) -> str | None:
        """GenAI operation name, from the attribute or else the span name."""
        value = _first(self.attributes, OPERATION_KEYS)
        if value is not None:
            return value
        for operation in (EXECUTE_TOOL, INVOKE_AGENT):
            if self.name == operation or self.name.startswith(operation + " "):
                return operation
        return None


@dataclass(frozen=True)
class OtelGenAIAdapter:
    """Maps OpenTelemetry GenAI ``execute_tool`` spans onto ToolCall dictionaries.

    Parameters
    ----------
    user_attributes
        Span or resource attributes that name the user, tried in order.

    Examples
    --------
    >>> from auditkit.sources.base import RawRecord
    >>> span = {
    ...     "name": "execute_tool search",
    ...     "context": {"trace_id": "0x" + "1" * 32, "span_id": "0x" + "2" * 16},
    ...     "start_time": 1758026593450406000,
    ...     "attributes": {"gen_ai.operation.name": "execute_tool",
    ...                    "gen_ai.tool.name": "search",
    ...                    "gen_ai.tool.args": '{"q": "x"}'},
    ... }
    >>> row = next(iter(OtelGenAIAdapter().map(RawRecord("t.json", 1, span))))
    >>> row["tool"], row["arguments"], row["ts"]
    ('search', {'q': 'x'}, '2025-09-16T12:43:13.450406Z')
    """

    user_attributes: tuple[str, ...] = DEFAULT_USER_KEYS
    name: str = FORMAT_NAME
    kind: InputKind = InputKind.CALLS

    def detect(self, sample: Any) -> bool:
        """Return whether ``sample`` is an OTLP export or GenAI SDK span(s)."""
        if not isinstance(sample, dict):
            return False
        if isinstance(sample.get("resourceSpans"), list):
            return True
        spans = sample.get("spans")
        if isinstance(spans, list):
            return any(_is_genai_sdk_span(span) for span in spans[:50])
        return _is_genai_sdk_span(sample)

    def map(self, record: RawRecord) -> Iterator[dict[str, Any]]:
        """Map the tool spans of one record, resolving ancestors within it.

        Raises
        ------
        InputError
            If the record contains no spans or a tool span cannot be mapped.
        """
        return iter(raise_first_error(self.map_stream([record])))

    def map_stream(self, records: Iterable[RawRecord]) -> Iterator[StreamItem]:
        """Map the tool spans of a whole file, resolving ancestors across records.

        Spans are buffered until the end, because a parent span is usually written
        after its children.
        """
        spans: dict[tuple[str, str], Span] = {}
        for record in records:
            try:
                found = list(_spans_of(record))
            except InputError as error:
                yield record, error
                continue
            for span in found:
                spans[(span.trace_id, span.span_id)] = span

        for span in spans.values():
            if span.operation != EXECUTE_TOOL:
                continue
            try:
                yield span.record, self._call(span, spans)
            except InputError as error:
                yield span.record, error

    def _call(self, span: Span, spans: dict[tuple[str, str], Span]) -> dict[str, Any]:
        record = span.record
        tool = _first(span.attributes, TOOL_NAME_KEYS)
        if tool is None:
            tool = span.name.removeprefix(EXECUTE_TOOL).strip() or None
        if tool is None:
            hint = "the span needs gen_ai.tool.name"
            raise record_error(
                record, "missing tool name", field=TOOL_NAME_KEYS[0], hint=hint
            )

        ancestors = _ancestors(span, spans)
        agent_spans = [item for item in ancestors if item.operation == INVOKE_AGENT]
        call: dict[str, Any] = {
            "call_id": _first(span.attributes, CALL_ID_KEYS) or span.span_id,
            "ts": _span_time(span),
            "tool": tool,
            "arguments": _arguments(span),
            "outcome": Outcome.ERROR if span.error else Outcome.ALLOWED,
        }
        call |= _agent_fields(span, agent_spans)
        call["subject"] = self._user(span, ancestors)
        call |= _session_fields(span, ancestors, agent_spans)
        return {name: value for name, value in call.items() if value is not None}

    def _user(self, span: Span, ancestors: list[Span]) -> str | None:
        for item in [span, *ancestors]:
            user = _first(item.attributes, self.user_attributes)
            if user is not None:
                return user
        return _first(span.resource, self.user_attributes)


def _agent_fields(span: Span, agent_spans: list[Span]) -> dict[str, Any]:
    # The tool span's own agent attribute wins; nested invoke_agent spans (an agent
    # that called a sub-agent) give the rest of the chain, nearest first.
    chain: list[str] = []
    for item in [span, *agent_spans]:
        agent = _first(item.attributes, AGENT_KEYS)
        if agent is not None and agent not in chain:
            chain.append(agent)
    if not chain:
        return {}
    return {"actor": chain[0], "actor_chain": chain}


def _session_fields(
    span: Span, ancestors: list[Span], agent_spans: list[Span]
) -> dict[str, Any]:
    for item in [span, *ancestors]:
        conversation = _first(item.attributes, CONVERSATION_KEYS)
        if conversation is not None:
            return {"session_id": conversation}
    if agent_spans:
        # The outermost agent invocation is where the user handed the task over.
        root = agent_spans[-1]
        return {"session_id": root.span_id, "session_started_at": _span_time(root)}
    return {"session_id": span.trace_id}


def _ancestors(span: Span, spans: dict[tuple[str, str], Span]) -> list[Span]:
    found: list[Span] = []
    parent_id = span.parent_id
    while parent_id is not None and len(found) < MAX_ANCESTORS:
        parent = spans.get((span.trace_id, parent_id))
        if parent is None or parent in found:
            break
        found.append(parent)
        parent_id = parent.parent_id
    return found


def _arguments(span: Span) -> dict[str, Any] | None:
    for key in ARGUMENT_KEYS:
        if key in span.attributes and span.attributes[key] is not None:
            return json_object(span.attributes[key], span.record, key)
    return None


def _span_time(span: Span) -> str:
    if span.start_unit == "iso":
        return iso_timestamp(span.start, span.record, "start_time")
    return epoch_timestamp(span.start, "ns", span.record, "start_time")


def _first(attributes: dict[str, Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = text_or_none(attributes.get(key))
        if value is not None:
            return value
    return None


def _is_genai_sdk_span(value: Any) -> bool:
    if not isinstance(value, dict) or not isinstance(value.get("context"), dict):
        return False
    attributes = value.get("attributes")
    return isinstance(attributes, dict) and any(
        key in attributes for key in GENAI_MARKER_KEYS
    )


# Reading the two source shapes.


def _spans_of(record: RawRecord) -> Iterator[Span]:
    value = record.value
    if isinstance(value, dict) and isinstance(value.get("resourceSpans"), list):
        yield from _otlp_spans(record, value["resourceSpans"])
    elif isinstance(value, dict) and isinstance(value.get("spans"), list):
        for index, item in enumerate(value["spans"]):
            yield _sdk_span(record, item, f"spans[{index}]")
    elif isinstance(value, dict) and "context" in value:
        yield _sdk_span(record, value, "")
    else:
        reason = "not an OpenTelemetry span, OTLP export or spans document"
        hint = "expected resourceSpans, spans, or a span with context and attributes"
        raise record_error(record, reason, hint=hint)


def _otlp_spans(record: RawRecord, resource_spans: list[Any]) -> Iterator[Span]:
    for r_index, resource_item in enumerate(resource_spans):
        where = f"resourceSpans[{r_index}]"
        resource_span = json_object(resource_item, record, where)
        resource = _otlp_attributes(
            member(resource_span, "resource").get("attributes"), record, where
        )
        # scopeSpans replaced instrumentationLibrarySpans in OTLP 0.15.
        scopes = resource_span.get("scopeSpans")
        if scopes is None:
            scopes = resource_span.get("instrumentationLibrarySpans") or []
        scope_list = _json_list(scopes, record, f"{where}.scopeSpans")
        for s_index, scope_item in enumerate(scope_list):
            scope = json_object(scope_item, record, f"{where}.scopeSpans[{s_index}]")
            spans = _json_list(
                scope.get("spans") or [], record, f"{where}.scopeSpans[{s_index}].spans"
            )
            for index, item in enumerate(spans):
                path = f"{where}.scopeSpans[{s_index}].spans[{index}]"
                yield _otlp_span(record, item, path, resource)


def _json_list(value: Any, record: RawRecord, field: str) -> list[Any]:
    if not isinstance(value, list):
        reason = f"expected a JSON array in {field}, got {type(value).__name__}"
        raise record_error(record, reason, field=field)
    return value


def _otlp_span(
    record: RawRecord, value: Any, path: str, resource: dict[str, Any]
) -> Span:
    span = json_object(value, record, path)
    status = span.get("status") or {}
    code = status.get("code") if isinstance(status, dict) else None
    return Span(
        record=record,
        trace_id=_otlp_id(span.get("traceId"), 16, record, f"{path}.traceId"),
        span_id=_otlp_id(span.get("spanId"), 8, record, f"{path}.spanId"),
        parent_id=_optional_otlp_id(span.get("parentSpanId"), record, path),
        name=str(span.get("name") or ""),
        start=span.get("startTimeUnixNano"),
        start_unit="ns",
        attributes=_otlp_attributes(span.get("attributes"), record, path),
        resource=resource,
        error=code in (2, "2", "STATUS_CODE_ERROR"),
    )


def _otlp_attributes(value: Any, record: RawRecord, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, list):
        raise record_error(
            record, "expected a key-value list", field=f"{path}.attributes"
        )
    attributes: dict[str, Any] = {}
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            attributes[item["key"]] = _any_value(item.get("value"))
    return attributes


def _any_value(value: Any) -> Any:
    # OTLP AnyValue: exactly one typed member. intValue is a string in OTLP JSON
    # because JSON numbers cannot hold every int64.
    if not isinstance(value, dict):
        return value
    for key in ("stringValue", "boolValue", "doubleValue", "bytesValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        text = str(value["intValue"])
        return int(text) if text.lstrip("-").isdigit() else text
    if "arrayValue" in value:
        items = member(value, "arrayValue").get("values")
        return [_any_value(item) for item in items] if isinstance(items, list) else []
    if "kvlistValue" in value:
        entries = member(value, "kvlistValue").get("values")
        return {
            item["key"]: _any_value(item.get("value"))
            for item in (entries if isinstance(entries, list) else [])
            if isinstance(item, dict) and isinstance(item.get("key"), str)
        }
    return None


def _otlp_id(value: Any, size: int, record: RawRecord, field_name: str) -> str:
    # The OTLP JSON encoding writes ids as hex; protobuf's generic JSON mapping
    # writes bytes as base64, so both are read.
    if isinstance(value, str):
        text = value.strip().lower()
        if len(text) == size * 2 and all(char in "0123456789abcdef" for char in text):
            return text
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == size:
            return raw.hex()
    reason = f"invalid id {value!r}; expected {size * 2} hex digits or base64"
    raise record_error(record, reason, field=field_name)


def _optional_otlp_id(value: Any, record: RawRecord, path: str) -> str | None:
    if value in (None, ""):
        return None
    return _otlp_id(value, 8, record, f"{path}.parentSpanId")


def _sdk_span(record: RawRecord, value: Any, path: str) -> Span:
    prefix = f"{path}." if path else ""
    span = json_object(value, record, path or "span")
    context = json_object(span.get("context"), record, f"{prefix}context")
    parent = span.get("parent")
    parent_id = span.get("parent_id")
    if isinstance(parent, dict):
        parent_id = parent.get("span_id")
    start = span.get("start_time")
    return Span(
        record=record,
        trace_id=_sdk_id(
            context.get("trace_id"), 32, record, f"{prefix}context.trace_id"
        ),
        span_id=_sdk_id(context.get("span_id"), 16, record, f"{prefix}context.span_id"),
        parent_id=None
        if parent_id is None
        else _sdk_id(parent_id, 16, record, f"{prefix}parent"),
        name=str(span.get("name") or ""),
        start=start,
        start_unit="iso" if isinstance(start, str) and not start.isdigit() else "ns",
        attributes=_sdk_attributes(span.get("attributes"), record, prefix),
        resource=_sdk_attributes(
            member(span, "resource").get("attributes"), record, f"{prefix}resource."
        ),
        error=_sdk_status_is_error(span.get("status")),
    )


def _sdk_attributes(value: Any, record: RawRecord, prefix: str) -> dict[str, Any]:
    if value is None:
        return {}
    return json_object(value, record, f"{prefix}attributes")


def _sdk_id(value: Any, digits: int, record: RawRecord, field_name: str) -> str:
    # The Python SDK's to_json writes "0x" hex; some exporters write the integer.
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return f"{value:0{digits}x}"
    if isinstance(value, str):
        text = value.strip().lower().removeprefix("0x")
        if text and len(text) <= digits and all(c in "0123456789abcdef" for c in text):
            return text.rjust(digits, "0")
    reason = f"invalid id {value!r}; expected an integer or hex text"
    raise record_error(record, reason, field=field_name)


def _sdk_status_is_error(status: Any) -> bool:
    code = status.get("status_code") if isinstance(status, dict) else status
    return isinstance(code, str) and code.upper().removeprefix("STATUSCODE.") == "ERROR"


def otlp_attribute_list(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    """Encode a plain attribute object as an OTLP JSON key-value list.

    Examples
    --------
    >>> otlp_attribute_list({"retries": 2})
    [{'key': 'retries', 'value': {'intValue': '2'}}]
    """
    encoded: list[dict[str, Any]] = []
    for key, value in attributes.items():
        if isinstance(value, bool):
            typed: dict[str, Any] = {"boolValue": value}
        elif isinstance(value, int):
            typed = {"intValue": str(value)}
        elif isinstance(value, float):
            typed = {"doubleValue": value}
        elif isinstance(value, str):
            typed = {"stringValue": value}
        else:
            typed = {"stringValue": json.dumps(value)}
        encoded.append({"key": key, "value": typed})
    return encoded


ADAPTERS: tuple[OtelGenAIAdapter, ...] = (OtelGenAIAdapter(),)
