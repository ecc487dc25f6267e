"""Declared exceptions: known, owned and time-limited deviations from policy.

Exceptions live in a YAML file kept under version control next to the audit, so every
one has a reviewable history. An exception marks the findings it matches as excepted;
it never removes them, so reports can still show what was excepted and why.

File format::

    exceptions:
      - id: EXC-001
        match:                      # every field given must match; at least one
          agent: finance-assistant  # glob on the actor
          user: "*"                 # glob on the subject
          tool: export_*            # glob on the tool
          action: "crm:Read*"       # glob on the action, case-insensitive
          resource: crm/tickets/*   # glob on the resource
          reason: no_matching_grant # reason code of the finding
        owner: alice@example.com
        justification: Quarterly export approved by the data owner.
        expires: 2026-06-30         # last day the exception applies (UTC)

Globs use ``*`` (any run of characters, empty included) and ``?`` (one character);
every other character is literal, as in grants.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from auditkit.errors import InputError
from auditkit.models.codes import ReasonCode
from auditkit.report.period import table_exists

if TYPE_CHECKING:
    import duckdb

logger = logging.getLogger(__name__)

Text = Annotated[StrictStr, Field(min_length=1)]

# Match fields and the findings column each one compares with.
MATCH_COLUMNS: dict[str, str] = {
    "agent": "actor",
    "user": "subject",
    "tool": "tool",
    "action": "action",
    "resource": "resource",
}


class ExceptionMatch(BaseModel):
    """Conditions on a finding; every condition given must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent: Text | None = Field(default=None, description="Glob on the actor (agent).")
    user: Text | None = Field(default=None, description="Glob on the subject (user).")
    tool: Text | None = Field(default=None, description="Glob on the tool name.")
    action: Text | None = Field(
        default=None, description="Glob on the action, compared case-insensitively."
    )
    resource: Text | None = Field(default=None, description="Glob on the resource.")
    reason: ReasonCode | None = Field(
        default=None, description="Reason code the finding must carry."
    )

    def is_empty(self) -> bool:
        """Return whether no condition is given."""
        return all(value is None for value in self.model_dump().values())


class ExceptionRule(BaseModel):
    """One declared exception with its owner, justification and expiry date."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Text = Field(description="Unique id, quoted in reports.")
    match: ExceptionMatch = Field(description="Conditions on the finding.")
    owner: Text = Field(description="Person or team accountable for the exception.")
    justification: Text = Field(description="Why the deviation is accepted.")
    expires: date = Field(description="Last day (UTC) on which the exception applies.")

    def is_expired(self, as_of: date) -> bool:
        """Return whether the exception no longer applies on ``as_of``."""
        return self.expires < as_of


class _ExceptionFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exceptions: list[dict[str, Any]] = Field(default_factory=list)


@dataclass(frozen=True)
class ExceptionResult:
    """Findings marked by the exceptions in force, and the exceptions that expired.

    ``findings`` contains every finding with two more columns: ``excepted`` and
    ``exception_id`` (the first matching exception in file order, or ``None``).
    """

    as_of: date
    findings: pd.DataFrame = field(repr=False)
    expired: list[ExceptionRule]
    matches: dict[str, int]

    @property
    def excepted(self) -> pd.DataFrame:
        """The findings an exception in force matches."""
        return self.findings[self.findings["excepted"]]

    def to_dict(self) -> dict[str, Any]:
        """Return the counts per exception and the expired exceptions as JSON data."""
        return {
            "as_of": self.as_of.isoformat(),
            "excepted_findings": int(self.findings["excepted"].sum()),
            "matches": dict(self.matches),
            "expired": [
                {
                    "id": rule.id,
                    "owner": rule.owner,
                    "expired": rule.expires.isoformat(),
                }
                for rule in self.expired
            ],
        }


def load_exceptions(path: str | Path) -> list[ExceptionRule]:
    """Read and validate an exceptions YAML file.

    Raises
    ------
    InputError
        If the file cannot be read, is not YAML, or an entry is invalid. The error
        names the file, the line and index of the entry, its id and the field.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read file: {error.strerror}", path=source) from error

    document, entry_lines = _parse_yaml(text, source)
    try:
        listing = _ExceptionFile.model_validate(document or {})
    except ValidationError as error:
        detail = error.errors(include_url=False)[0]
        name = ".".join(str(part) for part in detail["loc"]) or "exceptions"
        hint = "the file holds one key, 'exceptions', with a list of entries"
        raise InputError(detail["msg"], path=source, field=name, hint=hint) from error

    rules = [
        _validate_entry(entry, index, entry_lines, source)
        for index, entry in enumerate(listing.exceptions)
    ]
    _reject_duplicates(rules, entry_lines, source)
    return rules


