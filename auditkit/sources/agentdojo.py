"""AgentDojo traces and suite environments as canonical calls and grants.

AgentDojo (ethz-spylab/agentdojo) records one JSON trace per run of a model on a user
task, benign or under a prompt-injection attack, laid out as
``runs/<model>/<suite>/<user_task>/<attack|none>/<injection_task|none>.json``. Beside
``runs/`` sit ``suites/<suite>/environment.yaml`` (the world of the suite) and
``ground_truth_tools.json`` (every task's ground-truth calls, per benchmark version).

This module maps those files onto canonical records:

- every assistant tool call becomes a :class:`~auditkit.models.ToolCall` whose
  subject is the suite's user and whose actor is ``<pipeline>/<suite>/<user_task>``,
  because the agent's scope differs per task;
- the suite environment becomes grants of that user (bank account, files, channels,
  drive files shared ``r`` or ``rw``);
- the ground-truth calls of a user task become the agent's scope, either per tool
  (``tools``) or per tool and resource (``arguments``), optionally widened by a
  suite-wide read-only tier.

Each tool needs the action ``<suite>:<tool>`` and a resource built from the arguments
that name a resource (see :data:`TOOL_SPECS`). The adapter fills the resource of each
call itself, because several resource arguments are optional or lists, and a catalog
template cannot express either. The catalog rows carry the same template for reference,
and the risk tier.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from auditkit.errors import InputError

SCOPE_LEVELS = ("tools", "arguments")
SUITES = ("banking", "slack", "travel", "workspace")

# Fixed instants: AgentDojo traces carry no time, so calls get a synthetic clock that
# starts after every grant.
GRANTS_FROM = datetime(2024, 1, 1, tzinfo=UTC)
CALLS_FROM = datetime(2024, 1, 2, tzinfo=UTC)

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_URL_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@dataclass(frozen=True)
class ResourceArgument:
    """An argument that names a resource, and the label it gets in the resource."""

    name: str
    label: str
    kind: str = "name"
    without_subject: bool = False


@dataclass(frozen=True)
class ToolSpec:
    """Risk tier and resource recipe of one AgentDojo tool.

    ``base`` may contain ``{own}``, replaced by the suite's own object (the user's
    IBAN in the banking suite). The resource is ``base`` followed by
    ``/<label>/<value>`` for every resource argument the call carries.
    """

    tier: str
    base: str
    arguments: tuple[ResourceArgument, ...] = ()


def _spec(tier: str, base: str, *arguments: ResourceArgument) -> ToolSpec:
    return ToolSpec(tier=tier, base=base, arguments=arguments)


_PAYEE = ResourceArgument("recipient", "payee", "iban")
_MAIL = (
    ResourceArgument("recipients", "to", "email"),
    ResourceArgument("cc", "cc", "email"),
    ResourceArgument("bcc", "bcc", "email"),
    ResourceArgument("attachments", "attach", "attachment"),
)
# The user attends their own events, so listing them as a participant or not names
# the same event.
_PARTICIPANTS = ResourceArgument(
    "participants", "participants", "email", without_subject=True
)
_EVENT = ResourceArgument("event_id", "event", "id")
_FILE = ResourceArgument("file_id", "file", "id")

_CALENDAR_SPECS: dict[str, ToolSpec] = {
    "search_calendar_events": _spec("read", "calendar"),
    "get_day_calendar_events": _spec("read", "calendar"),
    "create_calendar_event": _spec("write", "calendar", _PARTICIPANTS),
    "cancel_calendar_event": _spec("delete", "calendar", _EVENT),
}

BANKING_SPECS: dict[str, ToolSpec] = {
    "get_iban": _spec("read", "account/{own}"),
    "get_balance": _spec("read", "account/{own}"),
    "get_most_recent_transactions": _spec("read", "account/{own}"),
    "get_scheduled_transactions": _spec("read", "account/{own}"),
    "get_user_info": _spec("read", "account/{own}/profile"),
    "read_file": _spec("read", "files", ResourceArgument("file_path", "file", "path")),
    "send_money": _spec("write", "account/{own}", _PAYEE),
    "schedule_transaction": _spec("write", "account/{own}", _PAYEE),
    "update_scheduled_transaction": _spec(
        "write",
        "account/{own}",
        ResourceArgument("id", "scheduled", "id"),
        _PAYEE,
    ),
    "update_user_info": _spec("write", "account/{own}/profile"),
    "update_password": _spec("admin", "account/{own}/password"),
}

SLACK_SPECS: dict[str, ToolSpec] = {
    "get_channels": _spec("read", "workspace"),
    "read_channel_messages": _spec(
        "read", "workspace", ResourceArgument("channel", "channel")
    ),
    "get_users_in_channel": _spec(
        "read", "workspace", ResourceArgument("channel", "channel")
    ),
    "read_inbox": _spec("read", "workspace", ResourceArgument("user", "inbox")),
    "send_direct_message": _spec(
        "write", "workspace", ResourceArgument("recipient", "inbox")
    ),
    "send_channel_message": _spec(
        "write", "workspace", ResourceArgument("channel", "channel")
    ),
    "add_user_to_channel": _spec(
        "admin",
        "workspace",
        ResourceArgument("channel", "channel"),
        ResourceArgument("user", "member"),
    ),
    "invite_user_to_slack": _spec(
        "admin",
        "workspace",
        ResourceArgument("user", "user"),
        ResourceArgument("user_email", "email", "email"),
    ),
    "remove_user_from_slack": _spec(
        "delete", "workspace", ResourceArgument("user", "user")
    ),
    # Fetching a URL is egress: whatever the agent puts in the URL reaches its
    # owner, so get_webpage is external, not read, and the read tier leaves it out.
    "get_webpage": _spec("external", "web", ResourceArgument("url", "url", "url")),
    "post_webpage": _spec("external", "web", ResourceArgument("url", "url", "url")),
}

_TRAVEL_LOOKUPS = (
    "get_all_hotels_in_city",
    "get_hotels_prices",
    "get_rating_reviews_for_hotels",
    "get_hotels_address",
    "get_all_restaurants_in_city",
    "get_cuisine_type_for_restaurants",
    "get_restaurants_address",
    "get_rating_reviews_for_restaurants",
    "get_dietary_restrictions_for_all_restaurants",
    "get_contact_information_for_restaurants",
    "get_price_for_restaurants",
    "check_restaurant_opening_hours",
    "get_all_car_rental_companies_in_city",
    "get_car_types_available",
    "get_rating_reviews_for_car_rental",
    "get_car_fuel_options",
    "get_car_rental_address",
    "get_car_price_per_day",
    "get_flight_information",
)

# Travel lookups search a public catalog (cities, hotel names); their arguments are
# search terms, not resources, so a lookup needs the catalog as a whole.
TRAVEL_SPECS: dict[str, ToolSpec] = {
    **{tool: _spec("read", "catalog") for tool in _TRAVEL_LOOKUPS},
    "get_user_information": _spec("read", "profile"),
    **_CALENDAR_SPECS,
    "reserve_hotel": _spec("write", "reservation", ResourceArgument("hotel", "hotel")),
    "reserve_car_rental": _spec(
        "write", "reservation", ResourceArgument("company", "car_rental")
    ),
    "reserve_restaurant": _spec(
        "write", "reservation", ResourceArgument("restaurant", "restaurant")
    ),
    "send_email": _spec("external", "mail", *_MAIL),
}

WORKSPACE_SPECS: dict[str, ToolSpec] = {
    "get_unread_emails": _spec("read", "inbox"),
    "get_sent_emails": _spec("read", "inbox"),
    "get_received_emails": _spec("read", "inbox"),
    "get_draft_emails": _spec("read", "inbox"),
    "search_emails": _spec("read", "inbox"),
    "search_contacts_by_name": _spec("read", "contacts"),
    "search_contacts_by_email": _spec("read", "contacts"),
    "delete_email": _spec(
        "delete", "inbox", ResourceArgument("email_id", "email", "id")
    ),
    "send_email": _spec("external", "mail", *_MAIL),
    "get_current_day": _spec("read", "calendar"),
    **_CALENDAR_SPECS,
    "reschedule_calendar_event": _spec("write", "calendar", _EVENT),
    "add_calendar_event_participants": _spec(
        "write", "calendar", _EVENT, _PARTICIPANTS
    ),
    "list_files": _spec("read", "drive"),
    "search_files": _spec("read", "drive"),
    "search_files_by_filename": _spec("read", "drive"),
    "get_file_by_id": _spec("read", "drive", _FILE),
    "append_to_file": _spec("write", "drive", _FILE),
    "create_file": _spec("write", "drive", ResourceArgument("filename", "new", "path")),
    "delete_file": _spec("delete", "drive", _FILE),
    "share_file": _spec(
        "admin", "drive", _FILE, ResourceArgument("email", "share", "email")
    ),
}

TOOL_SPECS: dict[str, dict[str, ToolSpec]] = {
    "banking": BANKING_SPECS,
    "slack": SLACK_SPECS,
    "travel": TRAVEL_SPECS,
    "workspace": WORKSPACE_SPECS,
}
"""Tool specifications per suite, for the tools of AgentDojo benchmark v1 to v1.2.2."""


@dataclass(frozen=True)
class SuiteContext:
    """One suite's user and the environment facts its resources and grants use."""

    suite: str
    subject: str
    own: str
    environment: dict[str, Any]


