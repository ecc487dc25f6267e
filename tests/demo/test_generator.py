"""Tests of the example organisation generator: determinism, shape and ground truth."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from pydantic import BaseModel

from auditkit.demo import DemoResult, generate
from auditkit.models import (
    CatalogEntry,
    Certainty,
    Coverage,
    Flag,
    Grant,
    LifecycleEvent,
    Membership,
    ReasonCode,
    Severity,
    ToolCall,
    Verdict,
)
from tests.reference.evaluator import World, evaluate_world

if TYPE_CHECKING:
    from collections.abc import Iterable
    from enum import StrEnum
    from pathlib import Path

M = TypeVar("M", bound=BaseModel)

# Codes of the drift findings table, which no single call can carry.
DRIFT_REASONS = {
    ReasonCode.UNUSED_GRANT,
    ReasonCode.SCOPE_GROWTH,
    ReasonCode.INTERSECTION_WIDENED,
    ReasonCode.CEILING_BREACH,
}
# The example organisation has no permission boundaries, so no call is outside one.
UNUSED_BY_EXAMPLE = {ReasonCode.OUTSIDE_BOUNDARY}
CALL_REASONS = [
    code
    for code in ReasonCode
    if code not in DRIFT_REASONS and code not in UNUSED_BY_EXAMPLE
]

# Every this many background calls, one is also checked against the reference.
REFERENCE_SAMPLE_STEP = 100


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return generate(tmp_path_factory.mktemp("example"))


@pytest.fixture(scope="module")
def calls(example: DemoResult) -> list[ToolCall]:
    return _read_jsonl(example.calls, ToolCall)


@pytest.fixture(scope="module")
def truth(example: DemoResult) -> list[dict[str, str]]:
    with example.ground_truth.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _read_jsonl(path: Path, model: type[M]) -> list[M]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [model.model_validate_json(line) for line in lines]


def _read_csv(path: Path, model: type[M]) -> list[M]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # An empty cell is a missing value. JSON mode lets strict models take enum text.
    return [
        model.model_validate_json(json.dumps({k: v for k, v in row.items() if v}))
        for row in rows
    ]


def _csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_same_seed_gives_identical_files(example: DemoResult, tmp_path: Path) -> None:
    again = generate(tmp_path / "again")

    first, second = _tree(example.directory), _tree(again.directory)
    assert sorted(first) == sorted(second)
    for name, content in first.items():
        assert second[name] == content, name


def test_other_seed_gives_other_calls(example: DemoResult, tmp_path: Path) -> None:
    other = generate(tmp_path / "other", seed=8, days=23)

    assert other.calls.read_bytes() != example.calls.read_bytes()
    assert other.grants.read_bytes() == example.grants.read_bytes()


def test_call_count_in_range(example: DemoResult, calls: list[ToolCall]) -> None:
    assert 20_000 <= len(calls) <= 50_000
    assert example.call_count == len(calls)


def test_call_ids_unique(calls: list[ToolCall]) -> None:
    ids = [call.call_id for call in calls]

    assert len(set(ids)) == len(ids)


def test_ground_truth_one_row_per_call(
    calls: list[ToolCall], truth: list[dict[str, str]]
) -> None:
    assert [row["call_id"] for row in truth] == [call.call_id for call in calls]


@pytest.mark.parametrize(
    ("column", "codes"),
    [
        ("verdict", Verdict),
        ("reason", CALL_REASONS),
        ("certainty", Certainty),
        ("severity", Severity),
    ],
)
def test_ground_truth_uses_every_code(
    truth: list[dict[str, str]], column: str, codes: Iterable[StrEnum]
) -> None:
    seen = {row[column] for row in truth}

    for code in codes:
        assert code.value in seen, code


def test_ground_truth_uses_every_flag(truth: list[dict[str, str]]) -> None:
    seen = {flag for row in truth for flag in row["flags"].split(",") if flag}

    for flag in Flag:
        assert flag.value in seen, flag


def test_ground_truth_flags_in_enum_order(truth: list[dict[str, str]]) -> None:
    order = [flag.value for flag in Flag]

    for row in truth:
        flags = [flag for flag in row["flags"].split(",") if flag]
        assert flags == sorted(flags, key=order.index), row["call_id"]


def test_background_calls_within_scope(truth: list[dict[str, str]]) -> None:
    background = [row for row in truth if not row["call_id"].startswith("inc-")]
    plain = {
        "verdict": "within_scope",
        "reason": "permission_held",
        "certainty": "exact",
        "severity": "info",
        "flags": "",
    }

    for row in background:
        assert {key: row[key] for key in plain} == plain, row["call_id"]


@pytest.mark.parametrize(
    ("attribute", "model"),
    [
        ("grants", Grant),
        ("memberships", Membership),
        ("catalog", CatalogEntry),
        ("coverage", Coverage),
    ],
)
def test_csv_files_validate(
    example: DemoResult, attribute: str, model: type[BaseModel]
) -> None:
    path = getattr(example, attribute)
    header = _csv_header(path)
    # Optional fields added to a model after the example's columns may be left out.
    left_out = list(model.model_fields)[len(header) :]

    assert header == list(model.model_fields)[: len(header)]
    assert all(not model.model_fields[name].is_required() for name in left_out)
    assert _read_csv(path, model)


def test_events_validate(example: DemoResult) -> None:
    events = _read_jsonl(example.events, LifecycleEvent)

    assert len(events) == example.event_count


def test_timestamps_written_in_utc(example: DemoResult) -> None:
    first = json.loads(example.calls.read_text(encoding="utf-8").splitlines()[0])

    assert first["ts"].endswith("Z")
    assert first["token_issued_at"].endswith("Z")


def test_tokens_reach_one_server_unless_planted(
    example: DemoResult, calls: list[ToolCall]
) -> None:
    catalog = {entry.tool: entry for entry in _read_csv(example.catalog, CatalogEntry)}
    servers: dict[str, set[str]] = defaultdict(set)
    for call in calls:
        entry = catalog.get(call.tool)
        server = call.resource_server or (entry.resource_server if entry else None)
        if call.token_id and server:
            servers[call.token_id].add(server)

    forwarded = {token for token, seen in servers.items() if len(seen) > 1}
    forwarding_calls = {c.call_id for c in calls if c.token_id in forwarded}
    assert forwarding_calls == {"inc-token-flags-2", "inc-token-flags-3"}


def test_coverage_spans_the_period(example: DemoResult) -> None:
    (coverage,) = _read_csv(example.coverage, Coverage)

    assert coverage.valid_from == datetime(2026, 3, 2)
    assert coverage.valid_to == datetime(2026, 4, 1)


def test_snapshot_manifest_lists_each_day(example: DemoResult) -> None:
    manifest = json.loads((example.snapshots / "manifest.json").read_text("utf-8"))
    folders = [entry["folder"] for entry in manifest["snapshots"]]

    assert len(folders) == 30
    assert folders[0] == "2026-03-02T00-00-00Z"
    assert manifest["snapshots"][0]["taken_at"] == "2026-03-02T00:00:00Z"
    for folder in folders:
        assert (example.snapshots / folder / "grants.csv").is_file()
        assert (example.snapshots / folder / "memberships.csv").is_file()


def test_snapshots_follow_group_changes(example: DemoResult) -> None:
    memberships = {
        m.membership_id: m for m in _read_csv(example.memberships, Membership)
    }
    nested = next(
        m
        for m in memberships.values()
        if m.member_id == "grp-support-escalations" and m.parent_id == "grp-support"
    )

    def listed(day: str) -> set[str]:
        path = example.snapshots / f"{day}T00-00-00Z" / "memberships.csv"
        with path.open(encoding="utf-8", newline="") as handle:
            return {row["membership_id"] for row in csv.DictReader(handle)}

    assert nested.membership_id in listed("2026-03-12")
    assert nested.membership_id not in listed("2026-03-13")


def test_snapshots_list_grants_in_force(example: DemoResult) -> None:
    grants = _read_csv(example.grants, Grant)
    taken_at = datetime(2026, 3, 11)
    in_force = {
        g.grant_id
        for g in grants
        if g.valid_from <= taken_at and (g.valid_to is None or taken_at < g.valid_to)
    }
    path = example.snapshots / "2026-03-11T00-00-00Z" / "grants.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        listed = {row["grant_id"] for row in csv.DictReader(handle)}

    assert listed == in_force


def test_drift_facts_name_existing_records(example: DemoResult) -> None:
    facts = json.loads(example.ground_truth_drift.read_text("utf-8"))
    grants = {g.grant_id: g for g in _read_csv(example.grants, Grant)}
    events = {e.event_id: e for e in _read_jsonl(example.events, LifecycleEvent)}

    expansion = grants[facts["scope_expansion"]["grant_id"]]
    assert expansion.principal_id == "finance-assistant"
    assert expansion.changed_by == facts["scope_expansion"]["changed_by"]
    for permission in facts["ceiling_breach"]["permissions"]:
        assert permission["grant_id"] in grants
    for offboarding in facts["offboardings"]:
        assert events[offboarding["event_id"]].principal_id == offboarding["user"]


def test_drift_unused_grants(example: DemoResult) -> None:
    facts = json.loads(example.ground_truth_drift.read_text("utf-8"))
    unused = facts["unused_grants"]
    grants = {g.grant_id: g for g in _read_csv(example.grants, Grant)}

    share = next(
        g.grant_id for g in grants.values() if g.action == "warehouse:ShareExternal"
    )
    delete_event = next(
        g.grant_id for g in grants.values() if g.action == "calendar:DeleteEvent"
    )
    assert share in unused["data-export-agent"]
    # Its only call is undecided, and an undecided call exercises no scope.
    assert delete_event in unused["calendar-scheduler"]
    assert unused["docs-search-agent"] == []
    assert len(unused) == 10


def test_offboarding_calls_follow_deactivation(
    example: DemoResult, calls: list[ToolCall], truth: list[dict[str, str]]
) -> None:
    facts = json.loads(example.ground_truth_drift.read_text("utf-8"))
    by_id = {call.call_id: call for call in calls}
    verdicts = {row["call_id"]: row["verdict"] for row in truth}

    for offboarding in facts["offboardings"]:
        deactivated = datetime.fromisoformat(offboarding["deactivated_at"][:-1])
        for call_id in offboarding["call_ids"]:
            call = by_id[call_id]
            assert call.ts > deactivated
            assert call.token_id == offboarding["token_id"]
            assert verdicts[call_id] in {"stale_authority", "user_over_scope"}


def test_ground_truth_agrees_with_reference(
    example: DemoResult, calls: list[ToolCall], truth: list[dict[str, str]]
) -> None:
    chosen = [
        call
        for index, call in enumerate(calls)
        if call.call_id.startswith("inc-") or index % REFERENCE_SAMPLE_STEP == 0
    ]
    world = World.of(
        calls=chosen,
        grants=_read_csv(example.grants, Grant),
        memberships=_read_csv(example.memberships, Membership),
        events=_read_jsonl(example.events, LifecycleEvent),
        catalog=_read_csv(example.catalog, CatalogEntry),
        coverage=_read_csv(example.coverage, Coverage),
    )
    expected = {row["call_id"]: row for row in truth}

    for finding in evaluate_world(world).findings:
        row = expected[finding.call_id]
        found: dict[str, Any] = {
            "verdict": finding.verdict,
            "reason": finding.reason,
            "certainty": finding.certainty,
            "severity": finding.severity,
            "flags": finding.flags,
        }
        assert found == {key: row[key] for key in found}, finding.call_id


def test_short_period_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="days must be at least 23"):
        generate(tmp_path, days=10)


def test_aware_start_read_as_utc(tmp_path: Path) -> None:
    paris = timezone(timedelta(hours=1))
    result = generate(tmp_path, days=23, start=datetime(2026, 3, 2, 1, tzinfo=paris))
    (coverage,) = _read_csv(result.coverage, Coverage)

    assert coverage.valid_from == datetime(2026, 3, 2)
