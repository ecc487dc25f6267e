"""The entry point that writes a complete example folder."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from auditkit.demo.activity import BackgroundActivity
from auditkit.demo.drift import drift_facts
from auditkit.demo.incidents import plant_incidents
from auditkit.demo.organisation import build_organisation
from auditkit.demo.records import (
    CallRow,
    CatalogRow,
    Clock,
    CoverageRow,
    GrantRow,
    MembershipRow,
)
from auditkit.demo.truth import Expectation, GroundTruth
from auditkit.demo.writer import (
    write_ground_truth,
    write_json,
    write_jsonl,
    write_records,
    write_snapshots,
)
from auditkit.models import Outcome, Verdict

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)

# The planted incidents run up to day 22 of the period.
MIN_DAYS = 23


@dataclass(frozen=True)
class DemoResult:
    """Paths and counts of one generated example folder."""

    directory: Path
    calls: Path
    events: Path
    grants: Path
    memberships: Path
    catalog: Path
    coverage: Path
    snapshots: Path
    ground_truth: Path
    ground_truth_drift: Path
    call_count: int
    planted_call_count: int
    event_count: int
    grant_count: int
    membership_count: int
    snapshot_count: int


def generate(
    out_dir: Path,
    *,
    seed: int = 7,
    days: int = 30,
    start: datetime = datetime(2026, 3, 2),
) -> DemoResult:
    """Write the example organisation's inputs and ground truth into ``out_dir``.

    The same seed, length and start always give byte-identical files: the seed only
    moves the background activity, while the organisation and the planted incidents
    are fixed relative to ``start``.

    Parameters
    ----------
    out_dir
        Folder to write into; created when missing. Files of the same names are
        replaced, and so is its ``snapshots`` folder.
    seed
        Seed of the background activity.
    days
        Length of the period in days; at least 23, because the incidents need them.
    start
        Start of the period; a naive value is taken as UTC.

    Returns
    -------
    DemoResult
        The paths written and the number of records of each kind.

    Raises
    ------
    ValueError
        When ``days`` is below 23.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     result = generate(Path(folder), days=23)
    >>> result.planted_call_count
    57
    >>> result.ground_truth.name
    'ground_truth.csv'
    """
    if days < MIN_DAYS:
        message = (
            f"days must be at least {MIN_DAYS} to hold the planted incidents, "
            f"got {days}"
        )
        raise ValueError(message)

    clock = Clock(_as_utc(start), days)
    org = build_organisation(clock)
    incidents = plant_incidents(org)
    # Reproducible synthetic data, not a secret: the standard generator fits.
    rng = random.Random(seed)  # noqa: S311
    background = BackgroundActivity(org, rng).calls()
    calls = _merge(background, [p.call for p in incidents.planted])
    expectations = {p.call.call_id: p.expectation for p in incidents.planted}
    judge = GroundTruth(org.catalog, calls)
    truths = [
        judge.decide(c, expectations.get(c.call_id, Expectation())) for c in calls
    ]

    out_dir.mkdir(parents=True, exist_ok=True)
    result = DemoResult(
        directory=out_dir,
        calls=out_dir / "calls.jsonl",
        events=out_dir / "events.jsonl",
        grants=out_dir / "grants.csv",
        memberships=out_dir / "memberships.csv",
        catalog=out_dir / "catalog.csv",
        coverage=out_dir / "coverage.csv",
        snapshots=out_dir / "snapshots",
        ground_truth=out_dir / "ground_truth.csv",
        ground_truth_drift=out_dir / "ground_truth_drift.json",
        call_count=write_jsonl(out_dir / "calls.jsonl", calls),
        planted_call_count=len(incidents.planted),
        event_count=write_jsonl(out_dir / "events.jsonl", org.events),
        grant_count=write_records(out_dir / "grants.csv", org.grants, GrantRow),
        membership_count=write_records(
            out_dir / "memberships.csv", org.memberships, MembershipRow
        ),
        snapshot_count=write_snapshots(
            out_dir / "snapshots", clock, org.grants, org.memberships
        ),
    )
    write_records(result.catalog, org.catalog, CatalogRow)
    write_records(result.coverage, org.coverage, CoverageRow)
    write_ground_truth(result.ground_truth, truths)
    exercised = {
        call.call_id
        for call, truth in zip(calls, truths, strict=True)
        if truth.verdict is Verdict.WITHIN_SCOPE and call.outcome is Outcome.ALLOWED
    }
    facts = drift_facts(org, incidents, calls, exercised)
    write_json(result.ground_truth_drift, facts)

    logger.info(
        "wrote the example organisation to %s: %d calls, %d planted",
        out_dir,
        result.call_count,
        result.planted_call_count,
    )
    return result


def _as_utc(start: datetime) -> datetime:
    if start.tzinfo is None:
        return start
    return start.astimezone(UTC).replace(tzinfo=None)


def _merge(background: list[CallRow], planted: list[CallRow]) -> list[CallRow]:
    # Background ids follow time order, so they read like a log's sequence numbers.
    ordered = sorted(background, key=lambda call: (call.ts, call.session_id or ""))
    numbered = [
        replace(call, call_id=f"call-{index:06d}")
        for index, call in enumerate(ordered, start=1)
    ]
    return sorted(numbered + planted, key=lambda call: (call.ts, call.call_id))
