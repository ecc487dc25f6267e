"""Every exception auditkit raises on purpose derives from ``AuditkitError``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class AuditkitError(Exception):
    """Root of auditkit's own errors."""


class InputError(AuditkitError, ValueError):
    """An input file or record is invalid.

    The location rides on the exception as attributes, so callers need not parse the
    message: ``path``, ``line`` (1-based, or ``None`` for a whole-file problem),
    ``field`` and ``reason``.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.reason = reason
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        if self.field:
            where = f"{where}: field {self.field!r}"
        text = f"{where}: {self.reason}"
        if self.hint:
            text = f"{text}; {self.hint}"
        return text


class WorkspaceError(AuditkitError):
    """The workspace file cannot be opened, is locked, or fails its integrity check."""


class NotFoundError(AuditkitError, LookupError):
    """A requested call, finding or principal does not exist in the workspace."""
