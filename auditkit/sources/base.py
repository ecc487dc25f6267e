"""What every source format provides: raw records with locations, and adapters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable

    from auditkit.models import InputKind


@dataclass(frozen=True)
class RawRecord:
    """One record as read from a file, before mapping and validation.

    ``line`` is the 1-based line of a JSONL or CSV record, or the 1-based position of a
    record inside a JSON array or Parquet file (``offset_kind`` says which).
    """

    path: str
    line: int
    value: Any
    offset_kind: str = "line"


class Adapter(Protocol):
    """Maps the records of one source format onto canonical input dictionaries.

    ``map`` returns zero or more dictionaries shaped like one of the canonical models
    (``auditkit.models``) of kind ``kind``; a record that cannot be mapped raises
    :class:`auditkit.errors.InputError` naming the field, and the loader quarantines it.
    """

    name: str
    kind: InputKind

    def detect(self, sample: Any) -> bool:
        """Return whether a decoded sample record is unambiguously of this format."""
        ...

    def map(self, record: RawRecord) -> Iterable[dict[str, Any]]:
        """Map one raw record onto canonical dictionaries."""
        ...
