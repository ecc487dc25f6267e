from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from auditkit.errors import InputError
from auditkit.models import Outcome
from auditkit.sources.base import RawRecord
from auditkit.sources.otel import OtelGenAIAdapter, otlp_attribute_list

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

TRACE = "5b8efff798038103d269b633813fc60c"
AGENT_SPAN = "eee19b7ec3c1b174"
TOOL_SPAN = "eee19b7ec3c1b173"


def _otlp_export(tool_attributes: dict[str, Any], *, error: bool = False) -> dict:
    """One trace: an invoke_agent span for alice and one execute_tool child."""
    agent = {
        "traceId": TRACE,
        "spanId": AGENT_SPAN,
        "name": "invoke_agent support",
        "startTimeUnixNano": "1772352000000000000",
        "attributes": otlp_attribute_list(
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.id": "support-agent",
                "enduser.id": "alice",
                "gen_ai.system": "openai",
            }
        ),
    }
    tool = {
        "traceId": TRACE,
        "spanId": TOOL_SPAN,
        "parentSpanId": AGENT_SPAN,
        "name": "execute_tool lookup_ticket",
        "startTimeUnixNano": "1772352001123456789",
        "attributes": otlp_attribute_list(tool_attributes),
        "status": {"code": 2, "message": "boom"} if error else {"code": 1},
    }
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": otlp_attribute_list({"service.name": "x"})},
                "scopeSpans": [{"scope": {"name": "genai"}, "spans": [tool, agent]}],
            }
        ]
    }


def _tool_attributes(arguments: Any) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "lookup_ticket",
        "gen_ai.tool.call.id": "call_1",
        "gen_ai.tool.call.arguments": arguments,
    }


def _map(value: Any) -> list[dict[str, Any]]:
    return list(OtelGenAIAdapter().map(RawRecord("trace.json", 1, value)))


def test_arguments_text_and_object_same_call() -> None:
    as_text = _otlp_export(_tool_attributes('{"ticket": 7, "full": true}'))
    as_object = _otlp_export(_tool_attributes("placeholder"))
    spans = as_object["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans[0]["attributes"][3]["value"] = {
        "kvlistValue": {
            "values": [
                {"key": "ticket", "value": {"intValue": "7"}},
                {"key": "full", "value": {"boolValue": True}},
            ]
        }
    }
    assert _map(as_text) == _map(as_object)


def test_sdk_arguments_text_and_object_same_call() -> None:
    as_text = _sdk_span(TOOL_SPAN, None, _tool_attributes('{"ticket": 7}'), 0)
    as_object = _sdk_span(TOOL_SPAN, None, _tool_attributes({"ticket": 7}), 0)
    assert _map(as_text) == _map(as_object)


def test_otlp_tool_span_maps_to_call() -> None:
    (call,) = _map(_otlp_export(_tool_attributes('{"ticket": 7}')))
    assert call["call_id"] == "call_1"
    assert call["tool"] == "lookup_ticket"
    assert call["arguments"] == {"ticket": 7}
    assert call["subject"] == "alice"
    assert call["actor"] == "support-agent"
    assert call["outcome"] is Outcome.ALLOWED


def test_nanosecond_start_keeps_microseconds() -> None:
    (call,) = _map(_otlp_export(_tool_attributes("{}")))
    assert call["ts"] == "2026-03-01T08:00:01.123456Z"


def test_parent_agent_span_gives_session() -> None:
    (call,) = _map(_otlp_export(_tool_attributes("{}")))
    assert call["session_id"] == AGENT_SPAN
    assert call["session_started_at"] == "2026-03-01T08:00:00Z"


def test_error_status_gives_error_outcome() -> None:
    (call,) = _map(_otlp_export(_tool_attributes("{}"), error=True))
    assert call["outcome"] is Outcome.ERROR


def test_older_args_attribute_accepted() -> None:
    attributes = _tool_attributes(None)
    del attributes["gen_ai.tool.call.arguments"]
    attributes["gen_ai.tool.args"] = '{"ticket": 7}'
    (call,) = _map(_otlp_export(attributes))
    assert call["arguments"] == {"ticket": 7}


def test_configured_user_attribute() -> None:
    attributes = _tool_attributes("{}") | {"app.user_email": "bob@example.com"}
    adapter = OtelGenAIAdapter(user_attributes=("app.user_email",))
    (call,) = adapter.map(RawRecord("trace.json", 1, _otlp_export(attributes)))
    assert call["subject"] == "bob@example.com"


