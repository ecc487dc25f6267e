"""Arbitrary JSON never crashes an adapter: it maps or raises InputError."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.errors import InputError
from auditkit.sources.base import RawRecord
from auditkit.sources.cloudtrail import CloudTrailAdapter
from auditkit.sources.gcp import GcpAuditAdapter
from auditkit.sources.mcp import McpAdapter
from auditkit.sources.otel import OtelGenAIAdapter

KEYS = st.sampled_from(
    [
        "Records",
        "Events",
        "CloudTrailEvent",
        "eventTime",
        "eventName",
        "eventSource",
        "eventID",
        "userIdentity",
        "type",
        "sessionContext",
        "sessionIssuer",
        "arn",
        "errorCode",
        "resources",
        "requestParameters",
        "protoPayload",
        "methodName",
        "authenticationInfo",
        "authorizationInfo",
        "timestamp",
        "insertId",
        "data",
        "resourceSpans",
        "scopeSpans",
        "spans",
        "attributes",
        "context",
        "trace_id",
        "span_id",
        "traceId",
        "spanId",
        "start_time",
        "startTimeUnixNano",
        "message",
        "jsonrpc",
        "id",
        "method",
        "params",
        "result",
        "error",
        "session_id",
        "principal",
        "token",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["2.0", "tools/call", "execute_tool", "2026-03-01T08:00:00Z"]),
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(KEYS | st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=30,
)
ADAPTERS: list[Any] = [
    CloudTrailAdapter(),
    GcpAuditAdapter(),
    McpAdapter(),
    OtelGenAIAdapter(),
]


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda adapter: adapter.name)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON)
def test_arbitrary_json_maps_or_raises_input_error(adapter: Any, value: Any) -> None:
    adapter.detect(value)
    with contextlib.suppress(InputError):
        list(adapter.map(RawRecord("fuzz.json", 1, value)))
