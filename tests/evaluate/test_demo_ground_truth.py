"""The engine's findings on the example organisation equal its ground-truth file."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import pytest

from auditkit.api import AuditWorkspace
from auditkit.models import Flag, Verdict

if TYPE_CHECKING:
    from tests.conftest import DemoWorld

COMPARED = ["verdict", "reason", "certainty", "severity", "flags"]


@pytest.fixture(scope="module")
def compared(demo_world: DemoWorld) -> pd.DataFrame:
    truth = pd.read_csv(
        demo_world.generated.ground_truth, dtype=str, keep_default_na=False
    )
    with AuditWorkspace.open(demo_world.workspace_path) as ws:
        found = ws.findings()[["call_id", *COMPARED]].fillna("")
    return truth.merge(found, on="call_id", how="outer", suffixes=("_truth", "_found"))


def test_every_call_has_one_finding(compared: pd.DataFrame) -> None:
    assert compared["verdict_truth"].notna().all()
    assert compared["verdict_found"].notna().all()


@pytest.mark.parametrize("column", COMPARED)
def test_column_matches_ground_truth(compared: pd.DataFrame, column: str) -> None:
    differing = compared[compared[f"{column}_truth"] != compared[f"{column}_found"]]
    shown = differing[["call_id", f"{column}_truth", f"{column}_found"]].head(10)
    assert differing.empty, shown.to_string()


def _precision_recall(truth: pd.Series, found: pd.Series) -> tuple[float, float]:
    hits = int((truth & found).sum())
    return hits / max(int(found.sum()), 1), hits / max(int(truth.sum()), 1)


@pytest.mark.parametrize("verdict", list(Verdict))
def test_verdict_precision_and_recall(compared: pd.DataFrame, verdict: Verdict) -> None:
    truth = compared["verdict_truth"] == verdict.value
    found = compared["verdict_found"] == verdict.value
    assert truth.any(), f"the example plants no {verdict.value} call"
    assert _precision_recall(truth, found) == (1.0, 1.0)


@pytest.mark.parametrize("flag", list(Flag))
def test_flag_precision_and_recall(compared: pd.DataFrame, flag: Flag) -> None:
    truth = compared["flags_truth"].str.split(",").map(lambda flags: flag in flags)
    found = compared["flags_found"].str.split(",").map(lambda flags: flag in flags)
    assert truth.any(), f"the example plants no {flag.value} call"
    assert _precision_recall(truth, found) == (1.0, 1.0)
