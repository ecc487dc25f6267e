"""Writing the example folder: canonical inputs, daily snapshots and ground truth."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import astuple, fields
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

from auditkit.demo.records import (
    Clock,
    GrantRow,
    MembershipRow,
    format_instant,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from auditkit.demo.truth import Truth

SNAPSHOT_GRANT_COLUMNS = (
    "grant_id",
    "principal_type",
    "principal_id",
    "effect",
    "action",
    "resource",
    "condition",
)
SNAPSHOT_MEMBERSHIP_COLUMNS = (
    "membership_id",
    "member_type",
    "member_id",
    "parent_type",
    "parent_id",
)
GROUND_TRUTH_COLUMNS = (
    "call_id",
    "verdict",
    "reason",
    "certainty",
    "severity",
    "flags",
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a CSV file with LF line endings and return the number of data rows."""
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(value) for value in row])
            count += 1
    return count


def write_records(path: Path, records: Sequence[Any], record_type: type) -> int:
    """Write dataclass records as CSV with their field names as the header."""
    header = [f.name for f in fields(record_type)]
    return write_csv(path, header, (astuple(record) for record in records))


def write_jsonl(path: Path, records: Sequence[Any]) -> int:
    """Write dataclass records as JSON Lines, leaving out empty fields."""
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            values = {f.name: getattr(record, f.name) for f in fields(record)}
            line = {k: _json_value(v) for k, v in values.items() if v is not None}
            handle.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
            handle.write("\n")
    return len(records)


def write_snapshots(
    folder: Path,
    clock: Clock,
    grants: Sequence[GrantRow],
    memberships: Sequence[MembershipRow],
) -> int:
    """Write one full export of grants and memberships per day at 00:00Z.

    Each export lists what is in force at that instant, without validity intervals,
    as a directory or policy export would. ``manifest.json`` lists every export with
    its time. An existing ``snapshots`` folder is replaced.
    """
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)

    entries = []
    for day in range(clock.days):
        taken_at = clock.start + timedelta(days=day)
        name = taken_at.strftime("%Y-%m-%dT%H-%M-%SZ")
        target = folder / name
        target.mkdir()
        write_csv(
            target / "grants.csv",
            SNAPSHOT_GRANT_COLUMNS,
            (
                [getattr(g, column) for column in SNAPSHOT_GRANT_COLUMNS]
                for g in grants
                if g.in_force(taken_at)
            ),
        )
        write_csv(
            target / "memberships.csv",
            SNAPSHOT_MEMBERSHIP_COLUMNS,
            (
                [getattr(m, column) for column in SNAPSHOT_MEMBERSHIP_COLUMNS]
                for m in memberships
                if m.in_force(taken_at)
            ),
        )
        entries.append({"folder": name, "taken_at": format_instant(taken_at)})

    manifest = {"snapshots": entries}
    text = json.dumps(manifest, indent=2) + "\n"
    (folder / "manifest.json").write_text(text, encoding="utf-8")
    return len(entries)


def write_ground_truth(path: Path, truths: Iterable[Truth]) -> int:
    """Write one row per call: verdict, reason, certainty, severity and flags."""
    rows = (
        (
            truth.call_id,
            truth.verdict,
            truth.reason,
            truth.certainty,
            truth.severity,
            ",".join(flag.value for flag in truth.flags),
        )
        for truth in truths
    )
    return write_csv(path, GROUND_TRUTH_COLUMNS, rows)


def write_json(path: Path, value: Any) -> None:
    """Write a JSON document with two-space indentation and a final newline."""
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
