"""Turn a series of full entitlement exports into grant and membership intervals.

A snapshot lists the grants and memberships in force at one instant, with no validity
columns. Between two snapshots that disagree about a fact, auditkit does not know when
the fact changed, only that it changed in between. The intervals built here follow the
last known state, and record the window in which the change happened:

- a fact present at snapshot ``s[k]`` and absent at ``s[k+1]`` is held until
  ``s[k+1]`` (``valid_to``), and may have ended as early as just after ``s[k]``
  (``valid_to_earliest = s[k]``);
- a fact absent at ``s[k]`` and present at ``s[k+1]`` starts at ``s[k+1]``
  (``valid_from``) and may have started just after ``s[k]``
  (``valid_from_earliest = s[k]``);
- a fact in the first snapshot starts there with no window, because coverage starts
  there too; a fact in the last snapshot stays open;
- a fact that disappears and reappears is two intervals.

Coverage runs from the first snapshot to the last plus a staleness limit. Exact
lifecycle events that fall inside a window pin the change to their instant (see
:func:`pin_to_events`).

Snapshot times come from a manifest, from the folder or file names, or from the
caller, never from file modification times.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditkit.errors import InputError
from auditkit.models.timestamps import parse_instant
from auditkit.sources.readers import UnreadableRecord, read_records

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

logger = logging.getLogger(__name__)

Record = dict[str, Any]

MANIFEST_NAME = "manifest.json"
DEFAULT_STALENESS = timedelta(days=1)

# Folder or file names such as 2026-03-02T00-00-00Z, 2026-03-02T00:00:00Z or
# 20260302T000000Z, with or without an extension.
NAME_PATTERN = re.compile(
    r"(?P<date>\d{4}-?\d{2}-?\d{2})T(?P<hour>\d{2})[-:]?(?P<minute>\d{2})[-:]?"
    r"(?P<second>\d{2})(?P<fraction>\.\d+)?Z"
)

# Fields that identify a fact when a snapshot row carries no id.
GRANT_FACT_FIELDS = (
    "principal_type",
    "principal_id",
    "effect",
    "action",
    "resource",
    "condition",
    "excluded_actions",
    "excluded_resources",
)
MEMBERSHIP_FACT_FIELDS = ("member_type", "member_id", "parent_type", "parent_id")
_VALIDITY_FIELDS = frozenset(
    {"valid_from", "valid_to", "valid_from_earliest", "valid_to_earliest"}
)
_STATE_FILES = {
    "grants": ("grants.csv", "grants.jsonl", "grants.json"),
    "memberships": ("memberships.csv", "memberships.jsonl", "memberships.json"),
}


@dataclass(frozen=True)
class Snapshot:
    """One full export: the grants and memberships in force at ``taken_at``.

    ``taken_at`` is a naive datetime holding the UTC instant, as the workspace stores
    instants. Records are canonical grant and membership dictionaries without
    validity fields.
    """

    taken_at: datetime
    grants: tuple[Record, ...] = ()
    memberships: tuple[Record, ...] = ()
    source: str = "<memory>"


@dataclass(frozen=True)
class SnapshotIntervals:
    """Canonical records built from a snapshot series."""

    grants: list[Record] = field(default_factory=list)
    memberships: list[Record] = field(default_factory=list)
    coverage: list[Record] = field(default_factory=list)


def instant_from_name(name: str) -> datetime | None:
    """Return the UTC instant written in a snapshot's folder or file name, if any.

    Examples
    --------
    >>> instant_from_name("2026-03-02T00-00-00Z")
    datetime.datetime(2026, 3, 2, 0, 0)
    >>> instant_from_name("users-20260302T061500Z.json")
    datetime.datetime(2026, 3, 2, 6, 15)
    >>> instant_from_name("latest") is None
    True
    """
    match = NAME_PATTERN.search(name)
    if match is None:
        return None
    date = match["date"].replace("-", "")
    text = (
        f"{date[:4]}-{date[4:6]}-{date[6:]}T{match['hour']}:{match['minute']}:"
        f"{match['second']}{match['fraction'] or ''}Z"
    )
    return parse_instant(text)


def snapshot_times(
    folder: str | Path, taken_at: Mapping[str, str | datetime] | None = None
) -> list[tuple[Path, datetime]]:
    """List the snapshots of a folder with their times, oldest first.

    The times come from ``taken_at`` (entry name to instant) when given, else from
    ``manifest.json`` (``{"snapshots": [{"folder": ..., "taken_at": ...}]}``), else
    from the entry names (:data:`NAME_PATTERN`).

    Raises
    ------
    InputError
        If a time is missing or invalid, or two snapshots share a time.
    """
    folder = Path(folder)
    if taken_at is not None:
        entries = [
            (folder / name, _instant(value, folder)) for name, value in taken_at.items()
        ]
    elif (folder / MANIFEST_NAME).is_file():
        entries = _manifest_entries(folder / MANIFEST_NAME)
    else:
        entries = _named_entries(folder)
    return _checked_order(entries, folder)


def read_snapshot_folder(
    folder: str | Path, taken_at: Mapping[str, str | datetime] | None = None
) -> list[Snapshot]:
    r"""Read a folder of snapshots, each a subfolder holding grants and memberships.

    Each subfolder holds ``grants`` and ``memberships`` as CSV, JSONL or a JSON array
    (either may be absent, meaning none). Times come from :func:`snapshot_times`.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "2026-03-02T00-00-00Z").mkdir()
    >>> _ = (root / "2026-03-02T00-00-00Z" / "memberships.csv").write_text(
    ...     "member_type,member_id,parent_type,parent_id\nuser,ann,group,eng\n")
    >>> [s.memberships[0]["member_id"] for s in read_snapshot_folder(root)]
    ['ann']
    """
    snapshots = []
    for path, instant in snapshot_times(folder, taken_at):
        if not path.is_dir():
            reason = f"snapshot folder {path.name!r} not found"
            raise InputError(reason, path=path, hint="check the manifest or the names")
        snapshots.append(
            Snapshot(
                taken_at=instant,
                grants=tuple(_read_state(path, "grants")),
                memberships=tuple(_read_state(path, "memberships")),
                source=str(path),
            )
        )
    logger.info("read %d snapshots from %s", len(snapshots), folder)
    return snapshots


def snapshot_intervals(
    snapshots: Sequence[Snapshot],
    *,
    staleness: timedelta = DEFAULT_STALENESS,
    events: Iterable[Mapping[str, Any]] = (),
) -> SnapshotIntervals:
    """Build grant and membership intervals and coverage from a snapshot series.

    Parameters
    ----------
    snapshots
        Full exports; sorted here by time. Two exports at one instant are rejected.
    staleness
        How long the last export is taken to hold: coverage ends this long after it.
    events
        Canonical lifecycle events that pin changes inside windows
        (:func:`pin_to_events`).

    Returns
    -------
    SnapshotIntervals
        Grants and memberships with ``valid_from_earliest`` / ``valid_to_earliest``
        where only the snapshots bracket a change, and one coverage span.

    Examples
    --------
    >>> day = [datetime(2026, 3, d) for d in (1, 2, 3)]
    >>> link = {"member_type": "user", "member_id": "ann",
    ...         "parent_type": "group", "parent_id": "eng"}
    >>> series = [Snapshot(day[0], memberships=(link,)), Snapshot(day[1]),
    ...           Snapshot(day[2], memberships=(link,))]
    >>> built = snapshot_intervals(series)
    >>> [(m["valid_from"].day, m["valid_to"] and m["valid_to"].day)
    ...  for m in built.memberships]
    [(1, 2), (3, None)]
    """
    ordered = sorted(snapshots, key=lambda snapshot: snapshot.taken_at)
    _reject_shared_times(ordered)
    if not ordered:
        return SnapshotIntervals()
    times = [snapshot.taken_at for snapshot in ordered]
    grants = _intervals(
        times, [s.grants for s in ordered], "grant_id", GRANT_FACT_FIELDS, "g"
    )
    memberships = _intervals(
        times,
        [s.memberships for s in ordered],
        "membership_id",
        MEMBERSHIP_FACT_FIELDS,
        "m",
    )
    built = SnapshotIntervals(
        grants=grants,
        memberships=memberships,
        coverage=[
            {
                "coverage_id": f"snapshots-{_stamp(times[0])}",
                "valid_from": times[0],
                "valid_to": times[-1] + staleness,
                "source": "snapshots",
            }
        ],
    )
    return pin_to_events(built, events)


def pin_to_events(
    built: SnapshotIntervals, events: Iterable[Mapping[str, Any]]
) -> SnapshotIntervals:
    """Pin changes that exact lifecycle events explain to the events' instants.

    A window ``(earliest, instant]`` that holds an event of the fact's principal (the
    grant's holder, the membership's member) of a kind that explains the change is
    narrowed to the event's instant, and the window is removed:

    - the end of any fact of a principal that is ``deactivated`` or ``suspended``;
    - the start of any fact of a principal that is ``reactivated`` or ``created``;
    - the end or start of a membership in the event's parent for
      ``membership_removed`` or ``membership_added``, and of any membership of the
      member for ``role_removed`` (end only);
    - the end or start of any grant of a principal whose ``scope_changed``.

    When several events fall in one window, the latest explains the change.
    """
    by_principal: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for event in events:
        key = (str(event["principal_type"]), str(event["principal_id"]))
        by_principal.setdefault(key, []).append(event)
    if not by_principal:
        return built
    grants = [_pinned(g, "grant", by_principal) for g in built.grants]
    links = [_pinned(m, "membership", by_principal) for m in built.memberships]
    return SnapshotIntervals(grants=grants, memberships=links, coverage=built.coverage)


def write_intervals(built: SnapshotIntervals, folder: str | Path) -> list[Path]:
    """Write ``grants.jsonl``, ``memberships.jsonl`` and ``coverage.jsonl``.

    The files are canonical JSONL that ``auditkit load`` reads; instants are written
    in UTC with a ``Z``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, records in (
        ("grants", built.grants),
        ("memberships", built.memberships),
        ("coverage", built.coverage),
    ):
        path = folder / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(_json_ready(record), ensure_ascii=False))
                handle.write("\n")
        written.append(path)
    return written


