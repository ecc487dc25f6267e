"""Fixtures of the AgentDojo study tests: the shared AgentDojo sample when present."""

from __future__ import annotations

from pathlib import Path

import pytest

AGENTDOJO_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "agentdojo"


@pytest.fixture(scope="session")
def agentdojo_dir() -> Path:
    """The recorded AgentDojo runs, suites and ground truth; skips when absent."""
    if not (AGENTDOJO_DIR / "runs").is_dir():
        pytest.skip(f"AgentDojo sample not found at {AGENTDOJO_DIR}")
    return AGENTDOJO_DIR