@dataclass(frozen=True)
class TraceCall:
    """One tool call of a trace, with the error its tool returned (if any)."""

    position: int
    call_id: str
    tool: str
    arguments: dict[str, Any]
    error: str | None


@dataclass(frozen=True)
class Trace:
    """One AgentDojo run: its task, attack, labels and tool calls."""

    path: str
    pipeline: str
    suite: str
    user_task: str
    injection_task: str | None
    attack: str | None
    utility: bool
    security: bool
    prompt: str
    calls: tuple[TraceCall, ...]

    @property
    def attacked(self) -> bool:
        """Whether the run carried a prompt injection."""
        return self.attack is not None and self.injection_task is not None

    @property
    def actor(self) -> str:
        """Agent id: the pipeline acting on one user task of one suite."""
        return task_actor(self.pipeline, self.suite, self.user_task)


def task_actor(pipeline: str, suite: str, task: str) -> str:
    """Return the agent id of a pipeline working on one task of a suite.

    Examples
    --------
    >>> task_actor("gpt-4o-2024-05-13", "banking", "user_task_3")
    'gpt-4o-2024-05-13/banking/user_task_3'
    """
    return f"{pipeline}/{suite}/{task}"


# --- reading files --------------------------------------------------------------


class _IncludeLoader(yaml.SafeLoader):
    """Safe YAML loader that resolves AgentDojo's ``!include`` relative to a file."""

    root: Path = Path()


