"""Planted incidents: small groups of calls whose expected findings are known.

Each incident states, for each of its calls, the result of the user side and the agent
side that the organisation in :mod:`auditkit.demo.organisation` was built to produce at
that instant, and whether the call shares its instant with a change it depends on. The
table of incidents in ``docs/example-organisation.md`` explains each one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from auditkit.demo.organisation import REHIRED_USER, SERVERS, Organisation
from auditkit.demo.records import CallRow, Clock, Token
from auditkit.demo.truth import Expectation, Side
from auditkit.models import Outcome, ReasonCode, SideResult

ALLOWED = Outcome.ALLOWED
DENIED = Outcome.DENIED

INACTIVE = ReasonCode.PRINCIPAL_INACTIVE
NO_GRANT = ReasonCode.NO_MATCHING_GRANT
CONDITION = ReasonCode.UNEVALUATED_CONDITION


def stale(reason: ReasonCode) -> Side:
    """Return a user side that held the permission at delegation and lost it."""
    return Side(SideResult.STALE, reason)


def not_held(reason: ReasonCode) -> Side:
    """Return a side that does not hold the permission."""
    return Side(SideResult.NOT_HELD, reason)


def undecided(reason: ReasonCode) -> Side:
    """Return a side that the inputs cannot decide."""
    return Side(SideResult.UNDECIDED, reason)


@dataclass(frozen=True)
class PlantedCall:
    """A planted call, the incident it belongs to and what it must produce."""

    incident: str
    call: CallRow
    expectation: Expectation


@dataclass
class Incidents:
    """Builder of the planted calls of one organisation."""

    org: Organisation
    planted: list[PlantedCall] = field(default_factory=list)
    tokens: dict[str, Token] = field(default_factory=dict)
    sessions_without_token: int = 0

    @property
    def clock(self) -> Clock:
        """Clock of the organisation's period."""
        return self.org.clock

    def token(
        self,
        issued_at: datetime,
        service: str,
        lifetime: timedelta = timedelta(hours=1),
    ) -> Token:
        """Mint a token whose audience is the resource server of ``service``."""
        token = Token(
            token_id=f"tok-p{len(self.tokens) + 1:04d}",
            issued_at=issued_at,
            expires_at=issued_at + lifetime,
            audience=SERVERS[service],
        )
        self.tokens[token.token_id] = token
        return token

    def party(self, incident: str, subject: str | None, actor: str | None) -> Party:
        """Return a helper that plants calls of ``subject`` through ``actor``."""
        return Party(self, incident, subject, actor)


@dataclass(frozen=True)
class Party:
    """A user and agent pair whose calls belong to one incident."""

    incidents: Incidents
    incident: str
    subject: str | None
    actor: str | None

    def call(
        self,
        number: int,
        ts: datetime,
        tool: str,
        arguments: dict[str, Any],
        *,
        token: Token | None,
        expect: Expectation | None = None,
        outcome: Outcome = ALLOWED,
        session_started_at: datetime | None = None,
        **overrides: Any,
    ) -> None:
        """Plant call ``inc-<incident>-<number>`` with the finding it must produce.

        ``overrides`` sets further call fields, such as a logged ``action``.
        """
        if token is not None:
            session_id = f"ses-{token.token_id.removeprefix('tok-')}"
            session_started_at = session_started_at or token.issued_at
        else:
            self.incidents.sessions_without_token += 1
            session_id = f"ses-q{self.incidents.sessions_without_token:04d}"

        subject, actor = self.subject, self.actor
        chain = (actor,) if actor is not None and actor != subject else None
        call = CallRow(
            call_id=f"inc-{self.incident}-{number}",
            ts=ts,
            tool=tool,
            subject=subject,
            actor=actor,
            actor_chain=chain,
            arguments=arguments,
            token_id=token.token_id if token else None,
            token_issued_at=token.issued_at if token else None,
            token_expires_at=token.expires_at if token else None,
            audience=token.audience if token else None,
            outcome=outcome,
            session_id=session_id,
            session_started_at=session_started_at,
        )
        planted = PlantedCall(
            self.incident, replace(call, **overrides), expect or Expectation()
        )
        self.incidents.planted.append(planted)


