"""Reference evaluator: docs/semantics.md as plain loops over the raw input records.

Used only by tests, to check the engine in ``auditkit.evaluate``. It imports nothing of
the engine: the glob matcher, the membership walk, lifecycle state, coverage and every
rule are written here again, as directly as the rule book states them and with no
attention to speed. Only the code vocabularies (``auditkit.models`` enums) are shared.

Records are plain dicts (or the pydantic models of ``auditkit.models``) with naive UTC
datetimes, as the workspace stores them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from auditkit.models import Flag, Severity

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

Principal = tuple[str, str]
Record = dict[str, Any]

VIOLATIONS = frozenset({"stale_authority", "user_over_scope", "agent_over_scope"})

_INACTIVATING = frozenset({"deactivated", "suspended"})
_STATE_EVENTS = _INACTIVATING | {"reactivated"}
_TIER_SEVERITY = {
    "read": "medium",
    "write": "high",
    "export": "high",
    "external": "high",
    "delete": "critical",
    "admin": "critical",
}
_SEVERITIES = [severity.value for severity in Severity]


def _normalise_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def normalise_record(record: Mapping[str, Any] | BaseModel) -> Record:
    """Return a record as a plain dict: enum values, naive UTC datetimes."""
    raw = record.model_dump() if isinstance(record, BaseModel) else dict(record)
    return {name: _normalise_value(value) for name, value in raw.items()}


def _records(records: Iterable[Mapping[str, Any] | BaseModel]) -> tuple[Record, ...]:
    return tuple(normalise_record(record) for record in records)


@dataclass(frozen=True)
class World:
    """All inputs of one evaluation: the six canonical record kinds."""

    calls: tuple[Record, ...] = ()
    grants: tuple[Record, ...] = ()
    memberships: tuple[Record, ...] = ()
    events: tuple[Record, ...] = ()
    catalog: tuple[Record, ...] = ()
    coverage: tuple[Record, ...] = ()

    @classmethod
    def of(
        cls,
        *,
        calls: Iterable[Mapping[str, Any] | BaseModel] = (),
        grants: Iterable[Mapping[str, Any] | BaseModel] = (),
        memberships: Iterable[Mapping[str, Any] | BaseModel] = (),
        events: Iterable[Mapping[str, Any] | BaseModel] = (),
        catalog: Iterable[Mapping[str, Any] | BaseModel] = (),
        coverage: Iterable[Mapping[str, Any] | BaseModel] = (),
    ) -> World:
        """Build a world from dicts or models, normalising every record."""
        return cls(
            calls=_records(calls),
            grants=_records(grants),
            memberships=_records(memberships),
            events=_records(events),
            catalog=_records(catalog),
            coverage=_records(coverage),
        )

    def with_grant(self, grant: Mapping[str, Any] | BaseModel) -> World:
        """Return a copy of this world with one more grant."""
        return replace(self, grants=(*self.grants, normalise_record(grant)))


@dataclass(frozen=True)
class FindingRow:
    """The reference's finding for one call."""

    call_id: str
    verdict: str
    reason: str
    user_result: str
    user_reason: str | None
    agent_result: str
    agent_reason: str | None
    certainty: str
    severity: str
    flags: str
    action: str | None = None
    resource: str | None = None


@dataclass(frozen=True)
class WindowRow:
    """The reference's stale-authority window."""

    subject: str
    actor: str | None
    revoked_at: datetime
    revocation_source: str
    revocation_kind: str
    first_call_id: str
    last_call_id: str
    first_call_at: datetime
    last_call_at: datetime
    calls: int
    resources: str
    duration_seconds: float


@dataclass(frozen=True)
class Evaluation:
    """Findings (one per call, sorted by call id) and stale windows of a world."""

    findings: list[FindingRow]
    windows: list[WindowRow]

    def by_call(self) -> dict[str, FindingRow]:
        """Return the findings keyed by call id."""
        return {row.call_id: row for row in self.findings}


