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
from auditkit.report.exports import period_filter
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
# Controls that control_summary can count in one pass: one bit each of a BIGINT mask.
_MAX_MASKED_CONTROLS = 63


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
    max_ids: int | None = SUMMARY_IDS_PER_CONTROL,
) -> pd.DataFrame:
    """Count the findings behind each control, with the first of their ids.

    Reads ``findings`` and, when the workspace has it, ``drift_findings`` (by
    reason code, a drift finding belonging to the period its ``period_start`` is in).
    DuckDB counts and picks the ids, so the frame stays small however many findings
    there are.

    Parameters
    ----------
    con
        Connection to an evaluated workspace.
    since, until
        Half-open period on the call time; ``None`` leaves that end open.
    max_ids
        Finding ids listed per control, the smallest first; ``None`` lists them all.

    Returns
    -------
    pandas.DataFrame
        One row per control in the mapping, in file order: ``framework``,
        ``control_id``, ``title``, ``findings`` (distinct findings, 0 when none, never
        capped) and ``finding_ids`` (sorted list of at most ``max_ids``; a missing id
        is ``None`` and comes last).

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
    counts = _control_counts(con, Period.of(since, until), mapping, max_ids)

    empty: tuple[int, list[str | None]] = (0, [])
    found = [
        counts.get(str(control_id), empty) for control_id in controls["control_id"]
    ]
    controls["findings"] = pd.Series([count for count, _ in found], dtype="int64")
    controls["finding_ids"] = pd.Series([ids for _, ids in found], dtype=object)
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
            f'<td class="id">{_ids_text(row["finding_ids"], int(row["findings"]))}'
            "</td></tr>"
        )
    rows.extend(["</table>", _sources_list(), "</section>"])
    return "\n".join(rows)


def controls_to_dict(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the frame of :func:`control_summary` as JSON data for the summary file.

    Each control lists at most ``SUMMARY_IDS_PER_CONTROL`` finding ids, cleaned
    (:func:`~auditkit.safety.clean_text`), and reports how many it left out.
    ``findings`` is always the full count.
    """
    records = []
    for row in summary.to_dict("records"):
        ids = [_clean_id(value) for value in row["finding_ids"]]
        listed = ids[:SUMMARY_IDS_PER_CONTROL]
        records.append(
            {
                "framework": str(row["framework"]),
                "control_id": str(row["control_id"]),
                "title": str(row["title"]),
                "findings": int(row["findings"]),
                "finding_ids": listed,
                "finding_ids_omitted": max(0, int(row["findings"]) - len(listed)),
            }
        )
    return records


def _control_counts(
    con: duckdb.DuckDBPyConnection,
    period: Period,
    mapping: ControlMapping,
    max_ids: int | None,
) -> dict[str, tuple[int, list[str | None]]]:
    # Each control's distinct findings: their number and the first max_ids ids. Every
    # finding gets a bit mask of its controls (verdict, reason and flags together),
    # so that one pass counts them all. Findings that share an id share one mask.
    control_ids = [control.id for control in mapping.controls]
    if len(control_ids) > _MAX_MASKED_CONTROLS:
        message = (
            f"cannot count {len(control_ids)} controls: control_summary counts at "
            f"most {_MAX_MASKED_CONTROLS}, one bit each of a 64-bit mask"
        )
        raise ValueError(message)
    masks = _finding_masks_sql(con, period, mapping, control_ids)
    if masks is None:
        return {}
    sql, params = masks

    measures = []
    for bit in range(len(control_ids)):
        has = f"mask & {1 << bit} <> 0"
        measures.append(
            f"count(*) FILTER (WHERE {has}), "
            f"{_first_ids_sql(max_ids)} FILTER (WHERE {has}), "
            f"coalesce(bool_or(finding_id IS NULL) FILTER (WHERE {has}), false)"
        )
    if max_ids is not None and max_ids > 0:
        params["max_ids"] = max_ids
    # S608: the SQL joins fixed text; values and the mapping are parameters.
    rows = con.execute(
        f"""
        WITH masks AS ({sql}),
        findings_masks AS (
            SELECT finding_id, bit_or(mask) AS mask FROM masks GROUP BY finding_id
        )
        SELECT {", ".join(measures)} FROM findings_masks WHERE mask <> 0
        """,  # noqa: S608
        params,
    ).fetchall()

    values = rows[0]
    counts: dict[str, tuple[int, list[str | None]]] = {}
    for index, control_id in enumerate(control_ids):
        findings, first_ids, has_null_id = values[3 * index : 3 * index + 3]
        if not findings:
            continue
        # A missing id counts as a finding and is listed after the others, where
        # max_ids leaves room for it.
        ids: list[str | None] = [
            value for value in first_ids or [] if value is not None
        ]
        if has_null_id and (max_ids is None or len(ids) < max_ids):
            ids.append(None)
        counts[control_id] = (int(findings), ids)
    return counts


