"""Snapshot series to intervals: times, runs, windows, coverage and folders."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from auditkit.entitlements.snapshots import (
    Snapshot,
    read_snapshot_folder,
    snapshot_intervals,
    write_intervals,
)
from auditkit.errors import InputError

DAY = [datetime(2026, 3, day) for day in range(1, 6)]
LINK = {
    "member_type": "user",
    "member_id": "ann",
    "parent_type": "group",
    "parent_id": "eng",
}
GRANT_ROW = "grant_id,principal_type,principal_id,effect,action,resource,condition\n"


def test_reappearing_fact_gives_two_intervals() -> None:
    series = [
        Snapshot(DAY[0], memberships=(LINK,)),
        Snapshot(DAY[1]),
        Snapshot(DAY[2], memberships=(LINK,)),
    ]
    built = snapshot_intervals(series)
    first, second = built.memberships

    assert (first["valid_from"], first["valid_to"]) == (DAY[0], DAY[1])
    assert first["valid_to_earliest"] == DAY[0]
    assert (second["valid_from"], second["valid_to"]) == (DAY[2], None)
    assert second["valid_from_earliest"] == DAY[1]
    assert second["membership_id"] == first["membership_id"] + "~2"


def test_first_snapshot_starts_without_window() -> None:
    built = snapshot_intervals([Snapshot(DAY[0], memberships=(LINK,))])

    assert "valid_from_earliest" not in built.memberships[0]


def test_coverage_ends_after_staleness() -> None:
    series = [Snapshot(DAY[0]), Snapshot(DAY[2])]
    built = snapshot_intervals(series, staleness=timedelta(hours=6))

    assert built.coverage[0]["valid_from"] == DAY[0]
    assert built.coverage[0]["valid_to"] == DAY[2] + timedelta(hours=6)


def test_given_ids_kept() -> None:
    grant = {
        "grant_id": "g-1",
        "principal_type": "user",
        "principal_id": "ann",
        "effect": "allow",
        "action": "svc:*",
        "resource": "*",
    }
    built = snapshot_intervals([Snapshot(DAY[0], grants=(grant,))])

    assert built.grants[0]["grant_id"] == "g-1"


def test_shared_times_rejected() -> None:
    with pytest.raises(InputError, match="share the time"):
        snapshot_intervals([Snapshot(DAY[0]), Snapshot(DAY[0])])


def test_reactivation_pins_start() -> None:
    reactivation = {
        "event_id": "e1",
        "ts": "2026-03-02T10:00:00Z",
        "principal_type": "user",
        "principal_id": "ann",
        "event_type": "reactivated",
    }
    series = [Snapshot(DAY[1]), Snapshot(DAY[2], memberships=(LINK,))]
    built = snapshot_intervals(series, events=[reactivation])

    assert built.memberships[0]["valid_from"] == datetime(2026, 3, 2, 10)
    assert "valid_from_earliest" not in built.memberships[0]


def test_event_outside_window_ignored() -> None:
    deactivation = {
        "event_id": "e1",
        "ts": DAY[3],
        "principal_type": "user",
        "principal_id": "ann",
        "event_type": "deactivated",
    }
    series = [Snapshot(DAY[0], memberships=(LINK,)), Snapshot(DAY[1])]
    built = snapshot_intervals(series, events=[deactivation])

    assert built.memberships[0]["valid_to"] == DAY[1]


def _snapshot_dir(root: Path, name: str, rows: str) -> None:
    (root / name).mkdir()
    (root / name / "grants.csv").write_text(GRANT_ROW + rows, encoding="utf-8")


def test_folder_times_from_names(tmp_path: Path) -> None:
    _snapshot_dir(tmp_path, "2026-03-02T00-00-00Z", "g1,user,ann,allow,a:*,*,\n")
    _snapshot_dir(tmp_path, "2026-03-01T00-00-00Z", "")
    snapshots = read_snapshot_folder(tmp_path)

    assert [s.taken_at for s in snapshots] == [DAY[0], DAY[1]]
    assert snapshots[1].grants[0]["grant_id"] == "g1"


def test_folder_times_from_manifest(tmp_path: Path) -> None:
    _snapshot_dir(tmp_path, "export-a", "")
    _snapshot_dir(tmp_path, "export-b", "")
    manifest = {
        "snapshots": [
            {"folder": "export-b", "taken_at": "2026-03-01T00:00:00Z"},
            {"folder": "export-a", "taken_at": "2026-03-02T00:00:00+00:00"},
        ]
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    assert [Path(s.source).name for s in read_snapshot_folder(tmp_path)] == [
        "export-b",
        "export-a",
    ]


def test_folder_times_given(tmp_path: Path) -> None:
    _snapshot_dir(tmp_path, "latest", "")
    snapshots = read_snapshot_folder(tmp_path, {"latest": "2026-03-03T00:00:00Z"})

    assert snapshots[0].taken_at == DAY[2]


def test_folder_without_times_rejected(tmp_path: Path) -> None:
    _snapshot_dir(tmp_path, "latest", "")

    with pytest.raises(InputError, match="no snapshot has a time in its name"):
        read_snapshot_folder(tmp_path)


def test_manifest_without_times_rejected(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"snapshots": [{}]}', encoding="utf-8")

    with pytest.raises(InputError, match="invalid snapshot manifest"):
        read_snapshot_folder(tmp_path)


def test_written_intervals_load_as_canonical(tmp_path: Path) -> None:
    import auditkit

    series = [Snapshot(DAY[0], memberships=(LINK,)), Snapshot(DAY[1])]
    paths = write_intervals(snapshot_intervals(series), tmp_path / "out")
    with auditkit.open(tmp_path / "ws.duckdb") as workspace:
        for path in paths:
            workspace.load(path)
        rows = workspace.connection.execute(
            "SELECT valid_to, valid_to_earliest FROM memberships"
        ).fetchall()

    assert rows == [(DAY[1], DAY[0])]