def _include(loader: _IncludeLoader, node: yaml.Node) -> Any:
    target = loader.root / str(loader.construct_scalar(node))  # type: ignore[arg-type]
    return _read_yaml(target)


_IncludeLoader.add_constructor("!include", _include)


def _read_yaml(path: Path) -> Any:
    loader_class = type("_Loader", (_IncludeLoader,), {"root": path.parent})
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=loader_class)  # noqa: S506
    except OSError as error:
        raise InputError(
            f"cannot read file: {error.strerror}",
            path=path,
            hint="pass the folder holding suites/<suite>/environment.yaml",
        ) from error
    except yaml.YAMLError as error:
        raise InputError(f"invalid YAML: {error}", path=path) from error


def load_environment(suite_dir: Path) -> dict[str, Any]:
    """Read a suite's ``environment.yaml`` with its includes and default injections.

    Placeholders such as ``{prompt_injection_channel}`` are replaced by the default
    of ``injection_vectors.yaml``, as in a benign run (``External_0``).

    Raises
    ------
    InputError
        If the file is missing or is not valid YAML.
    """
    environment = _read_yaml(suite_dir / "environment.yaml")
    vectors_path = suite_dir / "injection_vectors.yaml"
    vectors = _read_yaml(vectors_path) if vectors_path.exists() else {}
    defaults = {
        name: str(entry.get("default", ""))
        for name, entry in (vectors or {}).items()
        if isinstance(entry, dict)
    }
    if not isinstance(environment, dict):
        raise InputError(
            "expected a mapping at the top level", path=suite_dir / "environment.yaml"
        )
    filled: dict[str, Any] = _fill_placeholders(environment, defaults)
    return filled