# --- patterns ---------------------------------------------------------------------


def glob_match(pattern: str, text: str) -> bool:
    """Return whether ``text`` matches ``pattern``: ``*`` any run, ``?`` one character.

    Every other character is literal; there are no classes and no escapes.

    Examples
    --------
    >>> glob_match("doc/*", "doc/")
    True
    >>> glob_match("doc/?", "doc/ab")
    False
    >>> glob_match("[ab]", "a")
    False
    """
    # matched[i][j]: the first i pattern characters match the first j text characters.
    matched = [[False] * (len(text) + 1) for _ in range(len(pattern) + 1)]
    matched[0][0] = True
    for i in range(1, len(pattern) + 1):
        symbol = pattern[i - 1]
        for j in range(len(text) + 1):
            if symbol == "*":
                matched[i][j] = matched[i - 1][j] or (j > 0 and matched[i][j - 1])
            elif j > 0 and (symbol == "?" or symbol == text[j - 1]):
                matched[i][j] = matched[i - 1][j - 1]
    return matched[len(pattern)][len(text)]


def action_matches(
    pattern: str, action: str, case_sensitive: Iterable[str] = ()
) -> bool:
    """Return whether an action pattern matches an action, by the namespace rule."""
    namespace = action.split(":", 1)[0]
    if namespace in set(case_sensitive):
        return glob_match(pattern, action)
    return glob_match(pattern.lower(), action.lower())


# --- intervals --------------------------------------------------------------------


def _covers(start: datetime | None, end: datetime | None, instant: datetime) -> bool:
    after_start = start is None or start <= instant
    before_end = end is None or instant < end
    return after_start and before_end


def _is_empty(start: datetime | None, end: datetime | None) -> bool:
    return start is not None and end is not None and end <= start


def _later(first: datetime | None, second: datetime | None) -> datetime | None:
    if first is None:
        return second
    if second is None:
        return first
    return max(first, second)


def _earlier(first: datetime | None, second: datetime | None) -> datetime | None:
    if first is None:
        return second
    if second is None:
        return first
    return min(first, second)


@dataclass(frozen=True)
class _Chain:
    """A simple path of memberships from a principal up to ``holder``."""

    holder: Principal
    start: datetime | None
    end: datetime | None
    links: tuple[Record, ...]


@dataclass(frozen=True)
class _Reach:
    """A matching grant as it reaches a principal through one chain."""

    grant: Record
    start: datetime
    end: datetime | None
    records: tuple[Record, ...]

    def earliest_start(self) -> datetime:
        """Return the latest of the records' earliest possible starts."""
        return max(
            record.get("valid_from_earliest") or record["valid_from"]
            for record in self.records
        )

    def earliest_end(self) -> datetime | None:
        """Return the earliest of the records' earliest possible ends (None: open)."""
        ends = [
            record.get("valid_to_earliest") or record.get("valid_to")
            for record in self.records
        ]
        known = [end for end in ends if end is not None]
        return min(known) if known else None

    def uncertain_at(self, instant: datetime) -> bool:
        """Return whether only snapshots bracket a start or end around ``instant``."""
        inside_start = self.earliest_start() < instant < self.start
        earliest_end = self.earliest_end()
        inside_end = (
            earliest_end is not None
            and earliest_end < instant
            and (self.end is None or instant < self.end)
        )
        return inside_start or inside_end


@dataclass(frozen=True)
class _Need:
    """What a call needs, or the undecided reason that stops its evaluation."""

    action: str | None
    resource: str | None
    reason: str | None
    entry: Record | None


@dataclass(frozen=True)
class _Side:
    result: str
    reason: str | None


@dataclass(frozen=True)
class _Candidate:
    """An instant at which the user lost authority, and the record behind it."""

    instant: datetime
    kind: str
    source: str