def apply_exceptions(
    con: duckdb.DuckDBPyConnection,
    exceptions: list[ExceptionRule],
    as_of: date | datetime,
) -> ExceptionResult:
    """Mark the findings that an exception in force on ``as_of`` matches.

    Parameters
    ----------
    con
        Connection to an evaluated workspace.
    exceptions
        Rules from :func:`load_exceptions`, in file order; the first match wins.
    as_of
        Day (UTC) the exceptions are checked on; one whose ``expires`` is before it
        matches nothing and is listed in ``expired``.

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> _ = con.execute(
    ...     "CREATE TABLE findings AS SELECT 'f1' AS finding_id, 'bot' AS actor, "
    ...     "'ann' AS subject, 'read_doc' AS tool, 'doc:Read' AS action, "
    ...     "'doc/1' AS resource, 'no_matching_grant' AS reason"
    ... )
    >>> rule = ExceptionRule(
    ...     id="EXC-1", match=ExceptionMatch(agent="b?t", resource="doc/*"),
    ...     owner="ops", justification="pilot", expires=date(2026, 6, 30),
    ... )
    >>> apply_exceptions(con, [rule], date(2026, 6, 1)).matches
    {'EXC-1': 1}
    >>> apply_exceptions(con, [rule], date(2026, 7, 1)).expired[0].id
    'EXC-1'
    """
    day = as_of.date() if isinstance(as_of, datetime) else as_of
    findings = _all_findings(con)
    findings["excepted"] = False
    findings["exception_id"] = pd.Series([None] * len(findings), dtype=object)

    expired = [rule for rule in exceptions if rule.is_expired(day)]
    matches: dict[str, int] = {}
    for rule in exceptions:
        if rule.is_expired(day):
            continue
        hit = _matching_ids(con, rule)
        fresh = findings["finding_id"].isin(hit) & ~findings["excepted"]
        findings.loc[fresh, "exception_id"] = rule.id
        findings.loc[fresh, "excepted"] = True
        matches[rule.id] = len(hit)

    for rule in expired:
        logger.warning("exception %s expired on %s", rule.id, rule.expires)
    return ExceptionResult(day, findings, expired, matches)


def glob_to_like(pattern: str) -> str:
    r"""Return the SQL LIKE pattern (escape character ``\``) equal to a glob.

    Examples
    --------
    >>> glob_to_like("crm/tickets_*?")
    'crm/tickets\\_%_'
    """
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _parse_yaml(text: str, source: Path) -> tuple[Any, list[int]]:
    try:
        document = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise InputError(problem, path=source, line=line) from error
    return document, _entry_lines(root)


def _entry_lines(root: yaml.Node | None) -> list[int]:
    # Line of each entry under 'exceptions', so errors point into the file.
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "exceptions" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _validate_entry(
    entry: dict[str, Any], index: int, entry_lines: list[int], source: Path
) -> ExceptionRule:
    line = entry_lines[index] if index < len(entry_lines) else None
    label = _entry_label(entry, index)
    try:
        rule = ExceptionRule.model_validate(entry)
    except ValidationError as error:
        detail = error.errors(include_url=False)[0]
        name = ".".join(str(part) for part in detail["loc"])
        reason = f"{label}: {detail['msg']}"
        raise InputError(reason, path=source, line=line, field=name) from error

    if rule.match.is_empty():
        fields = ", ".join([*MATCH_COLUMNS, "reason"])
        raise InputError(
            f"{label}: match has no condition, so it would except every finding",
            path=source,
            line=line,
            field="match",
            hint=f"give at least one of {fields}",
        )
    return rule


def _entry_label(entry: Any, index: int) -> str:
    label = f"entry {index + 1}"
    if isinstance(entry, dict) and isinstance(entry.get("id"), str):
        label = f"{label} (id {entry['id']!r})"
    return label


def _reject_duplicates(
    rules: list[ExceptionRule], entry_lines: list[int], source: Path
) -> None:
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        if rule.id in seen:
            line = entry_lines[index] if index < len(entry_lines) else None
            raise InputError(
                f"entry {index + 1}: duplicate id {rule.id!r}",
                path=source,
                line=line,
                field="id",
                hint="give every exception its own id",
            )
        seen.add(rule.id)


def _all_findings(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    if not table_exists(con, "findings"):
        return pd.DataFrame({"finding_id": pd.Series([], dtype=object)})
    return con.execute("SELECT * FROM findings ORDER BY finding_id").df()


def _matching_ids(con: duckdb.DuckDBPyConnection, rule: ExceptionRule) -> set[str]:
    if not table_exists(con, "findings"):
        return set()
    conditions: list[str] = []
    params: list[Any] = []
    for name, column in MATCH_COLUMNS.items():
        pattern = getattr(rule.match, name)
        if pattern is None:
            continue
        # A missing value (a call without subject) compares as empty text.
        operator = "ILIKE" if name == "action" else "LIKE"
        conditions.append(f"coalesce({column}, '') {operator} ? ESCAPE '\\'")
        params.append(glob_to_like(pattern))
    if rule.match.reason is not None:
        conditions.append("reason = ?")
        params.append(rule.match.reason.value)

    # S608: the SQL joins fixed column names; patterns are parameters.
    sql = f"SELECT finding_id FROM findings WHERE {' AND '.join(conditions)}"  # noqa: S608
    return {str(row[0]) for row in con.execute(sql, params).fetchall()}
