"""MCP ``tools/call`` exchanges logged by a gateway, as tool calls.

A gateway log is JSONL with one JSON-RPC message per line, wrapped in what the
gateway records: when, which session, and who authenticated. The accepted line shape
(documented with examples in ``docs/formats/mcp.md``)::

    {"timestamp": "2026-03-01T08:00:00Z", "session_id": "s1",
     "direction": "request", "principal": {"sub": "alice", "act": {"sub": "agent"}},
     "message": {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                 "params": {"name": "search", "arguments": {"q": "x"}}}}

Requests and responses are paired by (session, JSON-RPC id), so
:meth:`McpAdapter.map_stream` must see a whole file. A line may also hold both
sides of one exchange under ``request`` and ``response``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
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
from auditkit.sources.tokens import (
    SignatureStatus,
    decode_token,
    token_from_claims,
    token_hash_id,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from pathlib import Path

    from auditkit.sources.base import RawRecord

logger = logging.getLogger(__name__)

FORMAT_NAME = "mcp"
TOOLS_CALL = "tools/call"
MESSAGE_KEYS = ("message", "payload", "jsonrpc_message")
TIME_KEYS = ("timestamp", "time", "ts", "@timestamp")
SESSION_KEYS = ("session_id", "sessionId", "mcp_session_id", "Mcp-Session-Id")
PRINCIPAL_KEYS = ("principal", "auth", "user", "subject")
TOKEN_KEYS = ("token", "access_token", "authorization")
CLAIMS_KEYS = ("claims", "token_claims")
CLIENT_KEYS = ("client_id", "agent", "agent_id")
HTTP_STATUS_KEYS = ("http_status", "status")
# JSON-RPC and MCP define no authorization error code, so gateways differ. These
# defaults are HTTP's 401 and 403, as some gateways put them in error.code; pass
# denied_error_codes for yours. Messages matching DENIED_MESSAGE also count.
DEFAULT_DENIED_CODES = frozenset({401, 403, -32401, -32403})
DENIED_MESSAGE = re.compile(
    r"\b(forbidden|unauthori[sz]ed|not authori[sz]ed|permission denied"
    r"|access denied)\b",
    re.IGNORECASE,
)
DENIED_HTTP_STATUS = frozenset({401, 403})


@dataclass
class _Pending:
    record: RawRecord
    line: dict[str, Any]
    message: dict[str, Any]


@dataclass(frozen=True)
class McpAdapter:
    """Maps MCP ``tools/call`` request and response pairs onto ToolCall dictionaries.

    Parameters
    ----------
    denied_error_codes
        JSON-RPC ``error.code`` values that mean the call was refused.
    jwks
        A JSON Web Key Set (mapping or file path) to check the signature of tokens
        carried in the log. A token with an invalid signature quarantines its call.

    Examples
    --------
    >>> from auditkit.sources.base import RawRecord
    >>> request = {"timestamp": "2026-03-01T08:00:00Z", "session_id": "s1",
    ...            "principal": "alice",
    ...            "message": {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
    ...                        "params": {"name": "search", "arguments": {}}}}
    >>> response = {"timestamp": "2026-03-01T08:00:01Z", "session_id": "s1",
    ...             "message": {"jsonrpc": "2.0", "id": 1,
    ...                         "error": {"code": 403, "message": "forbidden"}}}
    >>> records = [RawRecord("m.jsonl", 1, request), RawRecord("m.jsonl", 2, response)]
    >>> rows = [row for _, row in McpAdapter().map_stream(records)]
    >>> [(row["call_id"], row["subject"], str(row["outcome"])) for row in rows]
    [('s1:1', 'alice', 'denied')]
    """

    denied_error_codes: frozenset[int] = DEFAULT_DENIED_CODES
    jwks: Mapping[str, Any] | str | Path | None = None
    name: str = FORMAT_NAME
    kind: InputKind = InputKind.CALLS

    def detect(self, sample: Any) -> bool:
        """Return whether ``sample`` is a gateway line holding a JSON-RPC message."""
        if not isinstance(sample, dict):
            return False
        if _is_jsonrpc(sample.get("request")):
            return True
        return any(_is_jsonrpc(sample.get(key)) for key in MESSAGE_KEYS) or (
            _is_jsonrpc(sample) and any(key in sample for key in TIME_KEYS)
        )

    def map(self, record: RawRecord) -> Iterator[dict[str, Any]]:
        """Map one line on its own: an exchange line, or a request without outcome.

        Raises
        ------
        InputError
            If the line is not a gateway message, or is a lone response.
        """
        return iter(raise_first_error(self.map_stream([record])))

    def map_stream(self, records: Iterable[RawRecord]) -> Iterator[StreamItem]:
        """Pair the requests and responses of a whole file and map each call.

        A ``tools/call`` request with no response is kept with no outcome. A
        response with no request in the file is reported as an error.
        """
        pending: dict[tuple[str | None, str], _Pending] = {}
        for record in records:
            try:
                yield from self._read_line(record, pending)
            except InputError as error:
                yield record, error
        for item in pending.values():
            if item.message.get("method") == TOOLS_CALL:
                yield self._emit(item, None, None)

    def _read_line(
        self, record: RawRecord, pending: dict[tuple[str | None, str], _Pending]
    ) -> Iterator[StreamItem]:
        line = record.value
        if not isinstance(line, dict):
            reason = f"expected a JSON object, got {type(line).__name__}"
            raise record_error(record, reason)
        if isinstance(line.get("request"), dict):
            request = _Pending(record, line, _message_of(line["request"], record))
            response = line.get("response")
            if request.message.get("method") == TOOLS_CALL:
                yield self._emit(
                    request, response if isinstance(response, dict) else None, line
                )
            return

        message = _message_of(_find_message(line), record)
        message_id = _message_id(message)
        session = _first_text(line, SESSION_KEYS)
        if "method" in message:
            if message_id is None:
                return  # a notification: no response follows and it is no call
            key = (session, message_id)
            if key in pending and pending[key].message.get("method") == TOOLS_CALL:
                logger.warning("request id %s reused before its response", message_id)
                yield self._emit(pending.pop(key), None, None)
            pending[key] = _Pending(record, line, message)
            return

        if message_id is None or (session, message_id) not in pending:
            reason = f"response id {message_id!r} has no request in session {session!r}"
            hint = "load the file that holds the request together with this one"
            raise record_error(record, reason, field="message.id", hint=hint)
        request = pending.pop((session, message_id))
        if request.message.get("method") == TOOLS_CALL:
            yield self._emit(request, message, line)

    def _emit(
        self,
        request: _Pending,
        response: dict[str, Any] | None,
        response_line: dict[str, Any] | None,
    ) -> StreamItem:
        try:
            return request.record, self._call(request, response, response_line)
        except InputError as error:
            return request.record, error

    def _call(
        self,
        request: _Pending,
        response: dict[str, Any] | None,
        response_line: dict[str, Any] | None,
    ) -> dict[str, Any]:
        record, line, message = request.record, request.line, request.message
        params = message.get("params")
        if not isinstance(params, dict):
            params = {}
        tool = text_or_none(params.get("name"))
        if tool is None:
            raise record_error(record, "missing tool name", field="message.params.name")
        arguments = params.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            reason = f"expected an object, got {type(arguments).__name__}"
            raise record_error(record, reason, field="message.params.arguments")

        session = _first_text(line, SESSION_KEYS)
        message_id = _message_id(message)
        call: dict[str, Any] = {
            "call_id": f"{session}:{message_id}"
            if session
            else content_id("mcp", line),
            "ts": _line_time(line, record),
            "tool": tool,
            "arguments": arguments,
            "outcome": self.outcome(response, response_line),
            "session_id": session,
            "resource_server": text_or_none(line.get("server")),
        }
        call |= self._principal_fields(line, record, call["resource_server"])
        return {key: value for key, value in call.items() if value is not None}

    def outcome(
        self, response: dict[str, Any] | None, line: dict[str, Any] | None = None
    ) -> Outcome | None:
        """Return the outcome a response records, or ``None`` without a response.

        Examples
        --------
        >>> adapter = McpAdapter()
        >>> str(adapter.outcome({"result": {"content": [], "isError": True}}))
        'error'
        >>> str(adapter.outcome({"error": {"code": -32001, "message": "Forbidden"}}))
        'denied'
        """
        status = _first_int(line or {}, HTTP_STATUS_KEYS)
        if status in DENIED_HTTP_STATUS:
            return Outcome.DENIED
        if response is None:
            return None
        error = response.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            text = str(error.get("message") or "")
            denied_code = isinstance(code, int) and code in self.denied_error_codes
            if denied_code or DENIED_MESSAGE.search(text):
                return Outcome.DENIED
            return Outcome.ERROR
        result = response.get("result")
        if isinstance(result, dict) and result.get("isError") is True:
            return Outcome.ERROR
        return Outcome.ALLOWED

    def _principal_fields(
        self, line: dict[str, Any], record: RawRecord, server: str | None
    ) -> dict[str, Any]:
        fields = _named_principal(line, record, server)
        token = _first_text(line, TOKEN_KEYS)
        if token is None:
            return fields
        token = token.strip().removeprefix("Bearer ").strip()
        if token.count(".") != 2:
            # An opaque token carries no claims; only its hash is kept.
            return fields | {"token_id": token_hash_id(token)}

        info = decode_token(token, jwks=self.jwks, record=record)
        if info.signature is SignatureStatus.INVALID:
            reason = f"token signature is invalid: {info.signature_error}"
            hint = "check the JWKS file, or load without jwks to skip the check"
            raise record_error(record, reason, field="token", hint=hint)
        return fields | info.call_fields(server)


def _named_principal(
    line: dict[str, Any], record: RawRecord, server: str | None
) -> dict[str, Any]:
    # The gateway's principal: an object shaped like token claims, or a plain name.
    claims = next(
        (line[key] for key in CLAIMS_KEYS if isinstance(line.get(key), dict)), None
    )
    principal = next((line[key] for key in PRINCIPAL_KEYS if key in line), None)
    if isinstance(principal, dict):
        claims = principal
    if claims is not None:
        return token_from_claims(claims, record).call_fields(server)

    fields: dict[str, Any] = {}
    subject = text_or_none(principal)
    if subject is not None:
        fields["subject"] = subject
    client = _first_text(line, CLIENT_KEYS)
    if client is not None:
        fields |= {"actor": client, "actor_chain": [client]}
    return fields


def principal_coverage(calls: Iterable[Mapping[str, Any]]) -> float | None:
    """Return the share of calls that carry an authenticated principal (a subject).

    Returns ``None`` when there are no calls.

    Examples
    --------
    >>> principal_coverage([{"subject": "alice"}, {"subject": None}, {}])
    0.3333333333333333
    """
    total = 0
    with_subject = 0
    for call in calls:
        total += 1
        if call.get("subject"):
            with_subject += 1
    return with_subject / total if total else None


def _is_jsonrpc(value: Any) -> bool:
    return isinstance(value, dict) and value.get("jsonrpc") == "2.0"


def _find_message(line: dict[str, Any]) -> Any:
    for key in MESSAGE_KEYS:
        if key in line:
            return line[key]
    return line  # the JSON-RPC members written at the top level of the line


def _message_of(value: Any, record: RawRecord) -> dict[str, Any]:
    if not _is_jsonrpc(value):
        reason = "no JSON-RPC 2.0 message found"
        hint = f"put the message under one of {', '.join(MESSAGE_KEYS)}"
        raise record_error(record, reason, field="message", hint=hint)
    message: dict[str, Any] = value
    return message


def _message_id(message: dict[str, Any]) -> str | None:
    # NOTE: JSON-RPC treats the number 7 and the text "7" as different ids, but both
    # give the key "7" here, so a client mixing them in one session pairs wrongly.
    value = message.get("id")
    if isinstance(value, bool) or value is None:
        return None
    return str(value)


def _line_time(line: dict[str, Any], record: RawRecord) -> str:
    for key in TIME_KEYS:
        if line.get(key):
            return iso_timestamp(line[key], record, key)
    raise record_error(record, "missing timestamp", field=TIME_KEYS[0])


def _first_text(line: dict[str, Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = text_or_none(line.get(key))
        if value is not None:
            return value
    return None


def _first_int(line: dict[str, Any], keys: Iterable[str]) -> int | None:
    for key in keys:
        value = line.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


ADAPTERS: tuple[McpAdapter, ...] = (McpAdapter(),)
