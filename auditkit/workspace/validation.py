"""Validation of mapped records against the canonical models, and bad-record reports."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from auditkit.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic import BaseModel, ValidationError

_SHOWN_VALUE_CHARS = 40


@dataclass(frozen=True)
class Problem:
    """One record that could not be loaded, with where it is and why.

    ``record`` is the record's text as read (JSON for decoded records), for the
    quarantine table.
    """

    path: str
    line: int
    field: str | None
    reason: str
    record: str | None = None

    def to_error(self, hint: str | None = None) -> InputError:
        """Return the :class:`InputError` that reports this record."""
        return InputError(
            self.reason, path=self.path, line=self.line, field=self.field, hint=hint
        )


def validate_record(
    model: type[BaseModel],
    value: Mapping[str, Any],
    *,
    from_text: bool,
    context: dict[str, Any],
) -> BaseModel:
    """Validate one mapped record strictly against its canonical model.

    Typed records (JSON, Parquet, adapters' output) are validated in pydantic's
    strict JSON mode, so an enumeration field takes its value as text while
    ``3.5`` and ``true`` are still not integers and a number is not an id. Python
    values JSON lacks are encoded first: a datetime as ISO 8601 text (with its
    offset when it has one), anything else as ``str``.

    Parameters
    ----------
    model
        Canonical model of the record's kind.
    value
        Mapped record. For CSV (``from_text``) every value is text and an empty cell
        counts as missing.
    from_text
        Whether the values are cell texts to parse (CSV), not typed JSON values.
    context
        Pydantic validation context, such as ``{"default_timezone": "UTC"}``.

    Raises
    ------
    pydantic.ValidationError
        If any field is missing or of the wrong type.
    """
    # NOTE: one pydantic call per record is the slow step of a load. A vectorised
    # path (Arrow casts plus checks in DuckDB) can replace this function.
    if from_text:
        cells = {name: text for name, text in value.items() if name and text}
        return model.model_validate_strings(cells, strict=True, context=context)
    # Strict Python mode would reject "user" for an enum field, so records go
    # through strict JSON mode, which checks the same types as JSON input.
    text = json.dumps(value, default=_json_default)
    return model.model_validate_json(text, strict=True, context=context)


def validation_problem(
    error: ValidationError, *, path: str, line: int, record: str | None
) -> Problem:
    """Return the problem of a record from the first error pydantic reports."""
    first = error.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    reason = first["msg"].removeprefix("Value error, ")
    shown = _shown_input(first.get("input"))
    if shown and first["type"] not in ("missing", "value_error"):
        reason = f"{reason} (got {shown})"
    if error.error_count() > 1:
        reason = f"{reason} (and {error.error_count() - 1} more errors in this record)"
    return Problem(path, line, field, reason, record)


def record_text(value: Any) -> str | None:
    """Return a record as JSON text for the quarantine table (``None`` if absent)."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=str)


def _shown_input(value: Any) -> str | None:
    # Strings are not echoed: a field may hold a token or another secret.
    if value is None or isinstance(value, str | dict | list):
        return None
    text = repr(value)
    if len(text) > _SHOWN_VALUE_CHARS:
        text = text[:_SHOWN_VALUE_CHARS] + "..."
    return f"{type(value).__name__} {text}"


def _json_default(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)
