"""Explain one call: the facts, the evidence and the three accountable parties."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from auditkit.analysis.findings import require_findings
from auditkit.errors import NotFoundError
from auditkit.safety import clean_text

if TYPE_CHECKING:
    from collections.abc import Mapping

    import duckdb

_EVIDENCE_SQL = """
SELECT 'grant' AS kind, grant_id AS id, principal_type || ':' || principal_id AS holder,
    effect || ' ' || action || ' on ' || resource
        || CASE WHEN condition IS NULL THEN '' ELSE ' if ' || condition END AS fact,
    valid_from, valid_to, changed_by, source_file, source_line
FROM grants WHERE list_contains(?, grant_id)
UNION ALL
SELECT 'membership', membership_id, member_type || ':' || member_id,
    'member of ' || parent_type || ':' || parent_id,
    valid_from, valid_to, changed_by, source_file, source_line
FROM memberships WHERE list_contains(?, membership_id)
UNION ALL
SELECT 'event', event_id, principal_type || ':' || principal_id, event_type,
    ts, NULL, changed_by, source_file, source_line
FROM events WHERE list_contains(?, event_id)
ORDER BY kind, id
"""

_EVENTS_SQL = """
SELECT event_id, ts, principal_type, principal_id, event_type, changed_by,
    source_file, source_line
FROM events
WHERE (principal_type = 'user' AND principal_id = ?)
    OR (principal_type = 'agent' AND principal_id = ?)
ORDER BY ts, event_id
"""

# Provisioning of the agent's scope: the grants and role memberships that reached the
# agent for this call, and the agent's own scope-change events up to the call.
_PROVISIONING_SQL = """
SELECT 'grant' AS kind, grant_id AS id, changed_by, valid_from AS changed_at
FROM grants WHERE list_contains(?, grant_id)
UNION ALL
SELECT 'membership', membership_id, changed_by, valid_from
FROM memberships WHERE list_contains(?, membership_id)
UNION ALL
SELECT 'event', event_id, changed_by, ts
FROM events
WHERE principal_type = 'agent' AND principal_id = ? AND event_type = 'scope_changed'
    AND ts <= ?
