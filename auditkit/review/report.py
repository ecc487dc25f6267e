"""The review sections of the standalone report: period diff and findings by control.

``auditkit.report.html`` calls :func:`review_sections` once per report and adds its
summary keys to ``summary.json`` and its HTML fragment to the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditkit.review.controls import (
    control_summary,
    controls_to_dict,
    render_controls_html,
)
from auditkit.review.diff import (
    PeriodDiff,
    diff_periods,
    previous_period,
    render_diff_html,
)

if TYPE_CHECKING:
    import duckdb

    from auditkit.report.period import Period

_NO_DIFF_HTML = (
    '<section id="period-diff">\n<h2>Change since the previous period</h2>\n'
    '<p class="empty">The report period has an open end, so there is no previous '
    "period of the same length to compare with; give both since and until.</p>\n"
    "</section>"
)


@dataclass(frozen=True)
class ReviewSections:
    """Summary keys and the escaped HTML fragment of the review sections."""

    summary: dict[str, Any] = field(repr=False)
    html: str = field(repr=False)
    diff: PeriodDiff | None = field(default=None, repr=False)


def review_sections(con: duckdb.DuckDBPyConnection, period: Period) -> ReviewSections:
    """Build the period diff and per-control sections of one report period.

    The previous period is the one of equal length that ends where ``period``
    starts; with an open end there is none and ``period_diff`` is ``None``.

    Returns
    -------
    ReviewSections
        ``summary`` has the keys ``period_diff`` and ``controls``; ``html`` contains
        two ``<section>`` elements whose values are all escaped.
    """
    controls = control_summary(con, since=period.since, until=period.until)
    summary: dict[str, Any] = {
        "period_diff": None,
        "controls": controls_to_dict(controls),
    }
    diff_html = _NO_DIFF_HTML
    diff = None
    if period.since is not None and period.until is not None:
        diff = diff_periods(con, previous_period(period), period)
        summary["period_diff"] = diff.to_dict()
        diff_html = render_diff_html(diff)

    html = f"{diff_html}\n{render_controls_html(controls)}"
    return ReviewSections(summary, html, diff)
