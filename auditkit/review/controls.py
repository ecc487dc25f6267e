"""Map findings to the controls they bear on in three published frameworks.

The frameworks are the OWASP Top 10 for Agentic Applications 2026, NIST CSF 2.0
and the zero-trust tenets of NIST SP 800-207.

The mapping is data, in ``controls.yaml`` next to this module, with the source of
every framework. Each verdict, reason code and flag maps to a list of control ids. A
finding bears on the union of the controls of its verdict, its reason and its flags.
"""

from __future__ import annotations

import functools
import html
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from auditkit.models.codes import Flag, ReasonCode, Verdict
from auditkit.report.period import Period, table_exists
from auditkit.safety import clean_text

if TYPE_CHECKING:
    from datetime import datetime

    import duckdb

Text = Annotated[StrictStr, Field(min_length=1)]
CodeKind = Literal["verdict", "reason", "flag"]

# Finding ids listed per control in the HTML section. The frame contains them all.
HTML_IDS_PER_CONTROL = 10
# Finding ids listed per control in the summary JSON. findings.csv contains all.
SUMMARY_IDS_PER_CONTROL = 1000


class Framework(BaseModel):
    """A control framework and where its identifiers were read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Text
    name: Text
    source: Text
    consulted: list[Text] = Field(default_factory=list)
    note: str = ""


class Control(BaseModel):
    """One control of a framework, with its published identifier and title."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    framework: Text
    id: Text
    title: Text


class CodeMapping(BaseModel):
    """Controls one code bears on, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    controls: list[Text]
    rationale: Text


class ControlMapping(BaseModel):
    """The whole mapping file, checked for unknown ids and missing codes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    frameworks: list[Framework]
    controls: list[Control]
    mappings: dict[CodeKind, dict[str, CodeMapping]]

    @model_validator(mode="after")
    def _check_references(self) -> ControlMapping:
        framework_ids = {framework.id for framework in self.frameworks}
        control_ids = {control.id for control in self.controls}
        for control in self.controls:
            if control.framework not in framework_ids:
                message = f"control {control.id!r} names unknown framework"
                raise ValueError(f"{message} {control.framework!r}")
        for kind, codes in self.mappings.items():
            for code, mapping in codes.items():
                unknown = sorted(set(mapping.controls) - control_ids)
                if unknown:
                    message = f"{kind} {code!r} maps to unknown controls {unknown}"
                    raise ValueError(message)
        return self

    def missing_codes(self) -> list[str]:
        """Return every verdict, reason code and flag without a mapping entry."""
        expected: dict[CodeKind, list[str]] = {
            "verdict": [verdict.value for verdict in Verdict],
            "reason": [reason.value for reason in ReasonCode],
            "flag": [flag.value for flag in Flag],
        }
        return [
            f"{kind} {code}"
            for kind, codes in expected.items()
            for code in codes
            if code not in self.mappings.get(kind, {})
        ]

    def rows(self) -> pd.DataFrame:
        """Return one row per (code kind, code, control id) pair."""
        rows = [
            {"kind": kind, "code": code, "control_id": control_id}
            for kind, codes in self.mappings.items()
            for code, mapping in codes.items()
            for control_id in mapping.controls
        ]
        return pd.DataFrame(rows, columns=["kind", "code", "control_id"])


@functools.cache
def control_mapping() -> ControlMapping:
    """Load the mapping shipped with auditkit (``auditkit/review/controls.yaml``)."""
    text = (
        resources.files("auditkit.review").joinpath("controls.yaml").read_text("utf-8")
    )
    return ControlMapping.model_validate(yaml.safe_load(text))


def controls_for(kind: CodeKind, code: str) -> list[str]:
    """Return the control ids one verdict, reason code or flag bears on.

    Examples
    --------
    >>> controls_for("verdict", "agent_over_scope")[:2]
    ['ASI02', 'ASI03']
    """
    entry = control_mapping().mappings.get(kind, {}).get(code)
    return list(entry.controls) if entry is not None else []


