"""Planted drift facts: scope expansion, unused grants, ceiling breach, offboardings."""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from auditkit.demo.organisation import AGENT_PURPOSES, Organisation
from auditkit.demo.records import CallRow, GrantRow, format_instant
from auditkit.models import Effect, PrincipalType

if TYPE_CHECKING:
    from collections.abc import Iterable

    from auditkit.demo.incidents import Incidents

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_FAR_FUTURE = datetime.max


@cache
def glob_pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """Compile a grant pattern: ``*`` is any run of characters, ``?`` one character.

    Examples
    --------
    >>> bool(glob_pattern("crm:Read*", True).fullmatch("CRM:readticket"))
    True
    >>> bool(glob_pattern("crm:ticket/*", False).fullmatch("CRM:Ticket/1"))
    False
    """
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


def required_permission(
    call: CallRow, templates: dict[str, tuple[str, str]]
) -> tuple[str, str] | None:
    """Return the action and resource a call needs, or ``None`` when undecidable."""
    template = templates.get(call.tool)
    action = call.action or (template[0] if template else None)
    resource = call.resource
    if resource is None and template is not None:
        resource = _fill(template[1], call.arguments or {})
    if action is None or resource is None:
        return None
    return action, resource


def _fill(template: str, arguments: dict[str, Any]) -> str | None:
    names = _PLACEHOLDER.findall(template)
    if any(name not in arguments for name in names):
        return None

    def text(match: re.Match[str]) -> str:
        value = arguments[match.group(1)]
        return value if isinstance(value, str) else json.dumps(value)

    return _PLACEHOLDER.sub(text, template)


def agent_grant_reach(
    org: Organisation, agent: str
) -> list[tuple[GrantRow, datetime, datetime]]:
    """Return each allow grant reaching ``agent`` with the span over which it reaches.

    The span is the grant's interval intersected with every link of the membership
    chain that carries it (agent in role, role in role).
    """
    reached: list[tuple[GrantRow, datetime, datetime]] = []
    for principal, start, end in _principals_reached(org, (PrincipalType.AGENT, agent)):
        for grant in org.grants:
            if (grant.principal_type, grant.principal_id) != principal:
                continue
            if grant.effect is not Effect.ALLOW:
                continue
            span_start = max(start, grant.valid_from)
            span_end = min(end, grant.valid_to or _FAR_FUTURE)
            if span_start < span_end:
                reached.append((grant, span_start, span_end))
    return reached


def _principals_reached(
    org: Organisation, origin: tuple[PrincipalType, str]
) -> list[tuple[tuple[PrincipalType, str], datetime, datetime]]:
    found = [(origin, datetime.min, _FAR_FUTURE)]
    queue = list(found)
    while queue:
        principal, start, end = queue.pop(0)
        for membership in org.memberships:
            if (membership.member_type, membership.member_id) != principal:
                continue
            link_start = max(start, membership.valid_from)
            link_end = min(end, membership.valid_to or _FAR_FUTURE)
            if link_start < link_end:
                parent = (membership.parent_type, membership.parent_id)
                found.append((parent, link_start, link_end))
                queue.append((parent, link_start, link_end))
    return found


def unused_grants(
    org: Organisation, calls: Iterable[CallRow], within_scope: set[str]
) -> dict[str, list[str]]:
    """Return, per agent, the allow grants it holds but no call of the period uses.

    A grant is used when some allowed ``within_scope`` call by the agent (its id is in
    ``within_scope``), inside the period and at an instant when the grant reaches the
    agent, needs a permission that the grant's patterns match. Calls with other
    verdicts or outcomes exercise no scope, so a grant matched only by them is unused.
    """
    templates = {e.tool: (e.action, e.resource_template) for e in org.catalog}
    start, end = org.clock.start, org.clock.end
    needs: dict[str, list[tuple[datetime, str, str]]] = {a: [] for a in AGENT_PURPOSES}
    for call in calls:
        permission = required_permission(call, templates)
        counted = call.call_id in within_scope and start <= call.ts < end
        if call.actor in needs and permission is not None and counted:
            needs[call.actor].append((call.ts, *permission))

    unused: dict[str, list[str]] = {}
    for agent in sorted(AGENT_PURPOSES):
        idle = set()
        for grant, reach_start, reach_end in agent_grant_reach(org, agent):
            span_start, span_end = max(reach_start, start), min(reach_end, end)
            if span_start >= span_end:
                continue
            if not _used(grant, span_start, span_end, needs[agent]):
                idle.add(grant.grant_id)
        unused[agent] = sorted(idle)
    return unused


def _used(
    grant: GrantRow,
    span_start: datetime,
    span_end: datetime,
    needs: list[tuple[datetime, str, str]],
) -> bool:
    action = glob_pattern(grant.action, True)
    resource = glob_pattern(grant.resource, False)
    for ts, needed_action, needed_resource in needs:
        in_span = span_start <= ts < span_end
        if (
            in_span
            and action.fullmatch(needed_action)
            and resource.fullmatch(needed_resource)
        ):
            return True
    return False


def drift_facts(
    org: Organisation,
    incidents: Incidents,
    calls: Iterable[CallRow],
    within_scope: set[str],
) -> dict[str, Any]:
    """Return the planted drift facts, the content of ``ground_truth_drift.json``."""
    expansion = org.named_grants["ledger_expansion"]
    return {
        "period": {
            "start": format_instant(org.clock.start),
            "end": format_instant(org.clock.end),
        },
        "scope_expansion": {
            "agent": expansion.principal_id,
            "grant_id": expansion.grant_id,
            "action": expansion.action,
            "resource": expansion.resource,
            "at": format_instant(expansion.valid_from),
            "changed_by": expansion.changed_by,
            "event_id": org.named_events["ledger_expansion"].event_id,
        },
        "unused_grants": unused_grants(org, calls, within_scope),
        "ceiling_breach": _ceiling_breach(org),
        "offboardings": _offboardings(org, incidents),
    }


def _ceiling_breach(org: Organisation) -> dict[str, Any]:
    lacking = [
        org.named_grants["agent_export_table"],
        org.named_grants["agent_share_external"],
    ]
    return {
        "agent": "data-export-agent",
        "user": "omar.haddad",
        "permissions": [
            {"grant_id": g.grant_id, "action": g.action, "resource": g.resource}
            for g in lacking
        ],
        "from": format_instant(org.clock.start),
        "to": format_instant(org.clock.end),
    }


def _offboardings(org: Organisation, incidents: Incidents) -> list[dict[str, Any]]:
    facts = []
    for user, event_name, incident in (
        ("sofia.marin", "sofia_leaves", "offboard-sofia"),
        ("priya.raman", "priya_leaves", "offboard-priya"),
        ("daniel.mensah", "daniel_leaves", "offboard-daniel"),
    ):
        event = org.named_events[event_name]
        planted = [p.call for p in incidents.planted if p.incident == incident]
        after = [call for call in planted if call.ts > event.ts]
        token = incidents.tokens[after[0].token_id or ""]
        facts.append(
            {
                "user": user,
                "event_id": event.event_id,
                "deactivated_at": format_instant(event.ts),
                "changed_by": event.changed_by,
                "token_id": token.token_id,
                "token_issued_at": format_instant(token.issued_at),
                "call_ids": [call.call_id for call in after],
            }
        )
    return facts