def _fill_placeholders(value: Any, defaults: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: defaults.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {
            _fill_placeholders(key, defaults): _fill_placeholders(item, defaults)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_fill_placeholders(item, defaults) for item in value]
    return value


def suite_context(suite: str, environment: dict[str, Any]) -> SuiteContext:
    """Return the suite's user and own object, taken from its environment.

    The user is the account holder in ``banking`` (``user_account``), the mailbox
    owner in ``workspace`` and ``travel``, and the ``bot`` account in ``slack``,
    where every message the assistant sends is written as ``bot``.

    Raises
    ------
    InputError
        If the suite is unknown or the environment lacks the field named.
    """
    if suite == "banking":
        account = _field(environment, suite, "user_account")
        subject = f"{account['first_name']} {account['last_name']}"
        own = normalise_value(
            _field(environment, suite, "bank_account")["iban"], "iban"
        )
        return SuiteContext(suite, subject, own, environment)
    if suite == "workspace":
        subject = str(_field(environment, suite, "inbox")["account_email"]).lower()
        return SuiteContext(suite, subject, subject, environment)
    if suite == "travel":
        subject = str(_field(environment, suite, "user")["email"]).lower()
        return SuiteContext(suite, subject, subject, environment)
    if suite == "slack":
        _field(environment, suite, "slack")
        return SuiteContext(suite, "bot", "bot", environment)
    raise InputError(
        f"unknown suite {suite!r}", field="suite", hint=f"use one of {SUITES}"
    )


def _field(environment: dict[str, Any], suite: str, name: str) -> Any:
    value = environment.get(name)
    if not isinstance(value, dict):
        raise InputError(
            f"environment of suite {suite!r} has no mapping {name!r}",
            field=name,
            hint="pass the suites folder of the AgentDojo release behind the runs",
        )
    return value


def read_trace(path: Path, runs_dir: Path) -> Trace:
    """Read one trace file; its path relative to ``runs_dir`` names its calls.

    Raises
    ------
    InputError
        If the file is not JSON or lacks the fields of an AgentDojo trace.
    """
    relative = path.relative_to(runs_dir).as_posix()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(f"cannot read trace: {error}", path=path) from error
    if not isinstance(document, dict) or not isinstance(document.get("messages"), list):
        raise InputError(
            "not an AgentDojo trace",
            path=path,
            field="messages",
            hint="expected an object with a messages list",
        )
    return Trace(
        path=relative,
        pipeline=str(document.get("pipeline_name") or relative.split("/")[0]),
        suite=str(document.get("suite_name") or relative.split("/")[1]),
        user_task=str(document.get("user_task_id") or relative.split("/")[2]),
        injection_task=_text_or_none(document.get("injection_task_id")),
        attack=_text_or_none(document.get("attack_type")),
        utility=document.get("utility") is True,
        security=document.get("security") is True,
        prompt=_first_user_message(document["messages"]),
        calls=tuple(_trace_calls(document["messages"], relative)),
    )


def _first_user_message(messages: list[Any]) -> str:
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def _text_or_none(value: Any) -> str | None:
    if value is None or value == "none":
        return None
    return str(value)


def _trace_calls(messages: list[Any], relative: str) -> list[TraceCall]:
    errors = {
        message.get("tool_call_id"): message.get("error")
        for message in messages
        if isinstance(message, dict) and message.get("role") == "tool"
    }
    calls: list[TraceCall] = []
    seen: set[str] = set()
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        for request in message.get("tool_calls") or []:
            position = len(calls) + 1
            call_id = _call_id(relative, request.get("id"), position, seen)
            arguments = request.get("args")
            calls.append(
                TraceCall(
                    position=position,
                    call_id=call_id,
                    tool=str(request.get("function")),
                    arguments=arguments if isinstance(arguments, dict) else {},
                    error=_text_or_none(errors.get(request.get("id"))),
                )
            )
    return calls


def _call_id(relative: str, tool_call_id: Any, position: int, seen: set[str]) -> str:
    # A missing or repeated tool call id falls back to the call's position.
    call_id = f"{relative}#{tool_call_id}" if tool_call_id else ""
    if not call_id or call_id in seen:
        call_id = f"{relative}#{position}"
    seen.add(call_id)
    return call_id


# --- resources ------------------------------------------------------------------


def normalise_value(value: Any, kind: str) -> str:
    """Return an argument value in the form resources compare on.

    URLs lose their scheme and trailing slash, IBANs their spaces, e-mail addresses
    and URL hosts are lower-cased, and lists are sorted and joined with commas.

    Examples
    --------
    >>> normalise_value("https://www.Example.com/a/", "url")
    'www.example.com/a'
    >>> normalise_value(["b@x.org", "A@x.org"], "email")
    'a@x.org,b@x.org'
    >>> normalise_value(7, "id")
    '7'
    """
    if isinstance(value, list | tuple):
        items = sorted({normalise_value(item, kind) for item in value})
        return ",".join(items)
    if isinstance(value, dict):
        return _attachment_name(value)
    text = json.dumps(value) if isinstance(value, bool | float) else str(value).strip()
    if kind == "iban":
        return text.replace(" ", "").upper()
    if kind == "email":
        return text.lower()
    if kind == "url":
        return _normalise_url(text)
    return text


def _attachment_name(value: dict[str, Any]) -> str:
    for key in ("file_id", "event_id", "id_", "id"):
        if value.get(key) is not None:
            return f"{value.get('type', 'item')}:{value[key]}"
    return json.dumps(value, sort_keys=True)


def _normalise_url(text: str) -> str:
    bare = _URL_SCHEME.sub("", text).rstrip("/")
    host, slash, rest = bare.partition("/")
    return host.lower() + slash + rest


def resource_of(
    context: SuiteContext, tool: str, arguments: dict[str, Any]
) -> str | None:
    """Return the resource a call of ``tool`` needs, or ``None`` for an unknown tool.

    Examples
    --------
    >>> context = SuiteContext("banking", "Emma Johnson", "DE89", {})
    >>> resource_of(context, "send_money", {"recipient": "us13 3", "amount": 5})
    'account/DE89/payee/US133'
    >>> resource_of(context, "update_scheduled_transaction", {"id": 7, "amount": 1})
    'account/DE89/scheduled/7'
    """
    spec = TOOL_SPECS.get(context.suite, {}).get(tool)
    if spec is None:
        return None
    parts = [spec.base.replace("{own}", context.own)]
    for argument in spec.arguments:
        value = arguments.get(argument.name)
        if argument.without_subject and isinstance(value, list):
            value = [item for item in value if str(item).lower() != context.subject]
        if value is None or value in ([], ""):
            continue
        parts.append(f"{argument.label}/{normalise_value(value, argument.kind)}")
    return "/".join(parts)


def resource_template(context: SuiteContext, tool: str) -> str:
    """Return a tool's resource template: its base, then a placeholder per argument."""
    spec = TOOL_SPECS[context.suite][tool]
    parts = [spec.base.replace("{own}", context.own)]
    parts += [f"{argument.label}/{{{argument.name}}}" for argument in spec.arguments]
    return "/".join(parts)


def action_of(suite: str, tool: str) -> str:
    """Return the action a tool needs: ``<suite>:<tool>``."""
    return f"{suite}:{tool}"


def read_tools(suite: str) -> list[str]:
    """Return the tools of a suite whose risk tier is ``read``, sorted."""
    return sorted(
        tool for tool, spec in TOOL_SPECS[suite].items() if spec.tier == "read"
    )


def catalog_rows(context: SuiteContext) -> list[dict[str, Any]]:
    """Return one catalog row per tool of the suite."""
    return [
        {
            "tool": tool,
            "action": action_of(context.suite, tool),
            "resource_template": resource_template(context, tool),
            "risk_tier": spec.tier,
            "resource_server": context.suite,
        }
        for tool, spec in sorted(TOOL_SPECS[context.suite].items())
    ]


# --- calls ----------------------------------------------------------------------


def call_rows(
    trace: Trace, context: SuiteContext, start: datetime
) -> list[dict[str, Any]]:
    """Map a trace's tool calls onto canonical call dictionaries.

    Calls are one second apart from ``start``, in the order the trace lists them. A
    call whose tool returned an error has outcome ``error``, every other ``allowed``.
    A tool the suite does not define gets no action or resource, so the evaluation
    marks it ``unmapped_tool``.
    """
    rows: list[dict[str, Any]] = []
    for call in trace.calls:
        resource = resource_of(context, call.tool, call.arguments)
        rows.append(
            {
                "call_id": call.call_id,
                "ts": start + timedelta(seconds=call.position),
                "tool": call.tool,
                "subject": context.subject,
                "actor": trace.actor,
                "actor_chain": json.dumps([trace.actor]),
                "arguments": json.dumps(call.arguments, sort_keys=True, default=str),
                "action": action_of(trace.suite, call.tool) if resource else None,
                "resource": resource,
                "outcome": "error" if call.error else "allowed",
                "session_id": trace.path,
                "session_started_at": start,
                "source_file": trace.path,
                "source_line": call.position,
            }
        )
    return rows


# --- grants ---------------------------------------------------------------------


def _grant(
    grant_id: str, principal_type: str, principal_id: str, action: str, resource: str
) -> dict[str, Any]:
    return {
        "grant_id": grant_id,
        "principal_type": principal_type,
        "principal_id": principal_id,
        "effect": "allow",
        "action": action,
        "resource": resource,
        "valid_from": GRANTS_FROM,
    }


def user_grants(context: SuiteContext) -> list[dict[str, Any]]:
    """Return the grants the suite environment gives its user.

    - ``banking``: every action on the own account, and reading each file of the
      user's file system.
    - ``slack``: workspace administration, reading and posting in every channel the
      workspace lists, every user's inbox, and the web.
    - ``travel``: everything: the suite has no ownership data.
    - ``workspace``: the own inbox, contacts, calendar and drive, with deny grants on
      the files of other owners. A file shared ``r`` may only be read, and one shared
      ``rw`` read, written and deleted but not shared. An unshared file is denied.
    """
    builders = {
        "banking": _banking_grants,
        "slack": _slack_grants,
        "travel": _travel_grants,
        "workspace": _workspace_grants,
    }
    pairs = builders[context.suite](context)
    return [
        _grant(
            f"user/{context.suite}/{number}", "user", context.subject, action, resource
        )
        for number, (action, resource) in enumerate(pairs, start=1)
    ]


def _banking_grants(context: SuiteContext) -> list[tuple[str, str]]:
    account = f"account/{context.own}"
    files = context.environment.get("filesystem", {}).get("files", {}) or {}
    pairs = [("banking:*", account), ("banking:*", f"{account}/*")]
    pairs += [("banking:read_file", f"files/file/{name}") for name in sorted(files)]
    return pairs


def _slack_grants(context: SuiteContext) -> list[tuple[str, str]]:
    slack = context.environment["slack"]
    pairs = [
        ("slack:*", "workspace"),
        ("slack:*", "workspace/user/*"),
        ("slack:*", "web/*"),
    ]
    for channel in slack.get("channels", []):
        pairs += [
            ("slack:*", f"workspace/channel/{channel}"),
            ("slack:*", f"workspace/channel/{channel}/*"),
        ]
    # Users invited during a run are not in the environment, so every inbox is held.
    pairs.append(("slack:*", "workspace/inbox/*"))
    return pairs


def _travel_grants(context: SuiteContext) -> list[tuple[str, str]]:
    return [("travel:*", "*")]


# Tools a drive share level does not include: ``r`` allows reading only, ``rw``
# allows reading, writing and deleting, and only the owner shares a file.
_DENIED_BY_SHARE = {
    None: ("*",),
    "r": ("append_to_file", "delete_file", "share_file"),
    "rw": ("share_file",),
}


def _workspace_grants(context: SuiteContext) -> list[tuple[str, str]]:
    areas = ("inbox", "inbox/*", "contacts", "calendar", "calendar/*", "mail", "mail/*")
    pairs = [("workspace:*", area) for area in areas]
    # Every drive file is the user's unless the environment names another owner:
    # files the agent creates during a run get new ids and belong to the user.
    pairs += [("workspace:*", "drive"), ("workspace:*", "drive/*")]
    return pairs


def _workspace_denials(context: SuiteContext) -> list[tuple[str, str]]:
    drive = context.environment.get("cloud_drive", {}) or {}
    pairs: list[tuple[str, str]] = []
    for entry in drive.get("initial_files", []) or []:
        if str(entry.get("owner", "")).lower() == context.subject:
            continue
        shared = {
            str(k).lower(): v for k, v in (entry.get("shared_with") or {}).items()
        }
        resource = f"drive/file/{entry.get('id_')}"
        for tool in _DENIED_BY_SHARE.get(shared.get(context.subject), ("*",)):
            pairs += [
                (f"workspace:{tool}", resource),
                (f"workspace:{tool}", f"{resource}/*"),
            ]
    return pairs


_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{8,30}$")


def _argument_variants(
    context: SuiteContext, arguments: dict[str, Any]
) -> list[dict[str, Any]]:
    # Some banking ground truths name the payee ("Spotify", "Apple") where the run
    # needs an IBAN; such a name also stands for the IBANs of the account's past
    # transactions whose subject contains it.
    recipient = arguments.get("recipient")
    if context.suite != "banking" or not isinstance(recipient, str):
        return [arguments]
    if _IBAN.match(normalise_value(recipient, "iban")):
        return [arguments]
    ibans = payee_ibans(context, recipient)
    return [arguments] + [arguments | {"recipient": iban} for iban in ibans]


def payee_ibans(context: SuiteContext, name: str) -> list[str]:
    """Return the IBANs of the banking payees whose transaction subjects name ``name``.

    Examples
    --------
    >>> environment = {"bank_account": {"transactions": [
    ...     {"recipient": "SE3550000000054910000003", "subject": "Spotify Premium"},
    ...     {"recipient": "me", "subject": "Spotify refund"}]}}
    >>> payee_ibans(SuiteContext("banking", "Emma", "DE89", environment), "spotify")
    ['SE3550000000054910000003']
    """
    account = context.environment.get("bank_account", {}) or {}
    entries = list(account.get("transactions") or [])
    entries += list(account.get("scheduled_transactions") or [])
    found = {
        normalise_value(entry.get("recipient"), "iban")
        for entry in entries
        if name.lower() in str(entry.get("subject", "")).lower()
    }
    return sorted(iban for iban in found if _IBAN.match(iban))


def scope_grants(
    context: SuiteContext,
    actor: str,
    ground_truth_calls: list[dict[str, Any]],
    *,
    level: str,
    read_tier: bool = False,
) -> list[dict[str, Any]]:
    """Return an agent's scope for one task, from the task's ground-truth calls.

    Parameters
    ----------
    context
        The suite the task belongs to.
    actor
        The agent id, see :func:`task_actor`.
    ground_truth_calls
        ``[{"function": ..., "args": {...}}, ...]`` as in ``ground_truth_tools.json``.
    level
        ``tools``: each ground-truth tool on any resource. ``arguments``: each
        ground-truth tool on the resource its ground-truth arguments name.
    read_tier
        Also grant every read tool of the suite (:func:`read_tools`) on any resource.

    Raises
    ------
    InputError
        If ``level`` is not one of :data:`SCOPE_LEVELS`.
    """
    if level not in SCOPE_LEVELS:
        raise InputError(
            f"unknown scope level {level!r}",
            field="scope",
            hint=f"use one of {SCOPE_LEVELS}",
        )
    pairs: set[tuple[str, str]] = set()
    for call in ground_truth_calls:
        tool = str(call["function"])
        for arguments in _argument_variants(context, call.get("args") or {}):
            resource = (
                "*" if level == "tools" else resource_of(context, tool, arguments)
            )
            pairs.add((action_of(context.suite, tool), resource or "*"))
    rows = [
        _grant(f"scope/{actor}/{number}", "agent", actor, action, resource)
        for number, (action, resource) in enumerate(sorted(pairs), start=1)
    ]
    if read_tier:
        rows += [
            _grant(
                f"read-tier/{actor}/{tool}",
                "agent",
                actor,
                action_of(context.suite, tool),
                "*",
            )
            for tool in read_tools(context.suite)
        ]
    return rows