def _first_ids_sql(max_ids: int | None) -> str:
    # min(x, n) keeps the n smallest values without sorting the whole group.
    if max_ids is None:
        return "list(finding_id ORDER BY finding_id)"
    if max_ids > 0:
        return "min(finding_id, $max_ids)"
    return "first(CAST([] AS VARCHAR[]))"


def _finding_masks_sql(
    con: duckdb.DuckDBPyConnection,
    period: Period,
    mapping: ControlMapping,
    control_ids: list[str],
) -> tuple[str, dict[str, Any]] | None:
    # One row per finding and per drift finding with the mask of the controls its
    # verdict, reason and flags bear on.
    if not table_exists(con, "findings"):
        return None
    params: dict[str, Any] = {}
    for kind in ("verdict", "reason", "flag"):
        codes = mapping.mappings.get(kind, {})
        params[f"{kind}_codes"] = list(codes)
        params[f"{kind}_masks"] = [
            sum(1 << control_ids.index(control) for control in set(entry.controls))
            for entry in codes.values()
        ]

    def mask_of(kind: str, code: str) -> str:
        position = f"list_position(CAST(${kind}_codes AS VARCHAR[]), {code})"
        return f"coalesce(list_extract(CAST(${kind}_masks AS BIGINT[]), {position}), 0)"

    flags = (
        f"coalesce(list_reduce(list_transform(string_split(flags, ','), "
        f"lambda flag: {mask_of('flag', 'flag')}), lambda a, b: a | b), 0)"
    )
    where, period_params = period_filter(period, "ts")
    params |= period_params
    # S608: the SQL joins fixed text; values and the mapping are parameters.
    sql = f"""
        SELECT finding_id,
               {mask_of("verdict", "verdict")} | {mask_of("reason", "reason")}
               | {flags} AS mask
        FROM findings WHERE {where}
    """  # noqa: S608
    if table_exists(con, "drift_findings"):
        drift_where, drift_params = period_filter(period, "period_start")
        # S608: the SQL joins fixed text; values are parameters.
        sql += (
            f"UNION ALL SELECT finding_id, {mask_of('reason', 'reason')} "  # noqa: S608
            f"FROM drift_findings WHERE {drift_where}"
        )
        params |= drift_params
    return sql, params


def _escape(value: Any) -> str:
    return html.escape(clean_text(str(value)))


def _ids_text(ids: list[str | None], total: int) -> str:
    # The first ids and how many findings the cell leaves out of ``total``.
    shown = list(ids[:HTML_IDS_PER_CONTROL])
    text = ", ".join(_escape(value) for value in shown)
    if total > len(shown):
        text += f" and {total - len(shown)} more"
    return text


def _clean_id(value: str | None) -> str | None:
    return None if value is None else clean_text(str(value))


def _sources_list() -> str:
    items = [
        f"<li>{_escape(framework.name)}: {_escape(framework.source)}</li>"
        for framework in control_mapping().frameworks
    ]
    return '<p class="note">Sources:</p>\n<ul>\n' + "\n".join(items) + "\n</ul>"