def _latest(candidates: list[_Candidate]) -> _Candidate:
    """Return the latest candidate; on a tie an event, then the smallest id."""
    latest = max(candidate.instant for candidate in candidates)
    tied = [candidate for candidate in candidates if candidate.instant == latest]
    events = [candidate for candidate in tied if candidate.kind == "event"]
    return min(events or tied, key=lambda candidate: candidate.source)


def _record_id(record: Record) -> tuple[str, str]:
    if "grant_id" in record:
        return "grant", record["grant_id"]
    if "membership_id" in record:
        return "membership", record["membership_id"]
    return "event", record["event_id"]


# --- the evaluator ----------------------------------------------------------------


@dataclass
class _Evaluator:
    world: World
    case_sensitive: tuple[str, ...]
    catalog: dict[str, Record] = field(init=False)
    servers_by_token: dict[str, set[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.catalog = {entry["tool"]: entry for entry in self.world.catalog}
        self.servers_by_token = {}
        for call in self.world.calls:
            server = self._resource_server(call)
            if call.get("token_id") is not None and server is not None:
                self.servers_by_token.setdefault(call["token_id"], set()).add(server)

    # What a call needs.

    def _resource_server(self, call: Record) -> str | None:
        if call.get("resource_server") is not None:
            return str(call["resource_server"])
        entry = self.catalog.get(call["tool"])
        if entry is None:
            return None
        return entry.get("resource_server")

    def _need(self, call: Record) -> _Need:
        entry = self.catalog.get(call["tool"])
        action = call.get("action")
        if action is None and entry is not None:
            action = entry["action"]
        resource = call.get("resource")
        if action is None or (resource is None and entry is None):
            # NOTE: a call with its own action but no resource, for a tool absent from
            # the catalog, has no resource at all; it is taken as unmapped too.
            return _Need(action, resource, "unmapped_tool", entry)
        if resource is None and entry is not None:
            resource = _fill_template(entry["resource_template"], _arguments(call))
            if resource is None:
                return _Need(action, None, "missing_argument", entry)
        if not self._covered(call["ts"]):
            return _Need(action, resource, "no_entitlement_coverage", entry)
        return _Need(action, resource, None, entry)

    def _covered(self, instant: datetime) -> bool:
        if self.world.coverage:
            return any(
                _covers(span["valid_from"], span.get("valid_to"), instant)
                for span in self.world.coverage
            )
        starts = [grant["valid_from"] for grant in self.world.grants]
        starts += [link["valid_from"] for link in self.world.memberships]
        return bool(starts) and min(starts) <= instant

    # Lifecycle.

    def _event_groups(
        self, principal: Principal
    ) -> list[tuple[datetime, list[Record]]]:
        groups: dict[datetime, list[Record]] = {}
        for event in self.world.events:
            owner = (event["principal_type"], event["principal_id"])
            if owner == principal and event["event_type"] in _STATE_EVENTS:
                groups.setdefault(event["ts"], []).append(event)
        return sorted(groups.items(), key=lambda item: item[0])

    def _is_active(self, principal: Principal, instant: datetime) -> bool:
        active = True
        for moment, group in self._event_groups(principal):
            if moment > instant:
                break
            active = _active_after(group)
        return active

    def _inactive_periods(
        self, principal: Principal
    ) -> list[tuple[datetime, datetime | None, list[Record]]]:
        periods: list[tuple[datetime, datetime | None, list[Record]]] = []
        active = True
        start: datetime | None = None
        starters: list[Record] = []
        for moment, group in self._event_groups(principal):
            now_active = _active_after(group)
            if active and not now_active:
                start = moment
                starters = [e for e in group if e["event_type"] in _INACTIVATING]
            if not active and now_active and start is not None:
                periods.append((start, moment, starters))
            active = now_active
        if not active and start is not None:
            periods.append((start, None, starters))
        return periods

    # Membership and grants.

    def _reached_at(self, principal: Principal, instant: datetime) -> set[Principal]:
        reached = {principal}
        frontier = [principal]
        while frontier:
            node = frontier.pop()
            for link in self.world.memberships:
                member = (link["member_type"], link["member_id"])
                parent = (link["parent_type"], link["parent_id"])
                valid = _covers(link["valid_from"], link.get("valid_to"), instant)
                if member == node and valid and parent not in reached:
                    reached.add(parent)
                    frontier.append(parent)
        return reached

    def _matches(self, grant: Record, action: str, resource: str) -> bool:
        action_ok = action_matches(grant["action"], action, self.case_sensitive)
        if not (action_ok and glob_match(grant["resource"], resource)):
            return False
        for pattern in _pattern_list(grant.get("excluded_actions")):
            if action_matches(pattern, action, self.case_sensitive):
                return False
        excluded = _pattern_list(grant.get("excluded_resources"))
        return not any(glob_match(pattern, resource) for pattern in excluded)

    def _bounded_at(self, principal: Principal, instant: datetime) -> bool:
        reached = self._reached_at(principal, instant)
        for grant in self.world.grants:
            holder = (grant["principal_type"], grant["principal_id"])
            valid = _covers(grant["valid_from"], grant.get("valid_to"), instant)
            if grant["effect"] == "boundary" and holder in reached and valid:
                return True
        return False

    def _grants_at(
        self, principal: Principal, action: str, resource: str, instant: datetime
    ) -> list[Record]:
        reached = self._reached_at(principal, instant)
        found = []
        for grant in self.world.grants:
            holder = (grant["principal_type"], grant["principal_id"])
            valid = _covers(grant["valid_from"], grant.get("valid_to"), instant)
            if holder in reached and valid and self._matches(grant, action, resource):
                found.append(grant)
        return found

    def _chains(self, principal: Principal) -> list[_Chain]:
        chains: list[_Chain] = []

        def extend(chain: _Chain, visited: frozenset[Principal]) -> None:
            chains.append(chain)
            for link in self.world.memberships:
                member = (link["member_type"], link["member_id"])
                parent = (link["parent_type"], link["parent_id"])
                if member != chain.holder or parent in visited:
                    continue
                start = _later(chain.start, link["valid_from"])
                end = _earlier(chain.end, link.get("valid_to"))
                if _is_empty(start, end):
                    continue
                longer = _Chain(parent, start, end, (*chain.links, link))
                extend(longer, visited | {parent})

        extend(_Chain(principal, None, None, ()), frozenset({principal}))
        return chains

    def _reaches(
        self, principal: Principal, action: str | None, resource: str | None
    ) -> list[_Reach]:
        """Return the grants matching (action, resource) as they reach ``principal``.

        With ``action`` None, return every permission boundary reaching it instead.
        """
        reaches = []
        for chain in self._chains(principal):
            for grant in self.world.grants:
                holder = (grant["principal_type"], grant["principal_id"])
                if holder != chain.holder:
                    continue
                if action is None or resource is None:
                    if grant["effect"] != "boundary":
                        continue
                elif not self._matches(grant, action, resource):
                    continue
                start = _later(chain.start, grant["valid_from"])
                end = _earlier(chain.end, grant.get("valid_to"))
                if start is None or _is_empty(start, end):
                    continue
                reaches.append(_Reach(grant, start, end, (grant, *chain.links)))
        return reaches

    # Sides.

    def _state(
        self, principal: Principal, action: str, resource: str, instant: datetime
    ) -> _Side:
        if not self._is_active(principal, instant):
            return _Side("not_held", "principal_inactive")
        grants = self._grants_at(principal, action, resource, instant)
        allows = [g for g in grants if g["effect"] == "allow"]
        denies = [g for g in grants if g["effect"] == "deny"]
        counted = allows
        if self._bounded_at(principal, instant):
            # An allow counts only where a boundary matches too; a conditional
            # boundary leaves every allow conditional.
            bounds = [g for g in grants if g["effect"] == "boundary"]
            if not bounds:
                counted = []
            elif all(g.get("condition") is not None for g in bounds):
                counted = [g | {"condition": "boundary"} for g in allows]
        if any(g.get("condition") is None for g in denies):
            return _Side("not_held", "explicit_deny")
        if denies and counted:
            return _Side("undecided", "unevaluated_condition")
        if any(g.get("condition") is None for g in counted):
            return _Side("held", "permission_held")
        if counted:
            return _Side("undecided", "unevaluated_condition")
        # Allows that a boundary leaves out count for nothing.
        return _Side("not_held", "outside_boundary" if allows else "no_matching_grant")

    def _user_side(self, call: Record, need: _Need) -> _Side:
        if need.reason is not None:
            return _Side("undecided", need.reason)
        if call.get("subject") is None:
            return _Side("undecided", "no_subject")
        assert need.action is not None
        assert need.resource is not None
        user = ("user", call["subject"])
        side = self._state(user, need.action, need.resource, call["ts"])
        if side.result != "not_held":
            return side
        start = _delegation_start(call)
        if start is None or start >= call["ts"] or not self._covered(start):
            return side
        then = self._state(user, need.action, need.resource, start)
        if then.result == "held":
            return _Side("stale", side.reason)
        return side

    def _agent_side(self, call: Record, need: _Need) -> _Side:
        # A call without a separate agent has no agent side to leave undecided, so
        # run_as_user comes before the undecided reasons of the call.
        if _runs_as_user(call):
            return _Side("run_as_user", None)
        if need.reason is not None:
            return _Side("undecided", need.reason)
        assert need.action is not None
        assert need.resource is not None
        agent = ("agent", call["actor"])
        return self._state(agent, need.action, need.resource, call["ts"])

    # Certainty.

    def _change_instants(self, principal: Principal, need: _Need) -> set[datetime]:
        assert need.action is not None
        assert need.resource is not None
        instants: set[datetime] = set()
        reaches = self._reaches(principal, need.action, need.resource)
        reaches += self._reaches(principal, None, None)
        for reach in reaches:
            instants.add(reach.start)
            if reach.end is not None:
                instants.add(reach.end)
        for start, end, _ in self._inactive_periods(principal):
            instants.add(start)
            if end is not None:
                instants.add(end)
        return instants

    def _certainty(self, call: Record, need: _Need, verdict: str) -> str:
        if verdict == "indeterminate":
            return "indeterminate"
        instants: set[datetime] = set()
        checked = []
        if call.get("subject") is not None:
            checked.append(("user", call["subject"]))
        if not _runs_as_user(call):
            checked.append(("agent", call["actor"]))
        for principal in checked:
            instants |= self._change_instants(principal, need)
            if self._uncertain_at(principal, need, call["ts"]):
                return "bracketed"
        return "bracketed" if call["ts"] in instants else "exact"

    def _uncertain_at(
        self, principal: Principal, need: _Need, instant: datetime
    ) -> bool:
        reaches = self._reaches(principal, need.action, need.resource)
        reaches += self._reaches(principal, None, None)
        return any(reach.uncertain_at(instant) for reach in reaches)

    # Flags and severity.

    def _flags(self, call: Record, verdict: str) -> list[str]:
        flags = set()
        if _runs_as_user(call):
            flags.add(Flag.RUN_AS_USER.value)
        expires = call.get("token_expires_at")
        if expires is not None and call["ts"] >= expires:
            flags.add(Flag.TOKEN_EXPIRED.value)
        server = self._resource_server(call)
        audience = call.get("audience")
        if audience is not None and server is not None and audience != server:
            flags.add(Flag.AUDIENCE_MISMATCH.value)
        servers = self.servers_by_token.get(call.get("token_id") or "", set())
        if call.get("token_id") is not None and len(servers) >= 2:
            flags.add(Flag.TOKEN_FORWARDED.value)
        if verdict in VIOLATIONS and call.get("outcome") == "allowed":
            flags.add(Flag.ENFORCEMENT_GAP.value)
        return [flag.value for flag in Flag if flag.value in flags]

    def _severity(
        self, call: Record, need: _Need, verdict: str, flags: list[str]
    ) -> str:
        if verdict == "indeterminate":
            return "low"
        if verdict == "within_scope":
            token_flags = {"token_expired", "audience_mismatch", "token_forwarded"}
            return "low" if token_flags & set(flags) else "info"
        tier = need.entry["risk_tier"] if need.entry is not None else "write"
        severity = _TIER_SEVERITY[tier]
        if call.get("outcome") == "denied":
            severity = _SEVERITIES[_SEVERITIES.index(severity) - 1]
        return severity

    # One call.

    def finding(self, call: Record) -> FindingRow:
        """Return the finding for one call."""
        need = self._need(call)
        user = self._user_side(call, need)
        agent = self._agent_side(call, need)
        verdict, reason = _verdict(user, agent)
        flags = self._flags(call, verdict)
        return FindingRow(
            call_id=call["call_id"],
            verdict=verdict,
            reason=reason,
            user_result=user.result,
            user_reason=user.reason,
            agent_result=agent.result,
            agent_reason=agent.reason,
            certainty=self._certainty(call, need, verdict),
            severity=self._severity(call, need, verdict, flags),
            flags=",".join(flags),
            action=need.action,
            resource=need.resource,
        )

    # Stale windows.

    def revocation(self, call: Record, row: FindingRow) -> _Candidate:
        """Return the revocation instant of a stale call and the record behind it."""
        assert row.action is not None
        assert row.resource is not None
        user = ("user", call["subject"])
        start = _delegation_start(call)
        assert start is not None
        candidates = []
        for reach in self._reaches(user, None, None):
            starting = [r for r in reach.records if r["valid_from"] == reach.start]
            candidates += _candidates(reach.start, starting)
        for reach in self._reaches(user, row.action, row.resource):
            firm = reach.grant.get("condition") is None
            # Only an unconditional allow carried the authority, so only its end
            # can revoke it.
            ending_kind = firm and reach.grant["effect"] in ("allow", "boundary")
            if ending_kind and reach.end is not None:
                ending = [r for r in reach.records if r.get("valid_to") == reach.end]
                candidates += _candidates(reach.end, ending)
            unconditional = reach.grant.get("condition") is None
            if reach.grant["effect"] == "deny" and unconditional:
                starting = [r for r in reach.records if r["valid_from"] == reach.start]
                candidates += _candidates(reach.start, starting)
        for moment, _, starters in self._inactive_periods(user):
            candidates += _candidates(moment, starters)
        inside = [c for c in candidates if start < c.instant <= call["ts"]]
        return _latest(inside)

    def windows(self, rows: list[FindingRow]) -> list[WindowRow]:
        """Return the stale windows of the stale calls among ``rows``."""
        calls = {call["call_id"]: call for call in self.world.calls}
        groups: dict[tuple[str, str | None, datetime], list[Any]] = {}
        for row in rows:
            if row.verdict != "stale_authority":
                continue
            call = calls[row.call_id]
            revocation = self.revocation(call, row)
            key = (call["subject"], call.get("actor"), revocation.instant)
            groups.setdefault(key, []).append((call, row, revocation))
        ordered = sorted(groups.items(), key=lambda item: window_order(*item[0]))
        return [_window(key, members) for key, members in ordered]


def _candidates(instant: datetime, records: list[Record]) -> list[_Candidate]:
    found = []
    for record in records:
        kind, source = _record_id(record)
        found.append(_Candidate(instant, kind, source))
    return found


def _window(key: tuple[str, str | None, datetime], members: list[Any]) -> WindowRow:
    subject, actor, revoked_at = key
    ordered = sorted(members, key=lambda item: (item[0]["ts"], item[0]["call_id"]))
    first, last = ordered[0][0], ordered[-1][0]
    source = _latest([item[2] for item in members])
    resources = sorted({item[1].resource for item in members})
    return WindowRow(
        subject=subject,
        actor=actor,
        revoked_at=revoked_at,
        revocation_source=source.source,
        revocation_kind=source.kind,
        first_call_id=first["call_id"],
        last_call_id=last["call_id"],
        first_call_at=first["ts"],
        last_call_at=last["ts"],
        calls=len(members),
        resources=",".join(resources),
        duration_seconds=(last["ts"] - revoked_at).total_seconds(),
    )


def window_order(
    subject: str, actor: str | None, revoked_at: datetime
) -> tuple[str, str, datetime]:
    """Return the sort key of a stale window: subject, actor, revocation instant."""
    return (subject, str(actor), revoked_at)


def _active_after(group: list[Record]) -> bool:
    """Return whether a principal is active after one instant's lifecycle events.

    A reactivation wins only when it and every deactivation or suspension of the instant
    carry ``seq`` and its ``seq`` is larger than each of theirs.
    """
    stops = [e for e in group if e["event_type"] in _INACTIVATING]
    starts = [e for e in group if e["event_type"] == "reactivated"]
    if not stops:
        return True
    for start in starts:
        if start.get("seq") is None:
            continue
        later = [s.get("seq") is not None and start["seq"] > s["seq"] for s in stops]
        if all(later):
            return True
    return False


def _pattern_list(value: Any) -> list[str]:
    # The workspace stores a list field as JSON text.
    if isinstance(value, str):
        value = json.loads(value)
    return list(value or [])


def _arguments(call: Record) -> dict[str, Any]:
    arguments = call.get("arguments")
    if isinstance(arguments, str):
        arguments = json.loads(arguments)
    return dict(arguments or {})


def _argument_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _fill_template(template: str, arguments: dict[str, Any]) -> str | None:
    """Return the template with every ``{name}`` filled, or None if one is missing."""
    parts = []
    position = 0
    while position < len(template):
        opening = template.find("{", position)
        closing = template.find("}", opening + 1) if opening >= 0 else -1
        if opening < 0 or closing < 0:
            parts.append(template[position:])
            break
        parts.append(template[position:opening])
        name = template[opening + 1 : closing]
        # NOTE: the rule book does not say what a null argument fills in; it is taken
        # as missing, like an argument the call does not have.
        if arguments.get(name) is None:
            return None
        parts.append(_argument_text(arguments[name]))
        position = closing + 1
    return "".join(parts)


def _delegation_start(call: Record) -> datetime | None:
    if call.get("token_issued_at") is not None:
        return call["token_issued_at"]  # type: ignore[no-any-return]
    return call.get("session_started_at")


def _runs_as_user(call: Record) -> bool:
    return call.get("actor") is None or call.get("actor") == call.get("subject")


def _verdict(user: _Side, agent: _Side) -> tuple[str, str]:
    if user.result == "stale":
        return "stale_authority", str(user.reason)
    if user.result == "not_held":
        return "user_over_scope", str(user.reason)
    if agent.result == "not_held":
        return "agent_over_scope", str(agent.reason)
    if user.result == "undecided":
        return "indeterminate", str(user.reason)
    if agent.result == "undecided":
        return "indeterminate", str(agent.reason)
    return "within_scope", "permission_held"


def evaluate_world(
    world: World, *, case_sensitive_action_namespaces: Iterable[str] = ()
) -> Evaluation:
    """Evaluate every call of a world by the rule book.

    Parameters
    ----------
    world
        The inputs.
    case_sensitive_action_namespaces
        Action namespaces compared case-sensitively, like the engine setting.

    Returns
    -------
    Evaluation
        One finding per call, sorted by call id, and the stale-authority windows.
    """
    evaluator = _Evaluator(world, tuple(case_sensitive_action_namespaces))
    calls = sorted(world.calls, key=lambda call: call["call_id"])
    findings = [evaluator.finding(call) for call in calls]
    return Evaluation(findings=findings, windows=evaluator.windows(findings))