def test_call_id_falls_back_to_span_id() -> None:
    attributes = _tool_attributes("{}")
    del attributes["gen_ai.tool.call.id"]
    (call,) = _map(_otlp_export(attributes))
    assert call["call_id"] == TOOL_SPAN


def test_no_parent_session_is_trace_id() -> None:
    export = _otlp_export(_tool_attributes("{}"))
    spans = export["resourceSpans"][0]["scopeSpans"][0]["spans"]
    del spans[0]["parentSpanId"]
    (call,) = _map(export)
    assert call["session_id"] == TRACE
    assert "actor" not in call


def test_base64_ids_read_as_hex() -> None:
    export = _otlp_export(_tool_attributes("{}"))
    spans = export["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans[0]["spanId"] = "7uGbfsPBsXM="
    spans[0]["attributes"] = [
        item for item in spans[0]["attributes"] if item["key"] != "gen_ai.tool.call.id"
    ]
    (call,) = _map(export)
    assert call["call_id"] == TOOL_SPAN


def test_invalid_arguments_text_rejected() -> None:
    export = _otlp_export(_tool_attributes("{not json"))
    with pytest.raises(
        InputError, match=r"gen_ai\.tool\.call\.arguments.*invalid JSON"
    ):
        _map(export)


def test_missing_tool_name_rejected() -> None:
    attributes = _tool_attributes("{}")
    del attributes["gen_ai.tool.name"]
    export = _otlp_export(attributes)
    export["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"] = "execute_tool"
    with pytest.raises(InputError, match="missing tool name"):
        _map(export)


def test_not_a_span_rejected() -> None:
    with pytest.raises(InputError, match="not an OpenTelemetry span"):
        _map({"hello": "world"})


def _sdk_span(span_id: str, parent: str | None, attributes: dict, start: Any) -> dict:
    """A span as the Python SDK's ReadableSpan.to_json writes it."""
    return {
        "name": attributes.get("gen_ai.operation.name", ""),
        "context": {"trace_id": "0x" + TRACE, "span_id": "0x" + span_id},
        "parent_id": None if parent is None else "0x" + parent,
        "start_time": start,
        "status": {"status_code": "UNSET"},
        "attributes": attributes,
    }


def test_sdk_spans_across_lines_resolved_by_stream() -> None:
    tool = _sdk_span(
        TOOL_SPAN,
        AGENT_SPAN,
        _tool_attributes({"ticket": 7}),
        "2026-03-01T08:00:01.5Z",
    )
    agent = _sdk_span(
        AGENT_SPAN,
        None,
        {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support"},
        "2026-03-01T08:00:00Z",
    )
    records = [RawRecord("spans.jsonl", 1, tool), RawRecord("spans.jsonl", 2, agent)]
    ((record, call),) = OtelGenAIAdapter().map_stream(records)
    assert record.line == 1
    assert call["actor"] == "support"
    assert call["session_id"] == AGENT_SPAN
    assert call["ts"] == "2026-03-01T08:00:01.500000Z"


def test_detects_both_shapes() -> None:
    adapter = OtelGenAIAdapter()
    assert adapter.detect(_otlp_export(_tool_attributes("{}")))
    assert adapter.detect({"spans": [_sdk_span(TOOL_SPAN, None, {}, 0)]}) is False
    assert adapter.detect(_sdk_span(TOOL_SPAN, None, _tool_attributes("{}"), 0))


def test_rows_are_canonical(validated: Callable[..., list[Any]]) -> None:
    validated(_map(_otlp_export(_tool_attributes('{"ticket": 7}'))))


@pytest.mark.shared_data
def test_recorded_agent_traces(
    sample_file: Callable[[str], Path], map_one_by_one: Callable[..., tuple]
) -> None:
    folder = sample_file("otel_genai")
    records = [
        RawRecord(str(path), 1, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(folder.glob("*.json"))
    ]
    assert map_one_by_one(OtelGenAIAdapter(), records) == (4, 0, 9)


@pytest.mark.shared_data
def test_recorded_trace_call_fields(sample_file: Callable[[str], Path]) -> None:
    path = sample_file("otel_genai/AGNO_trace.json")
    value = json.loads(path.read_text(encoding="utf-8"))
    first, second = _map(value)
    assert first["call_id"] == "LlAGPjfO0"
    assert first["tool"] == "get_current_time"
    assert first["arguments"] == {"timezone": "America/New_York"}
    assert first["actor"] == "any_agent"
    assert second["session_id"] == first["session_id"]
