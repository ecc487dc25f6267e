"""The example organisation: people, groups, agents, tools and their entitlements.

Every name, id and instant here is fixed for a given start and length of the period;
the seed only moves the background activity. The changes that the planted incidents
rely on (offboardings, group moves, scope changes, a suspension) are listed in
:class:`Timeline` and written into the grants, memberships and events below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from auditkit.demo.records import (
    CatalogRow,
    Clock,
    CoverageRow,
    EventRow,
    GrantRow,
    MembershipRow,
)
from auditkit.models import Effect, LifecycleEventType, PrincipalType, RiskTier

USER = PrincipalType.USER
GROUP = PrincipalType.GROUP
ROLE = PrincipalType.ROLE
AGENT = PrincipalType.AGENT

SERVERS: dict[str, str] = {
    service: f"https://{service}.example.test"
    for service in (
        "crm",
        "git",
        "finance",
        "warehouse",
        "calendar",
        "hr",
        "docs",
        "deploy",
        "mail",
    )
}

# tool, action, resource template, risk tier
_TOOLS: tuple[tuple[str, str, str, RiskTier], ...] = (
    ("crm_read_ticket", "crm:ReadTicket", "crm:ticket/{ticket_id}", RiskTier.READ),
    (
        "crm_comment_ticket",
        "crm:CommentTicket",
        "crm:ticket/{ticket_id}",
        RiskTier.WRITE,
    ),
    ("crm_update_ticket", "crm:UpdateTicket", "crm:ticket/{ticket_id}", RiskTier.WRITE),
    (
        "crm_delete_ticket",
        "crm:DeleteTicket",
        "crm:ticket/{ticket_id}",
        RiskTier.DELETE,
    ),
    ("crm_read_account", "crm:ReadAccount", "crm:account/{account_id}", RiskTier.READ),
    (
        "crm_update_account",
        "crm:UpdateAccount",
        "crm:account/{account_id}",
        RiskTier.WRITE,
    ),
    (
        "crm_export_accounts",
        "crm:ExportAccounts",
        "crm:export/{region}",
        RiskTier.EXPORT,
    ),
    ("git_read_repo", "git:ReadRepo", "git:repo/{repo}", RiskTier.READ),
    (
        "git_read_pull_request",
        "git:ReadPullRequest",
        "git:repo/{repo}/pull/{number}",
        RiskTier.READ,
    ),
    (
        "git_comment_pull_request",
        "git:CommentPullRequest",
        "git:repo/{repo}/pull/{number}",
        RiskTier.WRITE,
    ),
    (
        "git_merge_pull_request",
        "git:MergePullRequest",
        "git:repo/{repo}/pull/{number}",
        RiskTier.WRITE,
    ),
    (
        "finance_read_invoice",
        "finance:ReadInvoice",
        "finance:invoice/{invoice_id}",
        RiskTier.READ,
    ),
    (
        "finance_create_invoice",
        "finance:CreateInvoice",
        "finance:invoice/{invoice_id}",
        RiskTier.WRITE,
    ),
    (
        "finance_approve_payment",
        "finance:ApprovePayment",
        "finance:payment/{payment_id}",
        RiskTier.ADMIN,
    ),
    (
        "finance_export_ledger",
        "finance:ExportLedger",
        "finance:ledger/{period}",
        RiskTier.EXPORT,
    ),
    ("warehouse_query", "warehouse:Query", "warehouse:table/{table}", RiskTier.READ),
    (
        "warehouse_export_table",
        "warehouse:ExportTable",
        "warehouse:table/{table}",
        RiskTier.EXPORT,
    ),
    (
        "warehouse_share_external",
        "warehouse:ShareExternal",
        "warehouse:table/{table}",
        RiskTier.EXTERNAL,
    ),
    (
        "calendar_list_events",
        "calendar:ListEvents",
        "calendar:user/{user}",
        RiskTier.READ,
    ),
    (
        "calendar_create_event",
        "calendar:CreateEvent",
        "calendar:user/{user}",
        RiskTier.WRITE,
    ),
    (
        "calendar_delete_event",
        "calendar:DeleteEvent",
        "calendar:event/{event_id}",
        RiskTier.DELETE,
    ),
    ("hr_read_employee", "hr:ReadEmployee", "hr:employee/{employee_id}", RiskTier.READ),
    (
        "hr_create_employee",
        "hr:CreateEmployee",
        "hr:employee/{employee_id}",
        RiskTier.WRITE,
    ),
    (
        "hr_update_employee",
        "hr:UpdateEmployee",
        "hr:employee/{employee_id}",
        RiskTier.WRITE,
    ),
    (
        "hr_read_salary",
        "hr:ReadSalary",
        "hr:employee/{employee_id}/salary",
        RiskTier.READ,
    ),
    ("docs_search", "docs:Search", "docs:space/{space}", RiskTier.READ),
    (
        "docs_read_page",
        "docs:ReadPage",
        "docs:space/{space}/page/{page_id}",
        RiskTier.READ,
    ),
    (
        "deploy_read_status",
        "deploy:ReadStatus",
        "deploy:service/{service}",
        RiskTier.READ,
    ),
    ("deploy_read_logs", "deploy:ReadLogs", "deploy:service/{service}", RiskTier.READ),
    ("deploy_release", "deploy:Release", "deploy:service/{service}", RiskTier.ADMIN),
    ("deploy_rollback", "deploy:Rollback", "deploy:service/{service}", RiskTier.ADMIN),
    ("mail_send", "mail:SendMessage", "mail:mailbox/{mailbox}", RiskTier.EXTERNAL),
    ("mail_read_inbox", "mail:ReadMessage", "mail:mailbox/{mailbox}", RiskTier.READ),
)

DEPARTMENTS: dict[str, tuple[str, ...]] = {
    "support": (
        "priya.raman",
        "chen.li",
        "hana.sato",
        "leo.martin",
        "lucas.petit",
        "ines.alvarez",
        "kwame.boateng",
        "olga.ivanova",
        "samir.nasser",
        "julia.costa",
        "tariq.aziz",
        "emma.walsh",
    ),
    "engineering": (
        "jonas.weber",
        "arjun.das",
        "mei.tanaka",
        "ravi.iyer",
        "noah.klein",
        "sara.lindqvist",
        "diego.ramos",
        "yuki.mori",
        "felix.baum",
        "anika.roy",
        "paul.mercier",
        "zoe.hart",
    ),
    "finance": (
        "amara.osei",
        "daniel.mensah",
        "clara.nowak",
        "ivan.petrov",
        "lucia.ferri",
        "ben.ortiz",
    ),
    "sales": (
        "omar.haddad",
        "sofia.marin",
        "grace.kim",
        "mateo.silva",
        "nina.berg",
        "oscar.lund",
        "rosa.vega",
        "adam.cole",
        "elif.yilmaz",
    ),
    "data": ("wei.zhang", "fatima.ali", "jakob.hansen", "maya.singh", "luis.mora"),
    "hr": ("nadia.karimi", "tom.brandt", "irene.costa", "kofi.owusu"),
    "security": ("lena.fischer", "maria.okafor", "sven.nilsson", "aiko.fujita"),
}

# Team groups nested inside a department group. Their members are not direct members
# of the department, so they reach its grants only through the nesting.
TEAMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "grp-support-escalations": ("grp-support", ("ines.alvarez", "kwame.boateng")),
    "grp-eng-platform": (
        "grp-engineering",
        ("jonas.weber", "ravi.iyer", "noah.klein", "sara.lindqvist"),
    ),
}

REHIRED_USER = "sofia.marin2"

AGENT_PURPOSES: dict[str, str] = {
    "support-copilot": "drafts replies and updates support tickets, mails customers",
    "code-review-bot": "reads pull requests and comments on them",
    "finance-assistant": "reads and drafts invoices, exports the ledger at month end",
    "data-export-agent": "runs warehouse queries and exports tables",
    "calendar-scheduler": "reads calendars and books meetings",
    "hr-onboarding-helper": "creates and updates employee records for new hires",
    "sales-crm-assistant": "reads and updates customer accounts, mails prospects",
    "security-triage-bot": "reads deployment logs and repositories during incidents",
    "docs-search-agent": "searches and reads the internal wiki",
    "deploy-assistant": "checks service status and releases builds",
}

IT_ADMIN = "maria.okafor"
SECURITY_ADMIN = "lena.fischer"
HR_ADMIN = "tom.brandt"

SALARY_CONDITION = "request.network == 'corporate'"
EXEC_RECORD_CONDITION = "resource.owner != principal.manager"
CALENDAR_DELETE_CONDITION = "resource.organizer == subject"


@dataclass(frozen=True)
class Timeline:
    """Instants of the changes that the planted incidents depend on."""

    sofia_leaves: datetime
    sofia_cleanup: datetime
    priya_leaves: datetime
    jonas_moves: datetime
    priya_cleanup: datetime
    ledger_expansion: datetime
    daniel_leaves: datetime
    merge_from: datetime
    merge_to: datetime
    sofia_rehired: datetime
    daniel_cleanup: datetime
    escalations_unnested: datetime
    escalations_readded: datetime
    lucas_moves: datetime
    deploy_suspended: datetime
    deploy_reactivated: datetime

    @classmethod
    def for_clock(cls, clock: Clock) -> Timeline:
        """Place every change on its fixed day and time of the period."""
        return cls(
            sofia_leaves=clock.at(2, "18:00:00"),
            sofia_cleanup=clock.at(3, "09:00:00"),
            priya_leaves=clock.at(3, "12:00:00"),
            jonas_moves=clock.at(4, "14:00:00"),
            priya_cleanup=clock.at(5, "09:00:00"),
            ledger_expansion=clock.at(7, "10:00:00"),
            daniel_leaves=clock.at(8, "16:30:00"),
            merge_from=clock.at(9, "08:00:00"),
            merge_to=clock.at(9, "18:00:00"),
            sofia_rehired=clock.at(10, "09:00:00"),
            daniel_cleanup=clock.at(10, "09:30:00"),
            escalations_unnested=clock.at(10, "11:00:00"),
            escalations_readded=clock.at(11, "09:00:00"),
            lucas_moves=clock.at(15, "08:00:00"),
            deploy_suspended=clock.at(16, "13:00:00"),
            deploy_reactivated=clock.at(16, "15:00:00"),
        )


@dataclass(frozen=True)
class Posting:
    """A stretch of time in which a user works under one persona (set of habits)."""

    persona: str
    start: datetime
    end: datetime


@dataclass
class Organisation:
    """Every fixed input of the example, plus the handles the incidents refer to."""

    clock: Clock
    timeline: Timeline
    catalog: list[CatalogRow]
    coverage: list[CoverageRow]
    grants: list[GrantRow] = field(default_factory=list)
    memberships: list[MembershipRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    postings: dict[str, list[Posting]] = field(default_factory=dict)
    agent_blackouts: dict[str, list[tuple[datetime, datetime]]] = field(
        default_factory=dict
    )
    named_grants: dict[str, GrantRow] = field(default_factory=dict)
    named_events: dict[str, EventRow] = field(default_factory=dict)

    def add_grant(
        self,
        principal: tuple[PrincipalType, str],
        action: str,
        resource: str,
        *,
        effect: Effect = Effect.ALLOW,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        condition: str | None = None,
        changed_by: str | None = IT_ADMIN,
        name: str | None = None,
    ) -> GrantRow:
        """Append a grant with the next id.

        Baseline grants start 120 days before the period and name the IT admin as
        their author, unless the caller says otherwise.
        """
        grant = GrantRow(
            grant_id=f"g-{len(self.grants) + 1:04d}",
            principal_type=principal[0],
            principal_id=principal[1],
            effect=effect,
            action=action,
            resource=resource,
            valid_from=valid_from or self.clock.start - timedelta(days=120),
            valid_to=valid_to,
            condition=condition,
            changed_by=changed_by,
        )
        self.grants.append(grant)
        if name is not None:
            self.named_grants[name] = grant
        return grant

    def add_membership(
        self,
        member: tuple[PrincipalType, str],
        parent: tuple[PrincipalType, str],
        *,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        changed_by: str | None = IT_ADMIN,
    ) -> MembershipRow:
        """Append a membership with the next id."""
        membership = MembershipRow(
            membership_id=f"m-{len(self.memberships) + 1:04d}",
            member_type=member[0],
            member_id=member[1],
            parent_type=parent[0],
            parent_id=parent[1],
            valid_from=valid_from or self.clock.start - timedelta(days=120),
            valid_to=valid_to,
            changed_by=changed_by,
        )
        self.memberships.append(membership)
        return membership

    def add_event(
        self,
        name: str,
        ts: datetime,
        principal: tuple[PrincipalType, str],
        event_type: LifecycleEventType,
        *,
        changed_by: str,
        detail: str,
    ) -> EventRow:
        """Append a lifecycle event with the next id."""
        event = EventRow(
            event_id=f"evt-{len(self.events) + 1001}",
            ts=ts,
            principal_type=principal[0],
            principal_id=principal[1],
            event_type=event_type,
            changed_by=changed_by,
            detail=detail,
        )
        self.events.append(event)
        self.named_events[name] = event
        return event


def build_organisation(clock: Clock) -> Organisation:
    """Build the example organisation for a period.

    Parameters
    ----------
    clock
        Start and length of the period; every change is placed relative to its start.

    Returns
    -------
    Organisation
        Catalog, coverage, grants, memberships, events and the users' postings.
    """
    catalog = [
        CatalogRow(tool, action, template, tier, SERVERS[action.split(":")[0]])
        for tool, action, template, tier in _TOOLS
    ]
    coverage = [
        CoverageRow("cov-1", clock.start, clock.end, "directory and policy export")
    ]
    org = Organisation(clock, Timeline.for_clock(clock), catalog, coverage)

    _add_user_grants(org)
    _add_agent_grants(org)
    _add_group_structure(org)
    _add_agent_roles(org)
    _add_changes(org)
    _add_postings(org)
    return org


def _add_user_grants(org: Organisation) -> None:
    staff = (GROUP, "grp-all-staff")
    org.add_grant(staff, "calendar:*", "calendar:*")
    org.add_grant(staff, "docs:Search", "docs:space/*")
    org.add_grant(staff, "docs:Read*", "docs:space/*")

    support = (GROUP, "grp-support")
    org.add_grant(support, "crm:Read*", "crm:ticket/*")
    org.add_grant(support, "crm:UpdateTicket", "crm:ticket/*")
    org.add_grant(support, "crm:CommentTicket", "crm:ticket/*")
    org.add_grant(support, "mail:*", "mail:mailbox/support*")
    org.add_grant(
        support, "crm:*", "crm:ticket/legal-*", effect=Effect.DENY, name="legal_deny"
    )
    org.add_grant(
        (GROUP, "grp-support-escalations"), "crm:DeleteTicket", "crm:ticket/*"
    )

    org.add_grant((GROUP, "grp-engineering"), "git:*", "git:repo/*")
    org.add_grant((GROUP, "grp-engineering"), "deploy:Read*", "deploy:service/*")
    org.add_grant(
        (GROUP, "grp-eng-platform"),
        "deploy:*",
        "deploy:service/*",
        name="platform_deploy",
    )

    finance = (GROUP, "grp-finance")
    org.add_grant(finance, "finance:ReadInvoice", "finance:invoice/*")
    org.add_grant(finance, "finance:CreateInvoice", "finance:invoice/*")
    org.add_grant(finance, "finance:ExportLedger", "finance:ledger/*")

    sales = (GROUP, "grp-sales")
    org.add_grant(sales, "crm:ReadAccount", "crm:account/*")
    org.add_grant(sales, "crm:UpdateAccount", "crm:account/*")
    org.add_grant(sales, "mail:SendMessage", "mail:mailbox/sales*")
    org.add_grant(sales, "warehouse:Query", "warehouse:table/*")

    org.add_grant((GROUP, "grp-data"), "warehouse:*", "warehouse:table/*")

    hr = (GROUP, "grp-hr")
    org.add_grant(hr, "hr:ReadEmployee", "hr:employee/*")
    org.add_grant(hr, "hr:CreateEmployee", "hr:employee/*")
    org.add_grant(hr, "hr:UpdateEmployee", "hr:employee/*")
    org.add_grant(hr, "hr:ReadSalary", "hr:employee/*", condition=SALARY_CONDITION)
    org.add_grant(
        hr,
        "hr:UpdateEmployee",
        "hr:employee/exec-*",
        effect=Effect.DENY,
        condition=EXEC_RECORD_CONDITION,
    )

    security = (GROUP, "grp-security")
    org.add_grant(security, "deploy:Read*", "deploy:service/*")
    org.add_grant(security, "deploy:Rollback", "deploy:service/*")
    org.add_grant(security, "git:ReadRepo", "git:repo/*")

    # Never revoked after the departure: the re-hired id must not inherit it.
    org.add_grant(
        (USER, "sofia.marin"),
        "crm:ExportAccounts",
        "crm:export/*",
        changed_by=IT_ADMIN,
        name="sofia_old_export",
    )


def _add_agent_grants(org: Organisation) -> None:
    org.add_grant((ROLE, "role-agent-base"), "docs:Search", "docs:space/*")

    copilot = (ROLE, "role-support-copilot")
    org.add_grant(copilot, "crm:Read*", "crm:ticket/*")
    org.add_grant(copilot, "crm:UpdateTicket", "crm:ticket/*")
    org.add_grant(copilot, "crm:CommentTicket", "crm:ticket/*")
    org.add_grant(copilot, "mail:SendMessage", "mail:mailbox/support*")
    org.add_grant(copilot, "crm:*", "crm:ticket/legal-*", effect=Effect.DENY)

    reviewer = (ROLE, "role-code-reviewer")
    org.add_grant(reviewer, "git:ReadRepo", "git:repo/*")
    org.add_grant(reviewer, "git:ReadPullRequest", "git:repo/*")
    org.add_grant(reviewer, "git:CommentPullRequest", "git:repo/*")

    finance = (ROLE, "role-finance-assistant")
    org.add_grant(finance, "finance:ReadInvoice", "finance:invoice/*")
    org.add_grant(finance, "finance:CreateInvoice", "finance:invoice/*")

    export = (ROLE, "role-data-export")
    org.add_grant(export, "warehouse:Query", "warehouse:table/*")
    org.add_grant(
        export, "warehouse:ExportTable", "warehouse:table/*", name="agent_export_table"
    )
    org.add_grant(
        export,
        "warehouse:ShareExternal",
        "warehouse:table/*",
        name="agent_share_external",
    )

    scheduler = (ROLE, "role-calendar-scheduler")
    org.add_grant(scheduler, "calendar:ListEvents", "calendar:user/*")
    org.add_grant(scheduler, "calendar:CreateEvent", "calendar:user/*")
    org.add_grant(
        scheduler,
        "calendar:DeleteEvent",
        "calendar:event/*",
        condition=CALENDAR_DELETE_CONDITION,
    )

    onboarding = (ROLE, "role-hr-onboarding")
    org.add_grant(onboarding, "hr:ReadEmployee", "hr:employee/*")
    org.add_grant(onboarding, "hr:CreateEmployee", "hr:employee/*")
    org.add_grant(onboarding, "hr:UpdateEmployee", "hr:employee/*")
    # The same condition as HR staff have, so the helper never exceeds their ceiling.
    org.add_grant(
        onboarding, "hr:ReadSalary", "hr:employee/*", condition=SALARY_CONDITION
    )
    org.add_grant(onboarding, "docs:Read*", "docs:space/onboarding*")

    sales = (ROLE, "role-sales-crm")
    org.add_grant(sales, "crm:ReadAccount", "crm:account/*")
    org.add_grant(sales, "crm:UpdateAccount", "crm:account/*")
    org.add_grant(sales, "mail:SendMessage", "mail:mailbox/sales*")

    triage = (ROLE, "role-security-triage")
    org.add_grant(triage, "deploy:Read*", "deploy:service/*")
    org.add_grant(triage, "git:ReadRepo", "git:repo/*")
    org.add_grant(triage, "deploy:Rollback", "deploy:service/*")

    docs = (ROLE, "role-docs-search")
    org.add_grant(docs, "docs:Search", "docs:space/*")
    org.add_grant(docs, "docs:ReadPage", "docs:space/*")

    deploy = (ROLE, "role-deploy")
    org.add_grant(deploy, "deploy:Read*", "deploy:service/*")
    org.add_grant(deploy, "deploy:Release", "deploy:service/*")


def _add_group_structure(org: Organisation) -> None:
    staff_since = org.clock.start - timedelta(days=365)
    for department in DEPARTMENTS:
        org.add_membership(
            (GROUP, f"grp-{department}"),
            (GROUP, "grp-all-staff"),
            valid_from=staff_since,
        )

    team_members = {user for _, members in TEAMS.values() for user in members}
    for department, users in DEPARTMENTS.items():
        for user in users:
            if user not in team_members:
                org.add_membership((USER, user), (GROUP, f"grp-{department}"))

    for team, (parent, members) in TEAMS.items():
        valid_to = None
        changed_by = None
        if team == "grp-support-escalations":
            valid_to = org.timeline.escalations_unnested
            changed_by = IT_ADMIN
        org.add_membership(
            (GROUP, team), (GROUP, parent), valid_to=valid_to, changed_by=changed_by
        )
        for user in members:
            user_to = org.timeline.jonas_moves if user == "jonas.weber" else None
            org.add_membership(
                (USER, user),
                (GROUP, team),
                valid_to=user_to,
                changed_by=IT_ADMIN if user_to else None,
            )


def _add_agent_roles(org: Organisation) -> None:
    roles = {
        "support-copilot": "role-support-copilot",
        "code-review-bot": "role-code-reviewer",
        "finance-assistant": "role-finance-assistant",
        "data-export-agent": "role-data-export",
        "calendar-scheduler": "role-calendar-scheduler",
        "hr-onboarding-helper": "role-hr-onboarding",
        "sales-crm-assistant": "role-sales-crm",
        "security-triage-bot": "role-security-triage",
        "docs-search-agent": "role-docs-search",
        "deploy-assistant": "role-deploy",
    }
    for agent, role in roles.items():
        org.add_membership((AGENT, agent), (ROLE, role))
        org.add_membership((ROLE, role), (ROLE, "role-agent-base"))


def _add_changes(org: Organisation) -> None:
    _add_offboardings(org)
    _add_moves(org)
    _add_scope_changes(org)


def _add_offboardings(org: Organisation) -> None:
    times = org.timeline
    org.add_event(
        "sofia_leaves",
        times.sofia_leaves,
        (USER, "sofia.marin"),
        LifecycleEventType.DEACTIVATED,
        changed_by=HR_ADMIN,
        detail="left the company",
    )
    _end_memberships(org, "sofia.marin", times.sofia_cleanup)

    org.add_event(
        "priya_leaves",
        times.priya_leaves,
        (USER, "priya.raman"),
        LifecycleEventType.DEACTIVATED,
        changed_by=IT_ADMIN,
        detail="offboarded",
    )
    _end_memberships(org, "priya.raman", times.priya_cleanup)

    org.add_event(
        "daniel_leaves",
        times.daniel_leaves,
        (USER, "daniel.mensah"),
        LifecycleEventType.DEACTIVATED,
        changed_by=HR_ADMIN,
        detail="offboarded",
    )
    _end_memberships(org, "daniel.mensah", times.daniel_cleanup)

    org.add_event(
        "sofia_rehired",
        times.sofia_rehired,
        (USER, REHIRED_USER),
        LifecycleEventType.CREATED,
        changed_by=HR_ADMIN,
        detail="re-hired; previously sofia.marin",
    )
    org.add_membership(
        (USER, REHIRED_USER),
        (GROUP, "grp-sales"),
        valid_from=times.sofia_rehired,
        changed_by=HR_ADMIN,
    )


def _end_memberships(org: Organisation, user: str, instant: datetime) -> None:
    # Directory clean-up removes the departed user's groups some hours after the
    # deactivation, as SCIM deprovisioning does.
    for index, membership in enumerate(org.memberships):
        if membership.member_type is USER and membership.member_id == user:
            org.memberships[index] = MembershipRow(
                membership_id=membership.membership_id,
                member_type=membership.member_type,
                member_id=membership.member_id,
                parent_type=membership.parent_type,
                parent_id=membership.parent_id,
                valid_from=membership.valid_from,
                valid_to=instant,
                changed_by=IT_ADMIN,
            )


def _add_moves(org: Organisation) -> None:
    times = org.timeline
    org.add_event(
        "jonas_moves",
        times.jonas_moves,
        (USER, "jonas.weber"),
        LifecycleEventType.ROLE_REMOVED,
        changed_by=IT_ADMIN,
        detail="left grp-eng-platform for the application team",
    )
    org.add_membership(
        (USER, "jonas.weber"),
        (GROUP, "grp-engineering"),
        valid_from=times.jonas_moves,
        changed_by=IT_ADMIN,
    )

    for user in TEAMS["grp-support-escalations"][1]:
        org.add_membership(
            (USER, user),
            (GROUP, "grp-support"),
            valid_from=times.escalations_readded,
            changed_by=IT_ADMIN,
        )

    for index, membership in enumerate(org.memberships):
        if membership.member_id == "lucas.petit":
            org.memberships[index] = MembershipRow(
                membership_id=membership.membership_id,
                member_type=membership.member_type,
                member_id=membership.member_id,
                parent_type=membership.parent_type,
                parent_id=membership.parent_id,
                valid_from=membership.valid_from,
                valid_to=times.lucas_moves,
                changed_by=IT_ADMIN,
            )
    org.add_membership(
        (USER, "lucas.petit"),
        (GROUP, "grp-sales"),
        valid_from=times.lucas_moves,
        changed_by=IT_ADMIN,
    )


def _add_scope_changes(org: Organisation) -> None:
    times = org.timeline
    org.add_grant(
        (AGENT, "finance-assistant"),
        "finance:ExportLedger",
        "finance:ledger/*",
        valid_from=times.ledger_expansion,
        changed_by=SECURITY_ADMIN,
        name="ledger_expansion",
    )
    org.add_event(
        "ledger_expansion",
        times.ledger_expansion,
        (AGENT, "finance-assistant"),
        LifecycleEventType.SCOPE_CHANGED,
        changed_by=SECURITY_ADMIN,
        detail="granted finance:ExportLedger for month-end close",
    )

    org.add_grant(
        (AGENT, "code-review-bot"),
        "git:MergePullRequest",
        "git:repo/*",
        valid_from=times.merge_from,
        valid_to=times.merge_to,
        changed_by=IT_ADMIN,
        name="temporary_merge",
    )
    org.add_event(
        "merge_granted",
        times.merge_from,
        (AGENT, "code-review-bot"),
        LifecycleEventType.SCOPE_CHANGED,
        changed_by=IT_ADMIN,
        detail="merge rights for the release day, until 18:00Z",
    )

    org.add_event(
        "deploy_suspended",
        times.deploy_suspended,
        (AGENT, "deploy-assistant"),
        LifecycleEventType.SUSPENDED,
        changed_by=SECURITY_ADMIN,
        detail="suspended during a credential review",
    )
    org.add_event(
        "deploy_reactivated",
        times.deploy_reactivated,
        (AGENT, "deploy-assistant"),
        LifecycleEventType.REACTIVATED,
        changed_by=SECURITY_ADMIN,
        detail="credential review finished",
    )
    org.agent_blackouts["deploy-assistant"] = [
        (times.deploy_suspended, times.deploy_reactivated)
    ]


def _add_postings(org: Organisation) -> None:
    start, end = org.clock.start, org.clock.end
    times = org.timeline
    for department, users in DEPARTMENTS.items():
        for user in users:
            org.postings[user] = [Posting(department, start, end)]

    for user in TEAMS["grp-eng-platform"][1]:
        org.postings[user] = [Posting("platform", start, end)]
    org.postings["omar.haddad"] = [Posting("sales_analyst", start, end)]

    org.postings["sofia.marin"] = [Posting("sales", start, times.sofia_leaves)]
    org.postings[REHIRED_USER] = [Posting("sales", times.sofia_rehired, end)]
    org.postings["priya.raman"] = [Posting("support", start, times.priya_leaves)]
    org.postings["daniel.mensah"] = [Posting("finance", start, times.daniel_leaves)]
    org.postings["jonas.weber"] = [
        Posting("platform", start, times.jonas_moves),
        Posting("engineering", times.jonas_moves, end),
    ]
    for user in TEAMS["grp-support-escalations"][1]:
        org.postings[user] = [
            Posting("support", start, times.escalations_unnested),
            Posting("support", times.escalations_readded, end),
        ]
    org.postings["lucas.petit"] = [
        Posting("support", start, times.lucas_moves),
        Posting("sales", times.lucas_moves, end),
    ]