def control_summary(
    con: duckdb.DuckDBPyConnection,
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> pd.DataFrame:
    """Count the findings behind each control, with their ids.

    Reads ``findings`` and, when the workspace has it, ``drift_findings`` (by
    reason code, a drift finding belonging to the period its ``period_start`` is in).

    Parameters
    ----------
    con
        Connection to an evaluated workspace.
    since, until
        Half-open period on the call time; ``None`` leaves that end open.

    Returns
    -------
    pandas.DataFrame
        One row per control in the mapping, in file order: ``framework``,
        ``control_id``, ``title``, ``findings`` (distinct findings, 0 when none) and
        ``finding_ids`` (sorted list).

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> _ = con.execute(
    ...     "CREATE TABLE findings AS SELECT 'f1' AS finding_id, "
    ...     "TIMESTAMP '2026-03-01 10:00' AS ts, 'agent_over_scope' AS verdict, "
    ...     "'no_matching_grant' AS reason, 'enforcement_gap' AS flags"
    ... )
    >>> summary = control_summary(con)
    >>> summary.loc[summary["findings"] > 0, "control_id"].tolist()[:3]
    ['ASI02', 'ASI03', 'PR.AA']
    """
    mapping = control_mapping()
    controls = pd.DataFrame(
        [control.model_dump() for control in mapping.controls],
        columns=["framework", "id", "title"],
    ).rename(columns={"id": "control_id"})
    hits = _finding_controls(con, Period.of(since, until), mapping.rows())

    # Sort and deduplicate once for all controls; a Python function per group took
    # most of the report's time at a million findings.
    unique = hits.drop_duplicates().sort_values(["control_id", "finding_id"])
    grouped = {
        str(control_id): ids.to_numpy(dtype=object).tolist()
        for control_id, ids in unique.groupby("control_id", sort=False)["finding_id"]
    }
    controls["finding_ids"] = [
        grouped.get(control_id, []) for control_id in controls["control_id"]
    ]
    controls["findings"] = controls["finding_ids"].map(len)
    return controls[["framework", "control_id", "title", "findings", "finding_ids"]]


def render_controls_html(summary: pd.DataFrame) -> str:
    """Return an HTML fragment (a ``<section>``) of the per-control counts.

    ``summary`` is the frame of :func:`control_summary`. Every value is escaped.
    """
    names = {framework.id: framework for framework in control_mapping().frameworks}
    rows = [
        '<section id="controls">',
        "<h2>Findings by control</h2>",
        '<p class="note">A finding counts under every control that its verdict, '
        "reason or flags bear on; the mapping and its sources are in "
        "auditkit/review/controls.yaml.</p>",
        "<table><tr><th>framework</th><th>control</th><th>title</th>"
        "<th>findings</th><th>finding ids</th></tr>",
    ]
    for row in summary.to_dict("records"):
        framework = names.get(str(row["framework"]))
        label = framework.name if framework is not None else str(row["framework"])
        rows.append(
            f"<tr><td>{_escape(label)}</td>"
            f'<td class="mono">{_escape(row["control_id"])}</td>'
            f"<td>{_escape(row['title'])}</td>"
            f'<td class="num">{int(row["findings"])}</td>'
            f'<td class="id">{_ids_text(list(row["finding_ids"]))}</td></tr>'
        )
    rows.extend(["</table>", _sources_list(), "</section>"])
    return "\n".join(rows)


def controls_to_dict(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the frame of :func:`control_summary` as JSON data for the summary file.

    Each control lists at most ``SUMMARY_IDS_PER_CONTROL`` finding ids and reports how
    many it left out. ``findings`` is always the full count.
    """
    records = []
    for row in summary.to_dict("records"):
        ids = [str(value) for value in row["finding_ids"]]
        records.append(
            {
                "framework": str(row["framework"]),
                "control_id": str(row["control_id"]),
                "title": str(row["title"]),
                "findings": int(row["findings"]),
                "finding_ids": ids[:SUMMARY_IDS_PER_CONTROL],
                "finding_ids_omitted": max(0, len(ids) - SUMMARY_IDS_PER_CONTROL),
            }
        )
    return records


def _finding_controls(
    con: duckdb.DuckDBPyConnection, period: Period, pairs: pd.DataFrame
) -> pd.DataFrame:
    if not table_exists(con, "findings"):
        return pd.DataFrame({"finding_id": [], "control_id": []}, dtype=object)
    where, params = period.where("ts")
    # S608: the SQL joins fixed text; values and the mapping are parameters.
    codes = con.execute(
        f"""
        WITH f AS (SELECT finding_id, verdict, reason, flags FROM findings
                   WHERE {where})
        SELECT finding_id, 'verdict' AS kind, verdict AS code FROM f
        UNION ALL SELECT finding_id, 'reason', reason FROM f
        UNION ALL SELECT finding_id, 'flag', unnest(string_split(flags, ','))
        FROM f WHERE coalesce(flags, '') <> ''
        """,  # noqa: S608
        params,
    ).df()
    if table_exists(con, "drift_findings"):
        drift_where, drift_params = period.where("period_start")
        # S608: the SQL joins fixed text; values are parameters.
        drift = con.execute(
            "SELECT finding_id, 'reason' AS kind, reason AS code "  # noqa: S608
            f"FROM drift_findings WHERE {drift_where}",
            drift_params,
        ).df()
        codes = pd.concat([codes, drift], ignore_index=True)
    return codes.merge(pairs, on=["kind", "code"])[["finding_id", "control_id"]]


def _escape(value: Any) -> str:
    return html.escape(clean_text(str(value)))


def _ids_text(ids: list[str]) -> str:
    shown = ", ".join(_escape(value) for value in ids[:HTML_IDS_PER_CONTROL])
    if len(ids) > HTML_IDS_PER_CONTROL:
        shown += f" and {len(ids) - HTML_IDS_PER_CONTROL} more"
    return shown


def _sources_list() -> str:
    items = [
        f"<li>{_escape(framework.name)}: {_escape(framework.source)}</li>"
        for framework in control_mapping().frameworks
    ]
    return '<p class="note">Sources:</p>\n<ul>\n' + "\n".join(items) + "\n</ul>"
