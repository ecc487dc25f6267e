"""The DuckDB workspace: tables, atomic loads, the load log and the quarantine."""

from __future__ import annotations

from auditkit.workspace.database import Workspace
from auditkit.workspace.loading import (
    CollectedInputError,
    ErrorPolicy,
    LoadResult,
    SkippedFile,
)

__all__ = [
    "CollectedInputError",
    "ErrorPolicy",
    "LoadResult",
    "SkippedFile",
    "Workspace",
]
