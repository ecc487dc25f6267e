"""The standalone report: one folder with an offline HTML page and the exports.

``report.html`` needs no network and runs no script: charts are inline SVG rendered by
vl-convert, styles are inline, and a Content-Security-Policy meta tag forbids scripts,
so a payload that slipped through escaping still could not run. Jinja's autoescape
escapes every value; the chart SVG is the only markup inserted as is, after a check
that it contains no script, event handler, foreign object or link.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

import auditkit
from auditkit.errors import AuditkitError
from auditkit.report import charts
from auditkit.report.exports import (
    cleaned_findings,
    write_cleaned_csv,
    write_cleaned_parquet,
)
from auditkit.report.manifest import build_manifest, write_json
from auditkit.report.ocsf import write_cleaned_ocsf
from auditkit.report.period import REPORTED_VERDICTS, Period, table_exists
from auditkit.report.summary import SEVERITY_ORDER, summarize
from auditkit.review.diff import PeriodDiff, diff_chart
from auditkit.review.report import review_sections
from auditkit.safety import clean_text

if TYPE_CHECKING:
    from collections.abc import Callable

    import altair as alt
    import duckdb

logger = logging.getLogger(__name__)

DEFAULT_TITLE = "auditkit report"
# Rows of the most-severe-findings table; the full list is in findings.csv.
DEFAULT_TOP_FINDINGS = 100
# Rows of the stale-authority windows table.
DEFAULT_TOP_WINDOWS = 50

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; img-src data:; style-src 'unsafe-inline'"
)

# Elements a chart's SVG may contain. vl-convert writes only these for our charts;
# anything else (script, foreignObject, a, image, use, animate) is rejected.
SVG_ELEMENTS = frozenset(
    {
        "svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline",
        "polygon", "text", "tspan", "title", "desc", "defs", "clipPath",
        "linearGradient", "radialGradient", "stop", "pattern", "mask",
    }
)  # fmt: skip

# A start tag whose attribute values are double-quoted. Text and attribute values in
# vl-convert's SVG are XML-escaped, so every raw '<' before a letter starts a tag.
_SVG_TAG = re.compile(
    r'<(?P<name>[A-Za-z][\w:.-]*)(?P<attrs>(?:\s+[\w:.-]+\s*=\s*"[^"]*")*)\s*/?>'
)
_SVG_ATTRIBUTE = re.compile(r'([\w:.-]+)\s*=\s*"[^"]*"')
_TAG_START = re.compile(r"<[A-Za-z]")

_TABLE_COLUMNS = (
    "severity",
    "verdict",
    "reason",
    "ts",
    "subject",
    "actor",
    "tool",
    "action",
    "resource",
    "outcome",
    "flags",
    "finding_id",
    "call_id",
    "source_file",
    "source_line",
)


@dataclass(frozen=True)
class ReportResult:
    """Paths and counts of a written report."""

    out_dir: Path
    html: Path
    findings_csv: Path
    findings_parquet: Path
    summary_json: Path
    ocsf_jsonl: Path
    manifest_json: Path
    findings: int
    ocsf_findings: int
    summary: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class _ChartSection:
    title: str
    caption: str
    svg: Markup | None


def write_report(
    con: duckdb.DuckDBPyConnection,
    out_dir: str | Path,
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    title: str = DEFAULT_TITLE,
    top_findings: int = DEFAULT_TOP_FINDINGS,
    top_windows: int = DEFAULT_TOP_WINDOWS,
) -> ReportResult:
    """Write the report folder: HTML page, CSV, Parquet, summary, OCSF and manifest.

    Parameters
    ----------
    con
        Connection to a workspace with ``findings`` (and, where evaluated,
        ``stale_windows`` and ``load_log``) tables.
    out_dir
        Folder to write; created if missing, files in it are overwritten.
    since, until
        Half-open reporting period on the call time; ``None`` leaves that end open.
    title
        Title of the HTML page.
    top_findings, top_windows
        Rows of the findings and windows tables in the page.

    Returns
    -------
    ReportResult
        The written paths and the summary counts.
    """
    period = Period.of(since, until)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = _output_paths(folder)
    version = auditkit.__version__

    # The three exports read one temporary table, so the rows are cleaned and sorted
    # once.
    with cleaned_findings(
        con, period, reported_verdicts=REPORTED_VERDICTS, materialize=True
    ) as cleaned:
        findings = write_cleaned_csv(cleaned, paths["findings.csv"])
        write_cleaned_parquet(cleaned, paths["findings.parquet"])
        ocsf_findings = write_cleaned_ocsf(
            cleaned, paths["findings.ocsf.jsonl"], product_version=version
        )
    summary = summarize(con, period)
    review = review_sections(con, period)
    summary.update(review.summary)
    write_json(paths["summary.json"], summary)

    generated_at = datetime.now(UTC)
    page = _render_page(
        con,
        period,
        summary=summary,
        title=title,
        top_findings=top_findings,
        top_windows=top_windows,
        generated_at=generated_at,
        review_html=Markup(review.html),  # noqa: S704 - every value in it is escaped
        diff_chart=_diff_chart(review.diff),
    )
    paths["report.html"].write_text(page, encoding="utf-8")

    parameters = {
        **period.as_json(),
        "title": title,
        "top_findings": top_findings,
        "top_windows": top_windows,
    }
    outputs = {name: path for name, path in paths.items() if name != "manifest.json"}
    manifest = build_manifest(
        con, parameters=parameters, outputs=outputs, generated_at=generated_at
    )
    write_json(paths["manifest.json"], manifest)
    logger.info("wrote report with %d findings to %s", findings, folder)

    return ReportResult(
        out_dir=folder,
        html=paths["report.html"],
        findings_csv=paths["findings.csv"],
        findings_parquet=paths["findings.parquet"],
        summary_json=paths["summary.json"],
        ocsf_jsonl=paths["findings.ocsf.jsonl"],
        manifest_json=paths["manifest.json"],
        findings=findings,
        ocsf_findings=ocsf_findings,
        summary=summary,
    )


def render_chart_svg(chart: alt.TopLevelMixin) -> Markup:
    """Render a chart to SVG markup that is safe to insert into the page.

    Raises :class:`auditkit.errors.AuditkitError` when :func:`unsafe_svg_markup` finds
    an element or attribute that could run or load anything. vl-convert writes none
    for these charts, so the check guards against a renderer change.
    """
    svg = charts.chart_to_svg(chart)
    unsafe = unsafe_svg_markup(svg)
    if unsafe is not None:
        message = f"chart SVG contains {unsafe}; the chart was not embedded"
        raise AuditkitError(message)
    return Markup(svg)  # noqa: S704 - checked above, and data text in it is XML-escaped


def unsafe_svg_markup(svg: str) -> str | None:
    """Return a description of the first unsafe tag or attribute in ``svg``, or None.

    Unsafe: an element outside :data:`SVG_ELEMENTS`, an event handler attribute
    (``on…``), an ``href`` of any namespace, or a tag this check cannot parse.

    Examples
    --------
    >>> unsafe_svg_markup('<svg><text aria-label="&lt;script&gt;">x</text></svg>')
    >>> unsafe_svg_markup('<svg><g onload="x()"/></svg>')
    "attribute 'onload' on <g>"
    """
    tags = list(_SVG_TAG.finditer(svg))
    if len(tags) != len(_TAG_START.findall(svg)):
        return "a tag that could not be parsed"

    for tag in tags:
        name = tag.group("name")
        if name not in SVG_ELEMENTS:
            return f"element <{name}>"
        for attribute in _SVG_ATTRIBUTE.findall(tag.group("attrs")):
            lowered = attribute.lower()
            if lowered.startswith("on") or lowered.split(":")[-1] == "href":
                return f"attribute {attribute!r} on <{name}>"
    return None


def _output_paths(folder: Path) -> dict[str, Path]:
    names = (
        "report.html",
        "findings.csv",
        "findings.parquet",
        "findings.ocsf.jsonl",
        "summary.json",
        "manifest.json",
    )
    return {name: folder / name for name in names}


def _render_page(
    con: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    summary: dict[str, Any],
    title: str,
    top_findings: int,
    top_windows: int,
    generated_at: datetime,
    review_html: Markup,
    diff_chart: Markup | None,
) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("auditkit.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = environment.get_template("report.html.j2")
    return template.render(
        title=clean_text(title),
        csp=CONTENT_SECURITY_POLICY,
        summary=summary,
        severity_order=SEVERITY_ORDER,
        findings=_most_severe(con, period, top_findings),
        finding_columns=_TABLE_COLUMNS,
        column_classes={"ts": "ts", "source_line": "num", "severity": "ts"},
        windows=_longest_windows(con, period, top_windows),
        charts=_chart_sections(con, period),
        review_html=review_html,
        diff_chart=diff_chart,
        version=auditkit.__version__,
        generated_at=generated_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
    )


def _diff_chart(diff: PeriodDiff | None) -> Markup | None:
    # The period diff as a chart, beside the diff's own section.
    if diff is None:
        return None
    return render_chart_svg(diff_chart(diff))


def _most_severe(
    con: duckdb.DuckDBPyConnection, period: Period, limit: int
) -> list[dict[str, Any]]:
    where, params = period.where("ts")
    columns = ", ".join(_TABLE_COLUMNS)
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    sql = f"""
        SELECT {columns} FROM findings
        WHERE {where} AND list_contains(?, verdict)
        ORDER BY list_position(?, severity) DESC NULLS LAST, ts, call_id, finding_id
        LIMIT ?
    """  # noqa: S608
    verdicts = list(REPORTED_VERDICTS)
    return _records(con, sql, [*params, verdicts, SEVERITY_ORDER, limit])


def _longest_windows(
    con: duckdb.DuckDBPyConnection, period: Period, limit: int
) -> list[dict[str, Any]]:
    if not table_exists(con, "stale_windows"):
        return []
    where, params = period.overlaps("revoked_at", "last_call_at")
    # S608: the SQL joins fixed text and trusted names; values are parameters.
    sql = f"""
        SELECT window_id, subject, actor, revoked_at, revocation_kind,
               revocation_source, first_call_id, first_call_at, last_call_id,
               last_call_at, calls, resources, duration_seconds
        FROM stale_windows
        WHERE {where}
        ORDER BY duration_seconds DESC, window_id
        LIMIT ?
    """  # noqa: S608
    return _records(con, sql, [*params, limit])


def _records(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]
) -> list[dict[str, Any]]:
    relation = con.execute(sql, params)
    names = [column[0] for column in relation.description]
    return [
        {name: _display(value) for name, value in zip(names, row, strict=True)}
        for row in relation.fetchall()
    ]


def _display(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, datetime) and value.microsecond:
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value


_CHARTS: tuple[tuple[str, str, Callable[..., Any]], ...] = (
    (
        "Findings over time",
        "Findings per day by verdict; each segment is one severity. Hover a segment "
        "for its first call ids.",
        charts.findings_over_time,
    ),
    (
        "Stale-authority windows",
        "From the revocation instant to the last call that relied on the revoked "
        "authority, per user and agent.",
        charts.stale_windows_timeline,
    ),
    (
        "Delegation flow",
        "Violations per user → agent and agent → resource server hop.",
        charts.delegation_flow,
    ),
    (
        "Severity by agent",
        "Findings per agent and severity, agents with the worst findings first.",
        charts.severity_by_agent,
    ),
)


def _chart_sections(
    con: duckdb.DuckDBPyConnection, period: Period
) -> list[_ChartSection]:
    sections: list[_ChartSection] = []
    for title, caption, build in _CHARTS:
        chart = build(con, since=period.since, until=period.until)
        data = charts.chart_data(chart)
        svg = None if data is None or data.empty else render_chart_svg(chart)
        sections.append(_ChartSection(title, caption, svg))
    return sections
