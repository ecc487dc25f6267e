"""Canonical input records: what every source format is mapped onto.

Field names here are also the column names in the workspace and the headers of
canonical JSONL and CSV files. Types are strict: an id is a string, a number is never
read as a timestamp, ``3.5`` is not an integer and ``true`` is not ``1``.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    WrapValidator,
)

from auditkit.models.codes import (
    Effect,
    LifecycleEventType,
    Outcome,
    PrincipalType,
    RiskTier,
)
from auditkit.models.timestamps import validate_instant


def _instant(value: Any, handler: Any, info: Any) -> datetime:
    return validate_instant(value, info)


def _json_object(value: Any) -> Any:
    # CSV and some logs carry arguments as JSON text; parse it so both forms match.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            message = f"invalid JSON object text: {error.msg} at column {error.colno}"
            raise ValueError(message) from error
        except RecursionError:
            message = "invalid JSON object text: nested deeper than the parser's limit"
            raise ValueError(message) from None
    return value


def _json_string_list(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("["):
        try:
            return json.loads(value)
        except RecursionError:
            message = "invalid JSON list text: nested deeper than the parser's limit"
            raise ValueError(message) from None
    return value


Instant = Annotated[datetime, WrapValidator(_instant)]
Id = Annotated[StrictStr, Field(min_length=1)]
Pattern = Annotated[StrictStr, Field(min_length=1)]


class _Record(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class ToolCall(_Record):
    """One tool call an agent made on behalf of a user."""

    call_id: Id = Field(description="Unique id of the call within its source.")
    ts: Instant = Field(description="Time of the call, stored as a UTC instant.")
    tool: Id = Field(description="Name of the tool the agent called.")
    subject: Id | None = Field(
        default=None, description="User on whose behalf the agent acted (token `sub`)."
    )
    actor: Id | None = Field(
        default=None,
        description="Agent that acted (the current, outermost RFC 8693 `act`).",
    )
    actor_chain: Annotated[list[Id], BeforeValidator(_json_string_list)] | None = Field(
        default=None,
        description="Full actor chain, current actor first, as in nested `act` claims.",
    )
    arguments: Annotated[dict[str, Any], BeforeValidator(_json_object)] | None = Field(
        default=None, description="Tool arguments as a JSON object."
    )
    action: Id | None = Field(
        default=None,
        description="Required action when the log states it; else the catalog's.",
    )
    resource: Id | None = Field(
        default=None,
        description="Required resource when the log states it; else from the catalog.",
    )
    token_id: Id | None = Field(
        default=None, description="Access token id (`jti`) or a hash of the token."
    )
    token_issued_at: Instant | None = Field(
        default=None, description="Token `iat`: when the delegation began."
    )
    token_expires_at: Instant | None = Field(default=None, description="Token `exp`.")
    audience: Id | None = Field(
        default=None,
        description="Token audience (`aud`): the intended resource server.",
    )
    resource_server: Id | None = Field(
        default=None,
        description="Resource server the call reached; else the catalog's server.",
    )
    outcome: Outcome | None = Field(
        default=None, description="Downstream decision: allowed, denied or error."
    )
    session_id: Id | None = Field(default=None, description="Session or trace id.")
    session_started_at: Instant | None = Field(
        default=None,
        description="Session start, the delegation start when no token time is known.",
    )


class Grant(_Record):
    """An allow or deny of an action and resource pattern to a principal."""

    grant_id: Id = Field(description="Unique id of this grant interval.")
    principal_type: PrincipalType = Field(description="user, group, role or agent.")
    principal_id: Id = Field(description="Id of the principal holding the grant.")
    effect: Effect = Field(description="allow or deny; a deny beats any allow.")
    action: Pattern = Field(description="Action glob pattern (`*`, `?`).")
    resource: Pattern = Field(description="Resource glob pattern (`*`, `?`).")
    valid_from: Instant = Field(description="Start of validity (inclusive).")
    valid_to: Instant | None = Field(
        default=None, description="End of validity (exclusive); empty while in force."
    )
    condition: StrictStr | None = Field(
        default=None,
        description="Condition auditkit cannot evaluate, as text; makes the grant "
        "conditional.",
    )
    seq: StrictInt | None = Field(
        default=None,
        description="Sequence number of the change, for same-instant ties.",
    )
    changed_by: Id | None = Field(
        default=None, description="Who provisioned the grant."
    )
    excluded_actions: (
        Annotated[list[Pattern], BeforeValidator(_json_string_list)] | None
    ) = Field(
        default=None,
        description="Action patterns the grant does not cover (IAM `NotAction`).",
    )
    excluded_resources: (
        Annotated[list[Pattern], BeforeValidator(_json_string_list)] | None
    ) = Field(
        default=None,
        description="Resource patterns the grant does not cover (IAM `NotResource`).",
    )
    valid_from_earliest: Instant | None = Field(
        default=None,
        description="Earliest instant the grant may have started, when only "
        "snapshots bracket its start; the start lies in (this, valid_from].",
    )
    valid_to_earliest: Instant | None = Field(
        default=None,
        description="Earliest instant the grant may have ended, when only snapshots "
        "bracket its end; the end lies in (this, valid_to].",
    )


class Membership(_Record):
    """Membership of a principal in a group or role over an interval."""

    membership_id: Id = Field(description="Unique id of this membership interval.")
    member_type: PrincipalType = Field(description="user, group, role or agent.")
    member_id: Id = Field(description="Id of the member.")
    parent_type: PrincipalType = Field(description="group or role.")
    parent_id: Id = Field(description="Id of the group or role.")
    valid_from: Instant = Field(description="Start of membership (inclusive).")
    valid_to: Instant | None = Field(
        default=None, description="End of membership (exclusive); empty while in force."
    )
    seq: StrictInt | None = Field(default=None, description="Sequence number.")
    changed_by: Id | None = Field(default=None, description="Who made the change.")
    valid_from_earliest: Instant | None = Field(
        default=None,
        description="Earliest instant the membership may have started, when only "
        "snapshots bracket its start; the start lies in (this, valid_from].",
    )
    valid_to_earliest: Instant | None = Field(
        default=None,
        description="Earliest instant the membership may have ended, when only "
        "snapshots bracket its end; the end lies in (this, valid_to].",
    )


class LifecycleEvent(_Record):
    """Exact-time change of a user or agent (deactivation, reactivation, ...)."""

    event_id: Id = Field(description="Unique id of the event.")
    ts: Instant = Field(description="When the change took effect.")
    principal_type: PrincipalType = Field(description="Kind of principal changed.")
    principal_id: Id = Field(description="Id of the principal changed.")
    event_type: LifecycleEventType = Field(description="What changed.")
    changed_by: Id | None = Field(default=None, description="Who made the change.")
    detail: StrictStr | None = Field(default=None, description="Free text detail.")
    seq: StrictInt | None = Field(default=None, description="Sequence number.")
    parent_type: PrincipalType | None = Field(
        default=None,
        description="Group or role a membership event (`membership_added`, "
        "`membership_removed`) concerns.",
    )
    parent_id: Id | None = Field(
        default=None, description="Id of the group or role a membership event concerns."
    )


class CatalogEntry(_Record):
    """What a tool needs: its action, resource template and risk tier."""

    tool: Id = Field(description="Tool name as it appears in call records.")
    action: Id = Field(description="Action the tool needs, such as `crm:ReadTicket`.")
    resource_template: Id = Field(
        description="Resource with `{argument}` placeholders filled from the call."
    )
    risk_tier: RiskTier = Field(
        description="read, write, delete, admin, export, external."
    )
    resource_server: Id | None = Field(
        default=None, description="Resource server (token audience) the tool calls."
    )


class Coverage(_Record):
    """A span of time over which the entitlement inputs are complete."""

    coverage_id: Id = Field(description="Unique id of the span.")
    valid_from: Instant = Field(description="Start (inclusive).")
    valid_to: Instant | None = Field(default=None, description="End (exclusive).")
    source: StrictStr | None = Field(default=None, description="What the span covers.")


class InputKind(StrEnum):
    """Kinds of canonical input; each is one workspace table."""

    CALLS = "calls"
    GRANTS = "grants"
    MEMBERSHIPS = "memberships"
    EVENTS = "events"
    CATALOG = "catalog"
    COVERAGE = "coverage"


INPUT_MODELS: dict[InputKind, type[BaseModel]] = {
    InputKind.CALLS: ToolCall,
    InputKind.GRANTS: Grant,
    InputKind.MEMBERSHIPS: Membership,
    InputKind.EVENTS: LifecycleEvent,
    InputKind.CATALOG: CatalogEntry,
    InputKind.COVERAGE: Coverage,
}