def plant_incidents(org: Organisation) -> Incidents:
    """Plant every incident of the example organisation.

    Parameters
    ----------
    org
        The organisation whose changes the incidents rely on.

    Returns
    -------
    Incidents
        The planted calls with their expectations, and the tokens they carry.
    """
    incidents = Incidents(org)
    _offboardings(incidents)
    _rehire(incidents)
    _group_removals(incidents)
    _scope_changes(incidents)
    _over_scope(incidents)
    _undecided(incidents)
    _flags(incidents)
    _agent_suspension(incidents)
    _call_fields(incidents)
    return incidents


def _offboardings(inc: Incidents) -> None:
    at = inc.clock.at

    priya = inc.party("offboard-priya", "priya.raman", "support-copilot")
    token = inc.token(at(3, "09:40:00"), "crm", timedelta(hours=8))
    ticket = {"ticket_id": 48810}
    priya.call(1, at(3, "10:15:00"), "crm_read_ticket", ticket, token=token)
    gone = Expectation(user=stale(INACTIVE))
    priya.call(
        2, at(3, "12:05:00"), "crm_read_ticket", ticket, token=token, expect=gone
    )
    priya.call(
        3, at(3, "12:20:00"), "crm_update_ticket", ticket, token=token, expect=gone
    )
    priya.call(
        4,
        at(3, "13:10:00"),
        "crm_comment_ticket",
        ticket,
        token=token,
        expect=gone,
        outcome=DENIED,
    )

    # A token minted after the deactivation: the user held nothing at delegation.
    late = inc.party("late-token-priya", "priya.raman", "support-copilot")
    token = inc.token(at(4, "08:25:00"), "crm")
    late.call(
        1,
        at(4, "08:30:00"),
        "crm_read_ticket",
        {"ticket_id": 48811},
        token=token,
        expect=Expectation(user=not_held(INACTIVE)),
        outcome=DENIED,
    )

    daniel = inc.party("offboard-daniel", "daniel.mensah", "finance-assistant")
    token = inc.token(at(8, "15:50:00"), "finance")
    gone = Expectation(user=stale(INACTIVE))
    invoice = {"invoice_id": "INV-2026-00417"}
    daniel.call(1, at(8, "16:00:00"), "finance_read_invoice", invoice, token=token)
    daniel.call(
        2, at(8, "16:45:00"), "finance_read_invoice", invoice, token=token, expect=gone
    )
    # The next morning, with the token expired as well.
    daniel.call(
        3,
        at(9, "08:10:00"),
        "finance_create_invoice",
        {"invoice_id": "INV-2026-00419"},
        token=token,
        expect=gone,
    )

    # Issued before the coverage starts, so the delegation start counts as unknown.
    sofia = inc.party("offboard-sofia", "sofia.marin", "sales-crm-assistant")
    token = inc.token(inc.clock.start - timedelta(hours=2), "crm", timedelta(days=3))
    sofia.call(
        1,
        at(2, "19:00:00"),
        "crm_read_account",
        {"account_id": "ACC-20417"},
        token=token,
        expect=Expectation(user=not_held(INACTIVE)),
    )


def _rehire(inc: Incidents) -> None:
    at = inc.clock.at
    rehired = inc.party("rehire-sofia", REHIRED_USER, "sales-crm-assistant")
    token = inc.token(at(11, "13:55:00"), "crm")
    rehired.call(
        1,
        at(11, "14:00:00"),
        "crm_export_accounts",
        {"region": "emea"},
        token=token,
        expect=Expectation(user=not_held(NO_GRANT), agent=not_held(NO_GRANT)),
    )


