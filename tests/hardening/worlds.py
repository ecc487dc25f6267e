"""A small audit world whose names and values a test can replace with payloads.

Calls (March 2026, UTC), with the values a test may replace in braces:

| call | day | tool | subject | verdict |
| --- | --- | --- | --- | --- |
| c1 | 03-02 | {tool} | {user} | within_scope |
| c2 | 03-03 | crm.delete_ticket | {user} | agent_over_scope |
| c3 | 03-04 | {tool} | bob | user_over_scope |
| c4 | 03-05 | {tool}, its own {resource} | {user} | within_scope (ticket/*) |
| c5 | 03-06 | {tool}.unmapped | {user} | indeterminate |
| c6 | 03-21 | {tool} | {user} | stale_authority |

{user} is deactivated on 03-20, after c6's token was issued on 03-19. Every call's
actor is {agent}, its session {session}, and its arguments hold the ticket
{argument} and a free-text {note}. c6 carries {token} as its token id.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

DEFAULTS = {
    "tool": "crm.read_ticket",
    "user": "alice",
    "agent": "support-agent",
    "argument": "T-100",
    "resource": "ticket/T-200",
    "session": "s-1",
    "note": "customer asked for a refund",
    "token": "tok-1",
}
CALL_IDS = ("c1", "c2", "c3", "c4", "c5", "c6")


def world_records(**values: str) -> dict[str, list[dict[str, Any]]]:
    """Return the world's records by input kind, with ``values`` replacing defaults."""
    unknown = set(values) - set(DEFAULTS)
    if unknown:
        message = f"unknown world values: {sorted(unknown)}"
        raise ValueError(message)
    chosen = DEFAULTS | values
    return {
        "catalog": _catalog(chosen),
        "grants": _grants(chosen),
        "events": [_event(chosen)],
        "coverage": [
            {
                "coverage_id": "cv-march",
                "valid_from": "2026-03-01T00:00:00Z",
                "valid_to": "2026-04-01T00:00:00Z",
            }
        ],
        "calls": _calls(chosen),
    }


def write_world(folder: Path, **values: str) -> None:
    """Write the world as one canonical JSONL file per kind into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind, records in world_records(**values).items():
        lines = [json.dumps(record, ensure_ascii=False) for record in records]
        path = folder / f"{kind}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _catalog(chosen: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "tool": chosen["tool"],
            "action": "crm:ReadTicket",
            "resource_template": "ticket/{ticket}",
            "risk_tier": "read",
            "resource_server": "crm",
        },
        {
            "tool": "crm.delete_ticket",
            "action": "crm:DeleteTicket",
            "resource_template": "ticket/{ticket}",
            "risk_tier": "delete",
            "resource_server": "crm",
        },
    ]


def _grants(chosen: dict[str, str]) -> list[dict[str, Any]]:
    base = {"effect": "allow", "valid_from": "2026-03-01T00:00:00Z"}
    return [
        base
        | {
            "grant_id": "g-user-crm",
            "principal_type": "user",
            "principal_id": chosen["user"],
            "action": "crm:*",
            "resource": "ticket/*",
            "changed_by": "it-admin",
        },
        base
        | {
            "grant_id": "g-agent-read",
            "principal_type": "agent",
            "principal_id": chosen["agent"],
            "action": "crm:ReadTicket",
            "resource": "ticket/*",
            "changed_by": "it-admin",
        },
    ]


def _event(chosen: dict[str, str]) -> dict[str, Any]:
    return {
        "event_id": "e-offboard",
        "ts": "2026-03-20T00:00:00Z",
        "principal_type": "user",
        "principal_id": chosen["user"],
        "event_type": "deactivated",
        "changed_by": "hr-system",
        "detail": chosen["note"],
    }


def _calls(chosen: dict[str, str]) -> list[dict[str, Any]]:
    def call(call_id: str, day: int, **fields: Any) -> dict[str, Any]:
        return {
            "call_id": call_id,
            "ts": f"2026-03-{day:02d}T09:00:00Z",
            "tool": chosen["tool"],
            "subject": chosen["user"],
            "actor": chosen["agent"],
            "arguments": {"ticket": chosen["argument"], "note": chosen["note"]},
            "session_id": chosen["session"],
            "outcome": "allowed",
        } | fields

    return [
        call("c1", 2),
        call("c2", 3, tool="crm.delete_ticket"),
        call("c3", 4, subject="bob"),
        call("c4", 5, action="crm:ReadTicket", resource=chosen["resource"]),
        call("c5", 6, tool=chosen["tool"] + ".unmapped"),
        call(
            "c6",
            21,
            token_id=chosen["token"],
            token_issued_at="2026-03-19T09:00:00Z",
        ),
    ]


def write_calls(path: Path, prefix: str, count: int) -> Path:
    """Write ``count`` valid calls with ids ``{prefix}-000000`` upwards as JSONL."""
    with path.open("w", encoding="utf-8") as file:
        for index in range(count):
            record = {
                "call_id": f"{prefix}-{index:06d}",
                "ts": f"2026-03-{1 + index % 28:02d}T09:00:00Z",
                "tool": "crm.read_ticket",
                "subject": f"user-{index % 50}",
                "actor": "support-agent",
                "arguments": {"ticket": f"T-{index}"},
            }
            file.write(json.dumps(record) + "\n")
    return path
