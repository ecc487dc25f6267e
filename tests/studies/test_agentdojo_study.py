"""The full AgentDojo study over the shared recorded runs: headline figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from auditkit.errors import InputError
from auditkit.studies.agentdojo import StudyResult, run_study

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def argument_study(agentdojo_dir: Path) -> StudyResult:
    return run_study(agentdojo_dir / "runs", scope="arguments")


@pytest.fixture(scope="module")
def read_tier_study(agentdojo_dir: Path) -> StudyResult:
    return run_study(agentdojo_dir / "runs", scope="arguments", read_tier=True)


@pytest.fixture(scope="module")
def tool_study(agentdojo_dir: Path) -> StudyResult:
    return run_study(agentdojo_dir / "runs", scope="tools")


def test_argument_scope_headline(argument_study: StudyResult) -> None:
    totals = argument_study.totals()
    assert totals["traces"] == 3438
    assert totals["successful_attacks"] == 1216
    assert totals["successful_attacks_caught"] == 1206
    assert totals["benign_successful"] == 106
    assert totals["benign_successful_flagged"] == 19


def test_argument_scope_catches_99_percent(argument_study: StudyResult) -> None:
    totals = argument_study.totals()
    assert totals["successful_attacks_caught"] >= 0.99 * totals["successful_attacks"]


def test_every_miss_has_allowed_resource(argument_study: StudyResult) -> None:
    misses = argument_study.misses()
    assert set(misses["miss_reason"]) == {"allowed_tool_and_resource"}
    assert set(misses["user_task"]) == {"user_task_15"}
    assert set(misses["injection_task"]) == {"injection_task_4"}


def test_dos_attacks_excluded(argument_study: StudyResult) -> None:
    reasons = argument_study.reasons()
    excluded = reasons[reasons["kind"] == "excluded"]
    assert excluded["attacks"].sum() == 70
    assert set(excluded["reason"]) == {"denial_of_service_attack"}


def test_read_tier_flags_under_5_percent(read_tier_study: StudyResult) -> None:
    totals = read_tier_study.totals()
    assert totals["benign_successful_flagged"] == 4
    assert totals["successful_attacks_caught"] == 1201


def test_tool_scope_headline(tool_study: StudyResult) -> None:
    totals = tool_study.totals()
    assert totals["successful_attacks_caught"] == 1086
    assert totals["benign_successful_flagged"] == 13


def test_study_chooses_version(argument_study: StudyResult) -> None:
    assert argument_study.benchmark_version == "v1.1"


def test_json_one_object_per_model_and_suite(argument_study: StudyResult) -> None:
    assert argument_study.to_json().count('"model"') == 6


def test_empty_runs_folder_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no trace found"):
        run_study(tmp_path)
