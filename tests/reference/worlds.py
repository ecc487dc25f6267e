"""Hypothesis strategies for small random worlds in which the hard cases happen often.

Times come from a few instants an hour apart, and calls and tokens sit on them or one
microsecond to either side, so calls land exactly at changes. Patterns and required
actions and resources come from a small alphabet, so that wildcards, case and `?` decide
matches often.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from tests.reference.evaluator import Record, World

START = datetime(2026, 3, 1, 8, 0)
INSTANTS = [START + timedelta(hours=hour) for hour in range(5)]
MICROSECOND = timedelta(microseconds=1)

ACTION_PATTERNS = [
    "svc:Read",
    "svc:read",
    "svc:Write",
    "Svc:*",
    "svc:?ead",
    "svc:*",
    "*",
    "svc:Re*",
]
RESOURCE_PATTERNS = ["doc/a", "doc/*", "doc/?", "*", "doc/b", "doc/A", "doc/a*"]
CALL_ACTIONS = [
    "svc:Read",
    "svc:read",
    "SVC:READ",
    "svc:Write",
    "Svc:Read",
    "svc:Delete",
]
CALL_RESOURCES = ["doc/a", "doc/b", "doc/A", "doc/ab", "doc/", "doc/*"]
SERVERS = ["docs", "mail"]
CONDITION = "request.ip in 10.0.0.0/8"

# Tools the catalog may hold: name, action, resource template.
TOOLS = [
    ("read_doc", "svc:Read", "doc/{id}"),
    ("write_doc", "svc:Write", "doc/{id}"),
    ("purge_docs", "svc:Delete", "doc/a"),
    ("export_part", "Svc:read", "doc/{id}{part}"),
]
GHOST_TOOL = "ghost_tool"
TIERS = ["read", "write", "delete", "admin", "export", "external"]

# (member type, parent type) pairs the rule book names.
MEMBERSHIP_KINDS = [
    ("user", "group"),
    ("group", "group"),
    ("agent", "role"),
    ("role", "role"),
]


def _one_of(ids: list[str]) -> st.SearchStrategy[str]:
    # The first id comes up more often, so that grants, memberships and calls meet.
    return st.sampled_from([ids[0], ids[0], *ids])


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


instants = st.sampled_from(INSTANTS)


@st.composite
def near_instants(draw: st.DrawFn, choices: list[datetime] = INSTANTS) -> datetime:
    """Draw an instant of ``choices``, or one microsecond before or after it."""
    offset = draw(st.sampled_from([0, 0, -1, 1]))
    return draw(st.sampled_from(choices)) + offset * MICROSECOND


@st.composite
def intervals(draw: st.DrawFn) -> dict[str, Any]:
    """Draw ``valid_from`` and ``valid_to``, possibly an empty or reversed interval.

    Early starts and open ends are drawn more often, so that grants reach calls.
    """
    valid_from = draw(st.sampled_from([INSTANTS[0], INSTANTS[0], *INSTANTS[:4]]))
    valid_to = draw(st.sampled_from([None, None, None, *INSTANTS[1:]]))
    return {"valid_from": valid_from, "valid_to": valid_to}


@st.composite
def principal_ids(draw: st.DrawFn, prefix: str, low: int, high: int) -> list[str]:
    """Draw the ids of one kind of principal: ``prefix1`` up to ``prefixN``."""
    count = draw(st.integers(low, high))
    return [f"{prefix}{number}" for number in range(1, count + 1)]


@st.composite
def memberships(draw: st.DrawFn, ids: dict[str, list[str]]) -> Record:
    """Draw one membership among the principals in ``ids`` (cycles included)."""
    kinds = [kind for kind in MEMBERSHIP_KINDS if ids[kind[0]] and ids[kind[1]]]
    member_type, parent_type = draw(st.sampled_from(kinds))
    return {
        "member_type": member_type,
        "member_id": draw(_one_of(ids[member_type])),
        "parent_type": parent_type,
        "parent_id": draw(_one_of(ids[parent_type])),
        **draw(intervals()),
        "seq": draw(_maybe(st.integers(1, 3))),
    }


@st.composite
def grants(
    draw: st.DrawFn,
    ids: dict[str, list[str]],
    effect: str | None = None,
    conditional: bool | None = None,
) -> Record:
    """Draw one grant to a principal in ``ids``; None arguments are drawn at random."""
    principal_type = draw(
        st.sampled_from([kind for kind, found in ids.items() if found])
    )
    if effect is None:
        effect = draw(st.sampled_from(["allow", "allow", "allow", "deny"]))
    if conditional is None:
        conditional = draw(st.sampled_from([False, False, False, True]))
    condition = CONDITION if conditional else None
    return {
        "principal_type": principal_type,
        "principal_id": draw(_one_of(ids[principal_type])),
        "effect": effect,
        "action": draw(st.sampled_from([*ACTION_PATTERNS, "svc:*", "*", "*"])),
        "resource": draw(st.sampled_from([*RESOURCE_PATTERNS, "doc/*", "*"])),
        **draw(intervals()),
        "condition": condition,
    }


@st.composite
def events(draw: st.DrawFn, ids: dict[str, list[str]]) -> Record:
    """Draw one lifecycle event of a user or an agent."""
    principal_type = draw(st.sampled_from(["user", "agent"]))
    event_type = draw(
        st.sampled_from(
            ["deactivated", "reactivated", "suspended", "reactivated", "role_removed"]
        )
    )
    return {
        "ts": draw(instants),
        "principal_type": principal_type,
        "principal_id": draw(_one_of(ids[principal_type])),
        "event_type": event_type,
        "seq": draw(_maybe(st.integers(1, 3))),
    }


@st.composite
def catalogs(draw: st.DrawFn) -> list[Record]:
    """Draw a catalog: some of the known tools, each with a tier and maybe a server."""
    size = draw(st.sampled_from([1, 2, 3, 4, 0]))
    chosen = draw(st.lists(st.sampled_from(TOOLS), unique=True, min_size=size))
    return [
        {
            "tool": tool,
            "action": action,
            "resource_template": template,
            "risk_tier": draw(st.sampled_from(TIERS)),
            "resource_server": draw(_maybe(st.sampled_from(SERVERS))),
        }
        for tool, action, template in chosen
    ]


@st.composite
def arguments(draw: st.DrawFn) -> dict[str, Any] | None:
    """Draw tool arguments: a text or number ``id`` and a ``part``, each optional."""
    values: dict[str, Any] = {}
    if draw(st.sampled_from([True, True, True, False])):
        values["id"] = draw(st.sampled_from(["a", "b", "A", "ab", "?", 1, 12]))
    if draw(st.booleans()):
        values["part"] = draw(st.sampled_from(["", "b", "x"]))
    if not values and draw(st.booleans()):
        return None
    return values


@st.composite
def calls(draw: st.DrawFn, ids: dict[str, list[str]], tool_names: list[str]) -> Record:
    """Draw one tool call; ``call_id`` is set by the world."""
    subject = draw(st.sampled_from([None, "u9", *([ids["user"][0]] * 3), *ids["user"]]))
    actor = draw(
        st.sampled_from([None, subject, *([ids["agent"][0]] * 3), *ids["agent"]])
    )
    tool = draw(st.sampled_from([*tool_names, *tool_names, *tool_names, GHOST_TOOL]))
    action = draw(st.sampled_from([None, None, None, *CALL_ACTIONS]))
    resource = draw(st.sampled_from([None, None, None, *CALL_RESOURCES]))
    if action is not None and resource is None and tool not in tool_names:
        # The rule book leaves open a call with its own action but no resource for a
        # tool absent from the catalog, so such calls get a resource.
        resource = draw(st.sampled_from(CALL_RESOURCES))
    return {
        # Late calls and early delegations leave room for authority to be lost.
        "ts": draw(near_instants([*INSTANTS, *INSTANTS[3:]])),
        "tool": tool,
        "subject": subject,
        "actor": actor,
        "arguments": draw(arguments()),
        "action": action,
        "resource": resource,
        "token_id": draw(st.sampled_from([None, "tk1", "tk2"])),
        "token_issued_at": draw(_maybe(near_instants([*INSTANTS[:2], *INSTANTS[:3]]))),
        "token_expires_at": draw(_maybe(instants)),
        "audience": draw(_maybe(st.sampled_from(SERVERS))),
        "resource_server": draw(_maybe(st.sampled_from(SERVERS))),
        "outcome": draw(st.sampled_from([None, "allowed", "denied", "error"])),
        "session_started_at": draw(_maybe(near_instants(INSTANTS[:3]))),
    }


@st.composite
def coverage_spans(draw: st.DrawFn) -> dict[str, Any]:
    """Draw one coverage span, most often from the first instant on."""
    valid_from = draw(
        st.sampled_from([INSTANTS[0], INSTANTS[0], INSTANTS[0], *INSTANTS])
    )
    valid_to = draw(st.sampled_from([None, None, None, None, *INSTANTS[2:]]))
    return {"valid_from": valid_from, "valid_to": valid_to}


@st.composite
def coverages(draw: st.DrawFn, explicit: bool | None) -> list[Record]:
    """Draw coverage spans: none (derived coverage) or one or two explicit ones."""
    counts = [0, 0, 1, 1, 2]
    if explicit is not None:
        counts = [1, 1, 2] if explicit else [0]
    count = draw(st.sampled_from(counts))
    spans = draw(st.lists(coverage_spans(), min_size=count, max_size=count))
    return [{"source": "entitlements", **span} for span in spans]


def _numbered(records: list[Record], key: str, prefix: str) -> list[Record]:
    return [
        {key: f"{prefix}{number}", **record}
        for number, record in enumerate(records, start=1)
    ]


@st.composite
def principal_sets(draw: st.DrawFn) -> dict[str, list[str]]:
    """Draw 1-4 users, 1-3 groups, 1-3 agents and 0-2 roles."""
    return {
        "user": draw(principal_ids("u", 1, 4)),
        "group": draw(principal_ids("g", 1, 3)),
        "agent": draw(principal_ids("a", 1, 3)),
        "role": draw(principal_ids("r", 0, 2)),
    }


@st.composite
def baseline_grants(draw: st.DrawFn, ids: dict[str, list[str]]) -> list[Record]:
    """Draw broad allows for the first user and agent, often ending at a later instant.

    Without them the random grants rarely give both sides of a call the permission, so
    within_scope and stale_authority verdicts would be rare.
    """
    found = []
    for holder in (("user", ids["user"][0]), ("agent", ids["agent"][0])):
        if draw(st.sampled_from([True, True, False])):
            found.append(
                {
                    "principal_type": holder[0],
                    "principal_id": holder[1],
                    "effect": "allow",
                    "action": "*",
                    "resource": "*",
                    "valid_from": INSTANTS[0],
                    "valid_to": draw(st.sampled_from([None, None, *INSTANTS[1:]])),
                    "condition": None,
                }
            )
    return found


@st.composite
def _worlds_of(
    draw: st.DrawFn, ids: dict[str, list[str]], explicit_coverage: bool | None
) -> World:
    catalog = draw(catalogs())
    tool_names = [entry["tool"] for entry in catalog]
    return World.of(
        calls=_numbered(
            draw(st.lists(calls(ids, tool_names), min_size=1, max_size=6)),
            "call_id",
            "c",
        ),
        grants=_numbered(
            draw(baseline_grants(ids))
            + draw(st.lists(grants(ids), min_size=2, max_size=10)),
            "grant_id",
            "gr",
        ),
        memberships=_numbered(
            draw(st.lists(memberships(ids), min_size=0, max_size=6)),
            "membership_id",
            "m",
        ),
        events=_numbered(
            draw(st.lists(events(ids), min_size=0, max_size=4)), "event_id", "e"
        ),
        catalog=catalog,
        coverage=_numbered(draw(coverages(explicit_coverage)), "coverage_id", "cov"),
    )


@st.composite
def worlds(draw: st.DrawFn, explicit_coverage: bool | None = None) -> World:
    """Draw a small world.

    Parameters
    ----------
    draw
        Supplied by hypothesis.
    explicit_coverage
        True for at least one coverage span, False for none, None for either.
    """
    ids = draw(principal_sets())
    return draw(_worlds_of(ids, explicit_coverage))


@st.composite
def worlds_and_grants(
    draw: st.DrawFn, effect: str, conditional: bool | None
) -> tuple[World, Record]:
    """Draw a world with explicit coverage and one more grant to add to it."""
    ids = draw(principal_sets())
    world = draw(_worlds_of(ids, explicit_coverage=True))
    extra = draw(grants(ids, effect=effect, conditional=conditional))
    return world, {"grant_id": "gr_extra", **extra}


# --- snapshot and policy worlds ----------------------------------------------------

EXCLUDED_ACTIONS = [["svc:Write"], ["svc:read"], ["Svc:Re*", "svc:Delete"], ["*"]]
EXCLUDED_RESOURCES = [["doc/b"], ["doc/a*"], ["doc/?"]]


@st.composite
def bracketed(draw: st.DrawFn, record: Record) -> Record:
    """Give a record's start or end a window in which only snapshots place it.

    The earliest instant is drawn among the instants before the exact one, so the
    window often holds calls, and at times at or after it (no window at all).
    """
    changed = dict(record)
    earlier = [moment for moment in INSTANTS if moment < record["valid_from"]]
    if earlier and draw(st.booleans()):
        changed["valid_from_earliest"] = draw(st.sampled_from(earlier))
    end = record.get("valid_to")
    if end is not None and draw(st.booleans()):
        before_end = [moment for moment in INSTANTS if moment < end]
        changed["valid_to_earliest"] = draw(st.sampled_from(before_end or [end]))
    return changed


@st.composite
def policy_grant(draw: st.DrawFn, record: Record) -> Record:
    """Turn some grants into permission boundaries or give them excluded patterns."""
    changed = dict(record)
    choice = draw(st.sampled_from(["keep", "keep", "boundary", "exclude"]))
    if choice == "boundary":
        changed["effect"] = "boundary"
    if choice == "exclude":
        if draw(st.booleans()):
            changed["excluded_actions"] = draw(st.sampled_from(EXCLUDED_ACTIONS))
        else:
            changed["excluded_resources"] = draw(st.sampled_from(EXCLUDED_RESOURCES))
    return changed


@st.composite
def snapshot_worlds(draw: st.DrawFn, policies: bool = True) -> World:
    """Draw a world whose grants and memberships often carry snapshot windows.

    With ``policies``, some grants also become permission boundaries or carry excluded
    action or resource patterns (IAM ``NotAction``, ``NotResource``).
    """
    world = draw(worlds())
    grants_drawn = [draw(bracketed(grant)) for grant in world.grants]
    if policies:
        grants_drawn = [draw(policy_grant(grant)) for grant in grants_drawn]
    links = [draw(bracketed(link)) for link in world.memberships]
    return World.of(
        calls=world.calls,
        grants=grants_drawn,
        memberships=links,
        events=world.events,
        catalog=world.catalog,
        coverage=world.coverage,
    )
