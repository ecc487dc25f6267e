from __future__ import annotations

from typing import Any

import jwt
import pytest

from auditkit.errors import InputError
from auditkit.models import Outcome
from auditkit.sources.base import RawRecord
from auditkit.sources.mcp import McpAdapter, principal_coverage


def _request(
    message_id: Any, tool: str, *, session: str = "s1", second: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "timestamp": f"2026-03-01T08:00:{second:02d}Z",
        "session_id": session,
        "direction": "request",
        "message": {
            "jsonrpc": "2.0",
            "id": message_id,
            "method": "tools/call",
            "params": {"name": tool, "arguments": {"ticket": message_id}},
        },
    } | extra


def _response(message_id: Any, body: dict[str, Any], *, session: str = "s1") -> dict:
    return {
        "timestamp": "2026-03-01T08:00:30Z",
        "session_id": session,
        "direction": "response",
        "message": {"jsonrpc": "2.0", "id": message_id} | body,
    }


def _stream(lines: list[dict[str, Any]], adapter: McpAdapter | None = None) -> list:
    records = [
        RawRecord("gateway.jsonl", number, line)
        for number, line in enumerate(lines, start=1)
    ]
    return list((adapter or McpAdapter()).map_stream(records))


def _calls(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    items = _stream(lines)
    return {row["call_id"]: row for _, row in items if isinstance(row, dict)}


@pytest.fixture
def interleaved_sessions() -> list[dict[str, Any]]:
    """Two sessions reuse JSON-RPC id 1; responses arrive out of order."""
    return [
        _request(1, "read_ticket", session="s1", principal="alice"),
        _request(1, "delete_ticket", session="s2", principal="bob"),
        _response(
            1, {"error": {"code": 403, "message": "denied by policy"}}, session="s2"
        ),
        _response(1, {"result": {"content": [], "isError": False}}, session="s1"),
    ]


def test_pairs_by_session_and_id(interleaved_sessions: list[dict[str, Any]]) -> None:
    calls = _calls(interleaved_sessions)
    assert calls["s1:1"]["tool"] == "read_ticket"
    assert calls["s1:1"]["outcome"] is Outcome.ALLOWED
    assert calls["s2:1"]["tool"] == "delete_ticket"
    assert calls["s2:1"]["outcome"] is Outcome.DENIED


def test_call_located_at_request_line(
    interleaved_sessions: list[dict[str, Any]],
) -> None:
    lines = {
        row["call_id"]: record.line for record, row in _stream(interleaved_sessions)
    }
    assert lines == {"s2:1": 2, "s1:1": 1}


def test_call_fields_from_request(interleaved_sessions: list[dict[str, Any]]) -> None:
    call = _calls(interleaved_sessions)["s1:1"]
    assert call["subject"] == "alice"
    assert call["arguments"] == {"ticket": 1}
    assert call["ts"] == "2026-03-01T08:00:00Z"
    assert call["session_id"] == "s1"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"result": {"content": []}}, Outcome.ALLOWED),
        ({"result": {"content": [], "isError": True}}, Outcome.ERROR),
        ({"error": {"code": -32603, "message": "Internal error"}}, Outcome.ERROR),
        ({"error": {"code": 403, "message": "no"}}, Outcome.DENIED),
        ({"error": {"code": -32000, "message": "Permission denied"}}, Outcome.DENIED),
    ],
)
def test_response_outcome(body: dict[str, Any], expected: Outcome) -> None:
    (call,) = _calls([_request(5, "t", principal="alice"), _response(5, body)]).values()
    assert call["outcome"] is expected


def test_configured_denied_code() -> None:
    adapter = McpAdapter(denied_error_codes=frozenset({-32001}))
    items = _stream(
        [_request(5, "t"), _response(5, {"error": {"code": -32001, "message": "x"}})],
        adapter,
    )
    assert items[0][1]["outcome"] is Outcome.DENIED


def test_call_without_principal_kept() -> None:
    (call,) = _calls([_request(2, "search"), _response(2, {"result": {}})]).values()
    assert call["tool"] == "search"
    assert "subject" not in call