# --- building intervals -----------------------------------------------------------


def _intervals(
    times: list[datetime],
    states: list[tuple[Record, ...]],
    id_field: str,
    fact_fields: tuple[str, ...],
    prefix: str,
) -> list[Record]:
    facts: dict[str, Record] = {}
    present: dict[str, list[bool]] = {}
    for position, state in enumerate(states):
        for record in state:
            key = _fact_key(record, id_field, fact_fields, prefix)
            facts.setdefault(key, _state_only(record))
            present.setdefault(key, [False] * len(times))[position] = True

    intervals = []
    for key in sorted(facts):
        runs = _runs(present[key])
        for number, (first, last) in enumerate(runs, start=1):
            record = dict(facts[key])
            record[id_field] = key if number == 1 else f"{key}~{number}"
            record["valid_from"] = times[first]
            record["valid_to"] = None
            if first > 0:
                record["valid_from_earliest"] = times[first - 1]
            if last + 1 < len(times):
                record["valid_to"] = times[last + 1]
                record["valid_to_earliest"] = times[last]
            intervals.append(record)
    return intervals


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """Return the (first, last) positions of each run of True values."""
    runs = []
    start: int | None = None
    for position, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = position
        if not flag and start is not None:
            runs.append((start, position - 1))
            start = None
    return runs