def _group_removals(inc: Incidents) -> None:
    at = inc.clock.at

    jonas = inc.party("group-removal-jonas", "jonas.weber", "deploy-assistant")
    token = inc.token(at(4, "13:30:00"), "deploy")
    service = {"service": "payments"}
    lost = Expectation(user=stale(NO_GRANT))
    jonas.call(1, at(4, "13:40:00"), "deploy_release", service, token=token)
    jonas.call(
        2,
        at(4, "14:00:00"),
        "deploy_release",
        service,
        token=token,
        expect=Expectation(user=stale(NO_GRANT), bracketed=True),
    )
    jonas.call(
        3, at(4, "14:00:00.000001"), "deploy_release", service, token=token, expect=lost
    )
    jonas.call(
        4,
        at(4, "14:12:00"),
        "deploy_rollback",
        service,
        token=token,
        expect=Expectation(user=stale(NO_GRANT), agent=not_held(NO_GRANT)),
        outcome=DENIED,
    )

    ines = inc.party("nested-removal", "ines.alvarez", "support-copilot")
    token = inc.token(at(10, "10:40:00"), "crm")
    ticket = {"ticket_id": 50077}
    ines.call(1, at(10, "10:50:00"), "crm_read_ticket", ticket, token=token)
    ines.call(
        2,
        at(10, "11:00:00"),
        "crm_read_ticket",
        ticket,
        token=token,
        expect=Expectation(user=stale(NO_GRANT), bracketed=True),
    )
    ines.call(
        3,
        at(10, "11:20:00"),
        "crm_update_ticket",
        ticket,
        token=token,
        expect=lost,
        outcome=DENIED,
    )
    # No token: the session start is the delegation start.
    kwame = inc.party("nested-removal", "kwame.boateng", "support-copilot")
    kwame.call(
        4,
        at(10, "11:30:00"),
        "crm_comment_ticket",
        {"ticket_id": 50081},
        token=None,
        session_started_at=at(10, "10:30:00"),
        expect=lost,
    )


def _scope_changes(inc: Incidents) -> None:
    at = inc.clock.at

    amara = inc.party("ledger-expansion", "amara.osei", "finance-assistant")
    token = inc.token(at(7, "09:25:00"), "finance")
    ledger = {"period": "2026-02"}
    amara.call(
        1,
        at(7, "09:30:00"),
        "finance_export_ledger",
        ledger,
        token=token,
        expect=Expectation(agent=not_held(NO_GRANT)),
        outcome=DENIED,
    )
    amara.call(
        2,
        at(7, "10:00:00"),
        "finance_export_ledger",
        ledger,
        token=token,
        expect=Expectation(bracketed=True),
    )
    token = inc.token(at(7, "11:10:00"), "finance")
    amara.call(3, at(7, "11:15:00"), "finance_export_ledger", ledger, token=token)

    arjun = inc.party("temporary-merge", "arjun.das", "code-review-bot")
    token = inc.token(at(9, "11:25:00"), "git")
    pull = {"repo": "web-app", "number": 1234}
    merge = "git_merge_pull_request"
    arjun.call(1, at(9, "11:30:00"), merge, pull, token=token)
    arjun.call(
        2,
        at(9, "11:35:00"),
        "git_read_pull_request",
        pull,
        token=token,
        outcome=Outcome.ERROR,
    )
    token = inc.token(at(9, "17:50:00"), "git")
    arjun.call(3, at(9, "17:59:59.999999"), merge, pull, token=token)
    arjun.call(
        4,
        at(9, "18:00:00"),
        merge,
        pull,
        token=token,
        expect=Expectation(agent=not_held(NO_GRANT), bracketed=True),
        outcome=DENIED,
    )
    arjun.call(
        5,
        at(9, "18:20:00"),
        merge,
        {"repo": "web-app", "number": 1240},
        token=token,
        expect=Expectation(agent=not_held(NO_GRANT)),
    )


def _over_scope(inc: Incidents) -> None:
    at = inc.clock.at

    omar = inc.party("ceiling-omar", "omar.haddad", "data-export-agent")
    token = inc.token(at(11, "15:15:00"), "warehouse")
    escalation = Expectation(user=not_held(NO_GRANT))
    omar.call(
        1,
        at(11, "15:18:00"),
        "warehouse_query",
        {"table": "sales_pipeline", "limit": 100},
        token=token,
    )
    omar.call(
        2,
        at(11, "15:20:00"),
        "warehouse_export_table",
        {"table": "sales_pipeline", "limit": 100000},
        token=token,
        expect=escalation,
    )
    omar.call(
        3,
        at(11, "15:26:00"),
        "warehouse_export_table",
        {"table": "sales_forecast", "limit": 100000},
        token=token,
        expect=escalation,
        outcome=DENIED,
    )

    chen = inc.party("legal-deny", "chen.li", "support-copilot")
    token = inc.token(at(14, "10:00:00"), "crm")
    deny = ReasonCode.EXPLICIT_DENY
    denied = Expectation(user=not_held(deny), agent=not_held(deny))
    legal = {"ticket_id": "legal-4471"}
    chen.call(
        1, at(14, "10:05:00"), "crm_read_ticket", legal, token=token, expect=denied
    )
    chen.call(
        2,
        at(14, "10:07:00"),
        "crm_update_ticket",
        legal,
        token=token,
        expect=denied,
        outcome=DENIED,
    )

    clara = inc.party("agent-no-grant", "clara.nowak", "calendar-scheduler")
    token = inc.token(at(14, "15:00:00"), "finance")
    for number, ts, outcome in ((1, "15:02:00", ALLOWED), (2, "15:04:00", DENIED)):
        clara.call(
            number,
            at(14, ts),
            "finance_read_invoice",
            {"invoice_id": "INV-2026-00777"},
            token=token,
            expect=Expectation(agent=not_held(NO_GRANT)),
            outcome=outcome,
        )


