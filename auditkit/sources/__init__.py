"""Source formats: streaming readers, adapters and the format registry.

The registry lives in :mod:`auditkit.sources.registry` and is not imported here, so
that an adapter module can import this package without a cycle.
"""

from __future__ import annotations

from auditkit.sources.base import Adapter, RawRecord
from auditkit.sources.readers import RecordStream, UnreadableRecord, read_records

__all__ = ["Adapter", "RawRecord", "RecordStream", "UnreadableRecord", "read_records"]