def _fact_key(
    record: Mapping[str, Any], id_field: str, fact_fields: tuple[str, ...], prefix: str
) -> str:
    given = record.get(id_field)
    if given not in (None, ""):
        return str(given)
    content = json.dumps([_cell(record.get(name)) for name in fact_fields])
    return f"{prefix}-{hashlib.sha256(content.encode()).hexdigest()[:16]}"


def _cell(value: Any) -> Any:
    return None if value == "" else value


def _state_only(record: Mapping[str, Any]) -> Record:
    return {
        name: _cell(value)
        for name, value in record.items()
        if name not in _VALIDITY_FIELDS and _cell(value) is not None
    }


# --- pinning to events ------------------------------------------------------------

_ENDING = {"deactivated", "suspended"}
_STARTING = {"reactivated", "created"}


def _pinned(
    record: Record,
    kind: str,
    by_principal: dict[tuple[str, str], list[Mapping[str, Any]]],
) -> Record:
    owner = (
        (record["principal_type"], record["principal_id"])
        if kind == "grant"
        else (record["member_type"], record["member_id"])
    )
    events = by_principal.get(owner, [])
    pinned = dict(record)
    end_event = _latest_in(
        events,
        record.get("valid_to_earliest"),
        record.get("valid_to"),
        lambda event: _explains(event, record, kind, ending=True),
    )
    if end_event is not None:
        pinned["valid_to"] = end_event
        pinned.pop("valid_to_earliest", None)
    start_event = _latest_in(
        events,
        record.get("valid_from_earliest"),
        record.get("valid_from"),
        lambda event: _explains(event, record, kind, ending=False),
    )
    if start_event is not None:
        pinned["valid_from"] = start_event
        pinned.pop("valid_from_earliest", None)
    return pinned


