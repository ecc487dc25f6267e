"""Canonical input records and finding vocabularies.

This package imports pydantic and the standard library only, so that the declared
shape of auditkit's data stays apart from how DuckDB stores and evaluates it.
"""

from __future__ import annotations

from auditkit.models.codes import (
    Certainty,
    Effect,
    Flag,
    LifecycleEventType,
    Outcome,
    PrincipalType,
    ReasonCode,
    RiskTier,
    Severity,
    SideResult,
    Verdict,
)
from auditkit.models.inputs import (
    INPUT_MODELS,
    CatalogEntry,
    Coverage,
    Grant,
    InputKind,
    LifecycleEvent,
    Membership,
    ToolCall,
)

__all__ = [
    "INPUT_MODELS",
    "CatalogEntry",
    "Certainty",
    "Coverage",
    "Effect",
    "Flag",
    "Grant",
    "InputKind",
    "LifecycleEvent",
    "LifecycleEventType",
    "Membership",
    "Outcome",
    "PrincipalType",
    "ReasonCode",
    "RiskTier",
    "Severity",
    "SideResult",
    "ToolCall",
    "Verdict",
]