ORDER BY changed_at, id
"""


@dataclass(frozen=True)
class Explanation:
    """Everything that decided one call's verdict.

    Attributes
    ----------
    finding
        The call's row of the findings table.
    user_evidence, agent_evidence, start_evidence
        Grants, memberships and lifecycle events behind the user side at the call, the
        agent side, and the user side at the delegation start.
    events
        Lifecycle events of the subject and the agent, in time order.
    provisioning
        Grants, role memberships and scope changes that gave the agent its scope.
    """

    finding: dict[str, Any]
    user_evidence: pd.DataFrame
    agent_evidence: pd.DataFrame
    start_evidence: pd.DataFrame
    events: pd.DataFrame
    provisioning: pd.DataFrame

    @property
    def parties(self) -> dict[str, str]:
        """The three accountable parties: who invoked, who provisioned, who enforced."""
        authors = sorted(
            {str(name) for name in self.provisioning["changed_by"].dropna().tolist()}
        )
        finding = self.finding
        return {
            "invoked_by": _text(finding["subject"]) or "(no subject recorded)",
            "provisioned_by": ", ".join(authors) or "(no author recorded)",
            "enforced_by": (
                f"{_text(finding['resource_server']) or '(unknown server)'}"
                f" (audience {_text(finding['audience']) or '-'},"
                f" outcome {_text(finding['outcome']) or '-'})"
            ),
        }

    def to_frame(self) -> pd.DataFrame:
        """Return the explanation as one table of (section, item, value) rows."""
        rows = [("call", key, _text(value)) for key, value in self.finding.items()]
        rows += [("party", key, value) for key, value in self.parties.items()]
        for section, frame in self._evidence_sections():
            for record in frame.to_dict("records"):
                rows.append((section, str(record["id"]), _describe(record)))
        return pd.DataFrame(rows, columns=["section", "item", "value"])

    def to_text(self) -> str:
        """Render the explanation as plain text, one fact per line.

        Secrets are shortened and control characters dropped, as in every output,
        because the values come from agent logs.
        """
        f = self.finding
        lines = [
            f"call {f['call_id']} at {_text(f['ts'])}: {f['verdict']} ({f['reason']})",
            f"  certainty {f['certainty']}, severity {f['severity']}, "
            f"flags {f['flags'] or '-'}",
            f"  tool {f['tool']} needs {_text(f['action'])} on {_text(f['resource'])}",
            f"  subject {_text(f['subject']) or '-'}; "
            f"actor {_text(f['actor']) or '-'}; actor chain {_chain(f['actor_chain'])}",
            f"  token {_text(f['token_id']) or '-'}, delegation start "
            f"{_text(f['delegation_start']) or '-'}",
            f"  user side: {f['user_result']} ({_text(f['user_reason'])}); "
            f"agent side: {f['agent_result']} ({_text(f['agent_reason']) or '-'})",
        ]
        if f.get("revoked_at") is not None and not pd.isna(f["revoked_at"]):
            lines.append(
                f"  revoked at {_text(f['revoked_at'])} by {f['revocation_kind']} "
                f"{f['revocation_source']}"
            )
        lines.append("accountable parties:")
        lines += [f"  {key}: {value}" for key, value in self.parties.items()]
        for section, frame in self._evidence_sections():
            lines.append(f"{section}:")
            if frame.empty:
                lines.append("  (none)")
            lines += [
                f"  {record['kind']} {record['id']}: {_describe(record)}"
                for record in frame.to_dict("records")
            ]
        return clean_text("\n".join(lines))

    def _evidence_sections(self) -> list[tuple[str, pd.DataFrame]]:
        return [
            ("user evidence at the call", self.user_evidence),
            ("user evidence at the delegation start", self.start_evidence),
            ("agent evidence at the call", self.agent_evidence),
            ("lifecycle events of subject and agent", _as_evidence(self.events)),
            ("agent scope provisioning", self.provisioning),
        ]

    def _repr_html_(self) -> str:
        text = html.escape(self.to_text())
        return f"<pre class='auditkit-explain'>{text}</pre>"


def _text(value: Any) -> str:
    if value is None or (not isinstance(value, str | list) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _chain(value: Any) -> str:
    text = _text(value)
    if not text:
        return "-"
    try:
        return " <- ".join(str(item) for item in json.loads(text))
    except (json.JSONDecodeError, TypeError):
        return text


def _describe(record: Mapping[Any, Any]) -> str:
    parts = []
    for key in ("holder", "fact", "changed_by"):
        if key in record and _text(record[key]):
            label = "by " if key == "changed_by" else ""
            parts.append(f"{label}{_text(record[key])}")
    start = _text(record.get("valid_from") or record.get("changed_at"))
    end = _text(record.get("valid_to"))
    if start:
        interval = "valid_to" in record and record.get("kind") != "event"
        parts.append(f"[{start}, {end or 'open'})" if interval else start)
    if _text(record.get("source_file")):
        parts.append(f"{record['source_file']}:{record['source_line']}")
    return "; ".join(parts)


def _as_evidence(events: pd.DataFrame) -> pd.DataFrame:
    frame = events.rename(columns={"event_id": "id", "ts": "valid_from"})
    frame["kind"] = "event"
    frame["holder"] = frame["principal_type"] + ":" + frame["principal_id"]
    frame["fact"] = frame["event_type"]
    return frame


def _ids(text: Any) -> list[str]:
    value = _text(text)
    return [item for item in value.split(",") if item] if value else []


def explain_call(con: duckdb.DuckDBPyConnection, call_id: str) -> Explanation:
    """Explain the verdict of the call ``call_id``.

    Raises
    ------
    NotFoundError
        When no finding has that call id.
    """
    require_findings(con)
    rows = con.execute("SELECT * FROM findings WHERE call_id = ?", [call_id]).df()
    if rows.empty:
        message = (
            f"no finding for call id {call_id!r}; list ids with 'auditkit findings'"
        )
        raise NotFoundError(message)
    finding = {str(key): value for key, value in rows.iloc[0].to_dict().items()}

    def evidence(column: str) -> pd.DataFrame:
        ids = _ids(finding[column])
        return con.execute(_EVIDENCE_SQL, [ids, ids, ids]).df()

    agent_ids = _ids(finding["agent_evidence"])
    provisioning = con.execute(
        _PROVISIONING_SQL,
        [agent_ids, agent_ids, _text(finding["actor"]), finding["ts"]],
    ).df()
    events = con.execute(
        _EVENTS_SQL, [_text(finding["subject"]), _text(finding["actor"])]
    ).df()
    return Explanation(
        finding=finding,
        user_evidence=evidence("user_evidence"),
        agent_evidence=evidence("agent_evidence"),
        start_evidence=evidence("user_start_evidence"),
        events=events,
        provisioning=provisioning,
    )