def test_principal_coverage_counts_subjects() -> None:
    calls = _calls(
        [
            _request(1, "a", principal="alice"),
            _request(2, "b"),
            _response(1, {"result": {}}),
            _response(2, {"result": {}}),
        ]
    )
    assert principal_coverage(calls.values()) == 0.5


def test_principal_coverage_empty_is_none() -> None:
    assert principal_coverage([]) is None


def test_unanswered_request_kept_without_outcome() -> None:
    (call,) = _calls([_request(3, "export_report", principal="alice")]).values()
    assert "outcome" not in call


def test_response_without_request_reported() -> None:
    ((record, error),) = _stream([_response(9, {"result": {}})])
    assert record.line == 1
    assert isinstance(error, InputError)
    assert "response id '9' has no request in session 's1'" in str(error)


def test_other_methods_and_notifications_ignored() -> None:
    lines = [
        {
            "timestamp": "2026-03-01T08:00:00Z",
            "session_id": "s1",
            "message": {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        },
        _response(1, {"result": {"tools": []}}),
        {
            "timestamp": "2026-03-01T08:00:01Z",
            "session_id": "s1",
            "message": {"jsonrpc": "2.0", "method": "notifications/initialized"},
        },
    ]
    assert _stream(lines) == []


def test_principal_object_gives_actor_chain() -> None:
    principal = {
        "sub": "alice",
        "act": {"sub": "triage-agent", "act": {"sub": "planner"}},
    }
    (call,) = _calls([_request(1, "t", principal=principal)]).values()
    assert call["subject"] == "alice"
    assert call["actor"] == "triage-agent"
    assert call["actor_chain"] == ["triage-agent", "planner"]


def test_jwt_in_line_never_stored() -> None:
    claims = {"sub": "alice", "act": {"sub": "agent-9"}, "aud": "crm"}
    token = jwt.encode(claims, "secret-key-that-is-long-enough-for-hs256", "HS256")
    (call,) = _calls([_request(1, "t", authorization=f"Bearer {token}")]).values()
    assert call["subject"] == "alice"
    assert call["actor"] == "agent-9"
    assert call["token_id"].startswith("sha256:")
    assert token not in repr(call)


def test_opaque_token_only_hashed() -> None:
    (call,) = _calls([_request(1, "t", principal="alice", token="opaque123")]).values()
    assert call["subject"] == "alice"
    assert call["token_id"].startswith("sha256:")


def test_exchange_line_maps_alone() -> None:
    line = {
        "timestamp": "2026-03-01T08:00:00Z",
        "session_id": "s7",
        "user": "carol",
        "request": _request(4, "send_mail")["message"],
        "response": {"jsonrpc": "2.0", "id": 4, "result": {"isError": True}},
    }
    (call,) = McpAdapter().map(RawRecord("gateway.jsonl", 1, line))
    assert call["call_id"] == "s7:4"
    assert call["subject"] == "carol"
    assert call["outcome"] is Outcome.ERROR


def test_call_without_session_gets_content_id() -> None:
    line = _request(4, "send_mail")
    del line["session_id"]
    (call,) = McpAdapter().map(RawRecord("gateway.jsonl", 1, line))
    assert call["call_id"].startswith("mcp-")
    assert "session_id" not in call


def test_missing_timestamp_rejected() -> None:
    line = _request(4, "send_mail")
    del line["timestamp"]
    with pytest.raises(InputError, match="field 'timestamp': missing timestamp"):
        list(McpAdapter().map(RawRecord("gateway.jsonl", 1, line)))


def test_line_without_message_rejected() -> None:
    with pytest.raises(InputError, match=r"no JSON-RPC 2\.0 message found"):
        list(McpAdapter().map(RawRecord("gateway.jsonl", 1, {"timestamp": "x"})))


def test_detects_gateway_lines() -> None:
    adapter = McpAdapter()
    assert adapter.detect(_request(1, "t"))
    assert adapter.detect({"message": "text"}) is False


def test_rows_are_canonical(
    interleaved_sessions: list[dict[str, Any]], validated: Any
) -> None:
    assert len(validated(_calls(interleaved_sessions).values())) == 2
