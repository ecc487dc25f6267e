"""Reports of a workspace: charts, the standalone HTML report and exports.

Submodules load on first use, so importing this package loads neither Altair nor
vl-convert.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ReportResult": "auditkit.report.html",
    "write_report": "auditkit.report.html",
    "fail_on": "auditkit.report.summary",
    "summarize": "auditkit.report.summary",
    "write_findings_csv": "auditkit.report.exports",
    "write_findings_parquet": "auditkit.report.exports",
    "write_ocsf_jsonl": "auditkit.report.ocsf",
    "Period": "auditkit.report.period",
}

__all__ = [
    "Period",
    "ReportResult",
    "fail_on",
    "summarize",
    "write_findings_csv",
    "write_findings_parquet",
    "write_ocsf_jsonl",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        message = f"module 'auditkit.report' has no attribute {name!r}"
        raise AttributeError(message)
    return getattr(importlib.import_module(module), name)