def _latest_in(
    events: list[Mapping[str, Any]],
    earliest: datetime | None,
    instant: datetime | None,
    explains: Any,
) -> datetime | None:
    if earliest is None or instant is None:
        return None
    found = [
        _event_instant(event)
        for event in events
        if explains(event) and earliest < _event_instant(event) <= instant
    ]
    return max(found) if found else None


def _explains(
    event: Mapping[str, Any], record: Record, kind: str, *, ending: bool
) -> bool:
    event_type = str(event["event_type"])
    if event_type in (_ENDING if ending else _STARTING):
        return True
    if kind == "grant":
        return event_type == "scope_changed"
    if ending and event_type == "role_removed":
        return True
    wanted = "membership_removed" if ending else "membership_added"
    same_parent = (event.get("parent_type"), event.get("parent_id")) == (
        record["parent_type"],
        record["parent_id"],
    )
    return event_type == wanted and same_parent


def _event_instant(event: Mapping[str, Any]) -> datetime:
    value = event["ts"]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)
    return parse_instant(value)


# --- reading snapshot folders -----------------------------------------------------


def _instant(value: str | datetime, path: Path) -> datetime:
    try:
        return parse_instant(value)
    except ValueError as error:
        raise InputError(str(error), path=path, field="taken_at") from None


def _manifest_entries(path: Path) -> list[tuple[Path, datetime]]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        entries = manifest["snapshots"]
        return [
            (path.parent / str(entry["folder"]), _instant(entry["taken_at"], path))
            for entry in entries
        ]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        reason = f"invalid snapshot manifest: {error}"
        hint = 'write {"snapshots": [{"folder": NAME, "taken_at": ISO_TIME}, ...]}'
        raise InputError(reason, path=path, hint=hint) from None


def _named_entries(folder: Path) -> list[tuple[Path, datetime]]:
    if not folder.is_dir():
        raise InputError("snapshot folder not found", path=folder)
    entries = []
    for entry in sorted(folder.iterdir()):
        instant = instant_from_name(entry.name)
        if instant is None:
            logger.debug("skipping %s: no time in its name", entry)
            continue
        entries.append((entry, instant))
    if not entries:
        reason = "no snapshot has a time in its name and there is no manifest.json"
        hint = "name snapshots like 2026-03-02T00-00-00Z or add manifest.json"
        raise InputError(reason, path=folder, hint=hint)
    return entries


def _checked_order(
    entries: list[tuple[Path, datetime]], folder: Path
) -> list[tuple[Path, datetime]]:
    ordered = sorted(entries, key=lambda entry: entry[1])
    for (first, when), (second, then) in itertools.pairwise(ordered):
        if when == then:
            reason = (
                f"snapshots {first.name!r} and {second.name!r} share the time {when}"
            )
            raise InputError(
                reason, path=folder, hint="give each snapshot its own time"
            )
    return ordered


def _reject_shared_times(ordered: list[Snapshot]) -> None:
    for first, second in itertools.pairwise(ordered):
        if first.taken_at == second.taken_at:
            reason = f"two snapshots share the time {first.taken_at}"
            raise InputError(reason, path=second.source, hint="give each its own time")


def _read_state(folder: Path, kind: str) -> list[Record]:
    for name in _STATE_FILES[kind]:
        path = folder / name
        if path.is_file():
            return [
                _state_record(raw.value, path, raw.line) for raw in read_records(path)
            ]
    return []


def _state_record(value: Any, path: Path, line: int) -> Record:
    if isinstance(value, UnreadableRecord) or not isinstance(value, dict):
        reason = (
            value.reason if isinstance(value, UnreadableRecord) else "not an object"
        )
        raise InputError(reason, path=path, line=line, hint="fix or export it again")
    return dict(value)


def _stamp(instant: datetime) -> str:
    return instant.strftime("%Y%m%dT%H%M%SZ")


def _json_ready(record: Mapping[str, Any]) -> Record:
    ready: Record = {}
    for name, value in record.items():
        if isinstance(value, datetime):
            ready[name] = value.isoformat(timespec="microseconds") + "Z"
        else:
            ready[name] = value
    return ready
