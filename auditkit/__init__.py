"""auditkit: audit what AI agents did on behalf of users.

Importing auditkit does no I/O and loads no database engine; ``auditkit.open`` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auditkit.errors import AuditkitError, InputError, NotFoundError, WorkspaceError

if TYPE_CHECKING:
    from pathlib import Path

    from auditkit.api import AuditWorkspace

__version__ = "0.1.0"

__all__ = [
    "AuditkitError",
    "InputError",
    "NotFoundError",
    "WorkspaceError",
    "__version__",
    "open",
]


def open(path: str | Path = "auditkit.duckdb", **settings: Any) -> AuditWorkspace:
    """Open (or create) the workspace at ``path``.

    Parameters
    ----------
    path
        DuckDB file holding the loaded inputs and findings.
    **settings
        Fields of :class:`auditkit.settings.Settings`, such as ``default_timezone``.
    """
    # Imported here so that importing auditkit loads neither DuckDB nor pandas.
    from auditkit.api import AuditWorkspace  # noqa: PLC0415

    return AuditWorkspace.open(path, **settings)
