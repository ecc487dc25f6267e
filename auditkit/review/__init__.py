"""Accountability review of findings: triage, exceptions, period diffs and controls.

Everything here reads the ``findings`` table that ``evaluate`` writes and never
changes it: triage decisions go to their own ``triage_log`` table, exceptions mark
findings in the frames they return, and diffs and control summaries only count.
"""

from __future__ import annotations

from auditkit.review.controls import (
    ControlMapping,
    control_mapping,
    control_summary,
    controls_for,
    render_controls_html,
)
from auditkit.review.diff import (
    DIFF_KEY,
    PeriodDiff,
    diff_chart,
    diff_periods,
    previous_period,
    render_diff_html,
)
from auditkit.review.exceptions import (
    ExceptionMatch,
    ExceptionResult,
    ExceptionRule,
    apply_exceptions,
    load_exceptions,
)
from auditkit.review.triage import (
    TriageChange,
    TriageState,
    current_triage,
    set_triage,
    triage_history,
)

__all__ = [
    "DIFF_KEY",
    "ControlMapping",
    "ExceptionMatch",
    "ExceptionResult",
    "ExceptionRule",
    "PeriodDiff",
    "TriageChange",
    "TriageState",
    "apply_exceptions",
    "control_mapping",
    "control_summary",
    "controls_for",
    "current_triage",
    "diff_chart",
    "diff_periods",
    "load_exceptions",
    "previous_period",
    "render_controls_html",
    "render_diff_html",
    "set_triage",
    "triage_history",
]
