"""The evaluation engine: recompute the agent-user intersection for every call."""

from __future__ import annotations

from auditkit.evaluate.engine import STEPS, EvaluationSummary, evaluate

__all__ = ["STEPS", "EvaluationSummary", "evaluate"]
