"""Background activity: ordinary sessions in which every call is plainly within scope.

Each session is one user working through one agent against one resource server with
one fresh token, inside a stretch of time where nothing the session needs changes.
So every background call is made by a user who holds the permission, through an agent
whose scope covers it, with a valid token whose audience is the tool's resource server
and an ``allowed`` outcome. Call times never fall on a whole second, while every change
of the organisation does, so no background call shares an instant with a change.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from auditkit.demo.records import CallRow, Token
from auditkit.models import Outcome

if TYPE_CHECKING:
    from auditkit.demo.organisation import Organisation, Posting

ArgumentBuilder = Callable[[random.Random, str, str], dict[str, Any]]

# Sessions stay this far from any change of the user's groups or the agent's state.
SAFETY_MARGIN = timedelta(hours=1)
TOKEN_LIFETIME = timedelta(hours=1)
WEEKDAY_SESSIONS = (1, 2, 2, 3, 3, 3, 4)
WEEKEND_SESSION_CHANCE = 0.08
CALLS_PER_SESSION = (4, 16)
# Seconds between two calls of a session.
CALL_GAP = (3, 90)
# Share of sessions starting in each UTC hour of a working day.
WORKDAY_HOURS = (
    (7, 2),
    (8, 6),
    (9, 10),
    (10, 10),
    (11, 8),
    (12, 5),
    (13, 8),
    (14, 10),
    (15, 9),
    (16, 7),
    (17, 3),
    (18, 1),
)
WEEKEND_HOURS = tuple((hour, 1) for hour in range(9, 18))

Habit = tuple[str, int, tuple[tuple[str, int], ...]]

_DOCS: Habit = ("docs-search-agent", 2, (("docs_search", 2), ("docs_read_page", 3)))
_CALENDAR: Habit = (
    "calendar-scheduler",
    1,
    (("calendar_list_events", 3), ("calendar_create_event", 1)),
)
_REVIEW: Habit = (
    "code-review-bot",
    6,
    (
        ("git_read_pull_request", 4),
        ("git_comment_pull_request", 2),
        ("git_read_repo", 2),
    ),
)
_SALES: Habit = (
    "sales-crm-assistant",
    6,
    (("crm_read_account", 4), ("crm_update_account", 2), ("mail_send", 1)),
)

# Persona: the agents a user works through, each with a weight and its tools.
PERSONAS: dict[str, tuple[Habit, ...]] = {
    "support": (
        (
            "support-copilot",
            6,
            (
                ("crm_read_ticket", 6),
                ("crm_comment_ticket", 2),
                ("crm_update_ticket", 2),
                ("mail_send", 1),
            ),
        ),
        _DOCS,
        _CALENDAR,
    ),
    "engineering": (_REVIEW, _DOCS, _CALENDAR),
    "platform": (
        _REVIEW,
        (
            "deploy-assistant",
            4,
            (("deploy_read_status", 3), ("deploy_read_logs", 2), ("deploy_release", 1)),
        ),
        _DOCS,
        _CALENDAR,
    ),
    "finance": (
        (
            "finance-assistant",
            6,
            (("finance_read_invoice", 4), ("finance_create_invoice", 2)),
        ),
        _DOCS,
        _CALENDAR,
    ),
    "sales": (_SALES, _DOCS, (_CALENDAR[0], 2, _CALENDAR[2])),
    "sales_analyst": (
        _SALES,
        ("data-export-agent", 3, (("warehouse_query", 1),)),
        _DOCS,
        _CALENDAR,
    ),
    "data": (
        (
            "data-export-agent",
            6,
            (("warehouse_query", 5), ("warehouse_export_table", 1)),
        ),
        _DOCS,
        _CALENDAR,
    ),
    "hr": (
        (
            "hr-onboarding-helper",
            6,
            (
                ("hr_read_employee", 4),
                ("hr_create_employee", 1),
                ("hr_update_employee", 2),
                ("docs_read_page", 1),
            ),
        ),
        _DOCS,
        _CALENDAR,
    ),
    "security": (
        (
            "security-triage-bot",
            6,
            (("deploy_read_logs", 3), ("deploy_read_status", 2), ("git_read_repo", 2)),
        ),
        _DOCS,
        _CALENDAR,
    ),
}

_REPOS = ("payments", "web-app", "mobile-app", "infra", "auth-service", "data-pipeline")
_SERVICES = ("payments", "web-app", "auth-service", "search", "billing")
_SPACES = (
    "engineering",
    "support",
    "handbook",
    "finance",
    "sales-playbook",
    "onboarding",
)
_TABLES = ("orders", "customers", "events_daily", "sales_pipeline", "inventory")
_SALES_TABLES = ("sales_pipeline", "sales_forecast")


def _ticket(rng: random.Random, persona: str, agent: str) -> dict[str, Any]:
    # A number argument, written into the resource in its JSON form.
    return {"ticket_id": rng.randint(40000, 59999)}


def _account(rng: random.Random, persona: str, agent: str) -> dict[str, Any]:
    return {"account_id": f"ACC-{rng.randint(10000, 99999)}"}


def _pull_request(rng: random.Random, persona: str, agent: str) -> dict[str, Any]:
    return {"repo": rng.choice(_REPOS), "number": rng.randint(1, 4000)}


def _repo(rng: random.Random, persona: str, agent: str) -> dict[str, Any]:
    return {"repo": rng.choice(_REPOS)}


def _invoice(rng: random.Random, persona: str, agent: str) -> dict[str, Any]:
    return {"invoice_id": f"INV-2026-{rng.randint(1, 99999):05d}"}


def _table(rng: random.Random, persona: str, agent: str) -> dict[str, Any]:
    tables = _SALES_TABLES if persona == "sales_analyst" else _TABLES
    return {"table": rng.choice(tables), "limit": rng.choice((100, 1000, 10000))}


def _calendar(rng: random.Random, persona: str, agent: str) -> dict[str, Any]:
    # Filled in with the subject by the caller: people manage their own calendars.
    return {"days_ahead": rng.randint(1, 14)}


def _employee(rng: random.Random, persona: str, agent: str) -> dict[str, Any]:
    return {"employee_id": f"E{rng.randint(10000, 19999)}"}


def _search(rng: random.Random, persona: str, agent: str) -> dict[str, Any]:
    terms = ("refund policy", "on-call", "expense limits", "vpn", "release checklist")
    return {"space": rng.choice(_SPACES), "query": rng.choice(terms)}


def _page(rng: random.Random, persona: str, agent: str) -> dict[str, Any]:
    space = "onboarding" if agent == "hr-onboarding-helper" else rng.choice(_SPACES)
    return {"space": space, "page_id": rng.randint(100, 9999)}


def _service(rng: random.Random, persona: str, agent: str) -> dict[str, Any]:
    return {"service": rng.choice(_SERVICES)}


def _mail(rng: random.Random, persona: str, agent: str) -> dict[str, Any]:
    if persona.startswith("sales"):
        mailbox = rng.choice(("sales", "sales-leads"))
    else:
        mailbox = rng.choice(("support", "support-emea"))
    return {
        "mailbox": mailbox,
        "to": f"customer{rng.randint(1, 5000)}@mail.example.test",
    }


ARGUMENTS: dict[str, ArgumentBuilder] = {
    "crm_read_ticket": _ticket,
    "crm_comment_ticket": _ticket,
    "crm_update_ticket": _ticket,
    "crm_read_account": _account,
    "crm_update_account": _account,
    "git_read_repo": _repo,
    "git_read_pull_request": _pull_request,
    "git_comment_pull_request": _pull_request,
    "finance_read_invoice": _invoice,
    "finance_create_invoice": _invoice,
    "warehouse_query": _table,
    "warehouse_export_table": _table,
    "calendar_list_events": _calendar,
    "calendar_create_event": _calendar,
    "hr_read_employee": _employee,
    "hr_create_employee": _employee,
    "hr_update_employee": _employee,
    "docs_search": _search,
    "docs_read_page": _page,
    "deploy_read_status": _service,
    "deploy_read_logs": _service,
    "deploy_release": _service,
    "mail_send": _mail,
}


class BackgroundActivity:
    """Generator of the background sessions of one organisation and seed."""

    def __init__(self, org: Organisation, rng: random.Random) -> None:
        self._org = org
        self._rng = rng
        self._token_ids: set[str] = set()
        self._sessions = 0
        self._servers = {entry.tool: entry.resource_server for entry in org.catalog}

    def calls(self) -> list[CallRow]:
        """Return the background calls of the whole period, ids not yet assigned."""
        calls: list[CallRow] = []
        for day in range(self._org.clock.days):
            day_start = self._org.clock.start + timedelta(days=day)
            for user in sorted(self._org.postings):
                calls.extend(self._user_day(user, day_start))
        return calls

    def _user_day(self, user: str, day_start: datetime) -> list[CallRow]:
        weekday = day_start.weekday() < 5
        if weekday:
            sessions = self._rng.choice(WEEKDAY_SESSIONS)
        else:
            sessions = int(self._rng.random() < WEEKEND_SESSION_CHANCE)

        calls: list[CallRow] = []
        for _ in range(sessions):
            started = self._session_start(day_start, weekday)
            posting = self._posting_at(user, started)
            if posting is None:
                continue
            calls.extend(self._session(user, posting.persona, started))
        return calls

    def _session_start(self, day_start: datetime, weekday: bool) -> datetime:
        hours = WORKDAY_HOURS if weekday else WEEKEND_HOURS
        hour = self._rng.choices([h for h, _ in hours], [w for _, w in hours])[0]
        offset = timedelta(
            hours=hour,
            seconds=self._rng.randint(0, 3599),
            microseconds=self._rng.randint(1, 999_999),
        )
        return day_start + offset

    def _posting_at(self, user: str, started: datetime) -> Posting | None:
        for posting in self._org.postings[user]:
            after_start = posting.start + SAFETY_MARGIN <= started
            before_end = started + SAFETY_MARGIN <= posting.end
            if after_start and before_end:
                return posting
        return None

    def _session(self, user: str, persona: str, started: datetime) -> list[CallRow]:
        habits = PERSONAS[persona]
        agent, _, tools = self._rng.choices(habits, [h[1] for h in habits])[0]
        if self._agent_unavailable(agent, started):
            return []

        first_tool = self._pick_tool(tools)
        server = self._servers[first_tool]
        same_server = tuple(t for t in tools if self._servers[t[0]] == server)
        self._sessions += 1
        session = _Session(
            session_id=f"ses-{self._sessions:06d}",
            started=started,
            user=user,
            agent=agent,
            persona=persona,
            token=self._token(started, server),
        )

        calls: list[CallRow] = []
        ts = started
        count = self._rng.randint(*CALLS_PER_SESSION)
        for index in range(count):
            tool = first_tool if index == 0 else self._pick_tool(same_server)
            calls.append(self._call(session, tool, ts))
            ts = self._next_instant(ts)
        return calls

    def _agent_unavailable(self, agent: str, started: datetime) -> bool:
        for blackout_start, blackout_end in self._org.agent_blackouts.get(agent, []):
            window_start = blackout_start - SAFETY_MARGIN
            window_end = blackout_end + SAFETY_MARGIN
            if window_start <= started < window_end:
                return True
        return False

    def _pick_tool(self, tools: tuple[tuple[str, int], ...]) -> str:
        return self._rng.choices([t for t, _ in tools], [w for _, w in tools])[0]

    def _token(self, started: datetime, server: str | None) -> Token:
        token_id = f"tok-{self._rng.getrandbits(64):016x}"
        while token_id in self._token_ids:
            token_id = f"tok-{self._rng.getrandbits(64):016x}"
        self._token_ids.add(token_id)

        issued = started - timedelta(microseconds=self._rng.randint(1, 30_000_000))
        return Token(token_id, issued, issued + TOKEN_LIFETIME, server or "")

    def _next_instant(self, ts: datetime) -> datetime:
        low, high = CALL_GAP
        gap = timedelta(
            microseconds=self._rng.randint(low * 1_000_000, high * 1_000_000)
        )
        following = ts + gap
        if following.microsecond == 0:
            following += timedelta(microseconds=1)
        return following

    def _call(self, session: _Session, tool: str, ts: datetime) -> CallRow:
        arguments = ARGUMENTS[tool](self._rng, session.persona, session.agent)
        if tool.startswith("calendar_"):
            arguments = {"user": session.user, **arguments}
        token = session.token
        return CallRow(
            call_id="",
            ts=ts,
            tool=tool,
            subject=session.user,
            actor=session.agent,
            actor_chain=(session.agent,),
            arguments=arguments,
            token_id=token.token_id,
            token_issued_at=token.issued_at,
            token_expires_at=token.expires_at,
            audience=token.audience,
            outcome=Outcome.ALLOWED,
            session_id=session.session_id,
            session_started_at=session.started,
        )


@dataclass(frozen=True)
class _Session:
    session_id: str
    started: datetime
    user: str
    agent: str
    persona: str
    token: Token