def _undecided(inc: Incidents) -> None:
    at = inc.clock.at

    julia = inc.party("unmapped-tool", "julia.costa", "support-copilot")
    token = inc.token(at(15, "11:00:00"), "crm")
    julia.call(
        1,
        at(15, "11:02:00"),
        "crm_bulk_merge",
        {"ticket_ids": [41001, 41002]},
        token=token,
        resource_server=SERVERS["crm"],
        expect=Expectation(undecided=ReasonCode.UNMAPPED_TOOL),
    )
    julia = inc.party("missing-argument", "julia.costa", "support-copilot")
    julia.call(
        1,
        at(15, "11:05:00"),
        "crm_read_ticket",
        {"ticket": 48213},
        token=token,
        expect=Expectation(undecided=ReasonCode.MISSING_ARGUMENT),
    )

    nightly = inc.party("no-subject", None, "security-triage-bot")
    token = inc.token(at(16, "02:59:00"), "deploy")
    no_subject = undecided(ReasonCode.NO_SUBJECT)
    service = {"service": "payments"}
    nightly.call(
        1,
        at(16, "03:00:00"),
        "deploy_read_logs",
        service,
        token=token,
        expect=Expectation(user=no_subject),
    )
    nightly.call(
        2,
        at(16, "03:02:00"),
        "deploy_release",
        service,
        token=token,
        expect=Expectation(user=no_subject, agent=not_held(NO_GRANT)),
    )

    _uncovered(inc)
    _conditions(inc)


def _uncovered(inc: Incidents) -> None:
    uncovered = Expectation(undecided=ReasonCode.NO_ENTITLEMENT_COVERAGE)
    start, end = inc.clock.start, inc.clock.end
    for number, ts, user in (
        (1, start - timedelta(hours=1), "hana.sato"),
        (2, end, "hana.sato"),
        (3, end + timedelta(hours=2), "priya.raman"),
    ):
        party = inc.party("no-coverage", user, "support-copilot")
        token = inc.token(ts - timedelta(minutes=5), "crm")
        party.call(
            number,
            ts,
            "crm_read_ticket",
            {"ticket_id": 47000 + number},
            token=token,
            expect=uncovered,
        )


def _conditions(inc: Incidents) -> None:
    at = inc.clock.at
    user_condition = Expectation(user=undecided(CONDITION))

    nadia = inc.party("conditions", "nadia.karimi", "hr-onboarding-helper")
    token = inc.token(at(17, "09:58:00"), "hr")
    nadia.call(
        1,
        at(17, "10:00:00"),
        "hr_read_salary",
        {"employee_id": "E10422"},
        token=token,
        expect=user_condition,
    )
    nadia.call(
        2,
        at(17, "10:03:00"),
        "hr_update_employee",
        {"employee_id": "exec-007"},
        token=token,
        expect=user_condition,
    )

    nadia = inc.party("conditions", "nadia.karimi", "calendar-scheduler")
    token = inc.token(at(17, "10:28:00"), "calendar")
    nadia.call(
        3,
        at(17, "10:30:00"),
        "calendar_delete_event",
        {"event_id": "EV-88812"},
        token=token,
        expect=Expectation(agent=undecided(CONDITION)),
    )


