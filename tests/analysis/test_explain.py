"""explain on the example organisation and on a small hand-built world."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from auditkit.api import AuditWorkspace
from auditkit.errors import NotFoundError

if TYPE_CHECKING:
    from auditkit.analysis.explain import Explanation
    from tests.conftest import DemoWorld

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture(scope="module")
def offboarding(demo_world: DemoWorld) -> dict[str, object]:
    truth = json.loads(demo_world.generated.ground_truth_drift.read_text("utf-8"))
    incident: dict[str, object] = truth["offboardings"][1]
    return incident


@pytest.fixture(scope="module")
def stale_explanation(
    demo_world: DemoWorld, offboarding: dict[str, object]
) -> Explanation:
    call_ids = offboarding["call_ids"]
    assert isinstance(call_ids, list)
    with AuditWorkspace.open(demo_world.workspace_path) as ws:
        return ws.explain(call_ids[0])


def test_stale_call_names_revocation_event(
    stale_explanation: Explanation, offboarding: dict[str, object]
) -> None:
    finding = stale_explanation.finding
    assert finding["verdict"] == "stale_authority"
    assert finding["revocation_source"] == offboarding["event_id"]
    assert finding["revocation_kind"] == "event"


def test_stale_call_names_token_issue_time(
    stale_explanation: Explanation, offboarding: dict[str, object]
) -> None:
    issued = str(offboarding["token_issued_at"]).removesuffix("Z")
    assert f"delegation start {issued}" in stale_explanation.to_text()


def test_stale_call_names_three_parties(
    stale_explanation: Explanation, offboarding: dict[str, object]
) -> None:
    parties = stale_explanation.parties
    assert parties["invoked_by"] == offboarding["user"]
    assert parties["provisioned_by"] != "(no author recorded)"
    assert parties["enforced_by"].startswith("https://")


def test_explain_text_matches_snapshot(
    stale_explanation: Explanation, demo_world: DemoWorld
) -> None:
    text = stale_explanation.to_text().replace(
        str(demo_world.generated.directory), "<inputs>"
    )
    snapshot = SNAPSHOTS / "explain_stale_authority.txt"
    if os.environ.get("AUDITKIT_UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(text + "\n", encoding="utf-8")
    assert text + "\n" == snapshot.read_text("utf-8")


def test_explain_html_escapes_text(stale_explanation: Explanation) -> None:
    html = stale_explanation._repr_html_()
    assert html.startswith("<pre")
    assert "<script" not in html


def test_explain_frame_has_party_rows(stale_explanation: Explanation) -> None:
    frame = stale_explanation.to_frame()
    parties = frame[frame["section"] == "party"]["item"].tolist()
    assert parties == ["invoked_by", "provisioned_by", "enforced_by"]


def test_explain_unknown_call_raises(demo_world: DemoWorld) -> None:
    with (
        AuditWorkspace.open(demo_world.workspace_path) as ws,
        pytest.raises(NotFoundError, match="no finding for call id 'nope'"),
    ):
        ws.explain("nope")