def _flags(inc: Incidents) -> None:
    at = inc.clock.at

    mei = inc.party("run-as-user", "mei.tanaka", None)
    token = inc.token(at(18, "08:58:00"), "git")
    mei.call(1, at(18, "09:00:00"), "git_read_repo", {"repo": "infra"}, token=token)
    mei_as_agent = inc.party("run-as-user", "mei.tanaka", "mei.tanaka")
    mei_as_agent.call(
        2,
        at(18, "09:02:00"),
        "git_comment_pull_request",
        {"repo": "infra", "number": 88},
        token=token,
    )
    token = inc.token(at(18, "09:08:00"), "hr")
    mei.call(
        3,
        at(18, "09:10:00"),
        "hr_read_employee",
        {"employee_id": "E10001"},
        token=token,
        expect=Expectation(user=not_held(NO_GRANT)),
        outcome=DENIED,
    )

    # A token for the docs server presented to the calendar server.
    leo = inc.party("token-flags", "leo.martin", "calendar-scheduler")
    token = inc.token(at(21, "10:00:00"), "docs")
    leo.call(
        1,
        at(21, "10:02:00"),
        "calendar_list_events",
        {"user": "leo.martin", "days_ahead": 7},
        token=token,
    )
    # One crm token replayed at the mail server: forwarded, not exchanged.
    hana = inc.party("token-flags", "hana.sato", "support-copilot")
    token = inc.token(at(21, "10:10:00"), "crm")
    hana.call(
        2, at(21, "10:12:00"), "crm_read_ticket", {"ticket_id": 52210}, token=token
    )
    hana.call(
        3,
        at(21, "10:14:00"),
        "mail_send",
        {"mailbox": "support", "to": "customer9@mail.example.test"},
        token=token,
    )
    token = inc.token(at(21, "10:30:00"), "crm", timedelta(minutes=30))
    hana.call(
        4, at(21, "11:30:00"), "crm_read_ticket", {"ticket_id": 52211}, token=token
    )


def _agent_suspension(inc: Incidents) -> None:
    at = inc.clock.at
    ravi = inc.party("deploy-suspension", "ravi.iyer", "deploy-assistant")
    service = {"service": "billing"}
    suspended = Expectation(agent=not_held(INACTIVE))

    token = inc.token(at(16, "13:25:00"), "deploy")
    ravi.call(
        1,
        at(16, "13:30:00"),
        "deploy_read_status",
        service,
        token=token,
        expect=suspended,
    )
    token = inc.token(at(16, "14:05:00"), "deploy")
    ravi.call(
        2,
        at(16, "14:10:00"),
        "deploy_release",
        service,
        token=token,
        expect=suspended,
        outcome=DENIED,
    )
    token = inc.token(at(16, "14:58:00"), "deploy")
    ravi.call(
        3,
        at(16, "15:00:00"),
        "deploy_read_status",
        service,
        token=token,
        expect=Expectation(bracketed=True),
    )


def _call_fields(inc: Incidents) -> None:
    at = inc.clock.at

    # Not in the catalog, but the log states the action and resource. No tier: write.
    arjun = inc.party("own-action", "arjun.das", "code-review-bot")
    token = inc.token(at(22, "13:58:00"), "git")
    arjun.call(
        1,
        at(22, "14:00:00"),
        "git_prune_branches",
        {"repo": "payments", "branch": "hotfix-12"},
        token=token,
        action="git:DeleteBranch",
        resource="git:repo/payments/branch/hotfix-12",
        resource_server=SERVERS["git"],
        expect=Expectation(agent=not_held(NO_GRANT)),
    )

    leo = inc.party("own-action", "leo.martin", "support-copilot")
    token = inc.token(at(22, "14:28:00"), "crm")
    ticket = {"ticket_id": 51234}
    # Actions compare case-insensitively.
    leo.call(
        2,
        at(22, "14:30:00"),
        "crm_read_ticket",
        ticket,
        token=token,
        action="CRM:readticket",
        resource="crm:ticket/51234",
    )
    # Resources compare case-sensitively.
    leo.call(
        3,
        at(22, "14:32:00"),
        "crm_read_ticket",
        ticket,
        token=token,
        action="crm:ReadTicket",
        resource="CRM:Ticket/51234",
        expect=Expectation(user=not_held(NO_GRANT), agent=not_held(NO_GRANT)),
        outcome=DENIED,
    )

    chain = inc.party("actor-chain", "leo.martin", "docs-search-agent")
    token = inc.token(at(22, "15:00:00"), "docs")
    chain.call(
        1,
        at(22, "15:02:00"),
        "docs_search",
        {"space": "support", "query": "refund policy"},
        token=token,
        actor_chain=("docs-search-agent", "support-copilot"),
    )
