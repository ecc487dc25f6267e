"""Atomic loads of input files into the workspace, with the load log and quarantine.

One call of :func:`load_inputs` is one DuckDB transaction: either every file it
loads is stored with its load-log row, or nothing changes.
"""

from __future__ import annotations

import hashlib
import html
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from auditkit.errors import InputError
from auditkit.models import INPUT_MODELS, InputKind
from auditkit.sources.base import RawRecord
from auditkit.sources.canonical import FORMAT_NAME as CANONICAL
from auditkit.sources.readers import (
    FileFormat,
    RecordStream,
    UnreadableRecord,
    sniff_format,
)
from auditkit.sources.registry import detect_adapter, get_adapter
from auditkit.workspace.batches import StagingTable, insert_quarantine
from auditkit.workspace.fastpath import (
    StagedFile,
    TextScan,
    fast_path_applies,
    scan_file,
    stage_file,
)
from auditkit.workspace.validation import (
    Problem,
    record_text,
    validate_record,
    validation_problem,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    import duckdb
    from pydantic import BaseModel

    from auditkit.settings import Settings
    from auditkit.sources.base import Adapter

logger = logging.getLogger(__name__)

ErrorPolicy = Literal["raise", "collect", "quarantine"]
ERROR_POLICIES: tuple[ErrorPolicy, ...] = ("raise", "collect", "quarantine")

# Rows validated before they are written to DuckDB in one Arrow batch.
BATCH_ROWS = 10_000
# Bad records shown in the message of a "collect" error; all are on ``problems``.
SHOWN_PROBLEMS = 50
# Records read to detect a file's format.
SAMPLE_RECORDS = 20
SNAPSHOT_FOLDER = "snapshots"
RAISE_HINT = (
    "fix the record, or load with errors='quarantine' to keep the valid records"
)


@dataclass(frozen=True)
class SkippedFile:
    """A file a load did not read, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class LoadResult:
    """Outcome of one :meth:`Workspace.load` call.

    ``files`` are the files loaded, each with a new ``load_log`` row, and the row
    counts add up over them. ``skipped_files`` lists files not read at all.
    """

    files: tuple[str, ...]
    rows_accepted: int
    rows_quarantined: int
    rows_duplicate: int
    skipped_files: tuple[SkippedFile, ...] = ()

    def _repr_html_(self) -> str:
        counts = (
            ("files loaded", len(self.files)),
            ("rows accepted", self.rows_accepted),
            ("rows quarantined", self.rows_quarantined),
            ("duplicate rows", self.rows_duplicate),
            ("files skipped", len(self.skipped_files)),
        )
        cells = "".join(
            f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in counts
        )
        skipped = "".join(
            f"<li><code>{html.escape(item.path)}</code>: "
            f"{html.escape(item.reason)}</li>"
            for item in self.skipped_files
        )
        skipped_list = f"<ul>{skipped}</ul>" if skipped else ""
        table = f"<table>{cells}</table>"
        return f"<div><strong>LoadResult</strong>{table}{skipped_list}</div>"


class CollectedInputError(InputError):
    """Error of a load with ``errors="collect"``, listing every bad record."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        lines = [str(problem.to_error()) for problem in problems[:SHOWN_PROBLEMS]]
        if len(problems) > SHOWN_PROBLEMS:
            lines.append(
                f"... and {len(problems) - SHOWN_PROBLEMS} more (see .problems)"
            )
        reason = f"{len(problems)} invalid records, nothing was loaded:\n" + "\n".join(
            lines
        )
        first = problems[0]
        super().__init__(
            reason,
            path=first.path,
            line=first.line,
            field=first.field,
            hint="fix the records, or load with errors='quarantine' to keep the "
            "valid ones",
        )


@dataclass(frozen=True)
class _FilePlan:
    path: Path
    kind: InputKind
    adapter: Adapter
    file_format: FileFormat


@dataclass
class _FileCounts:
    accepted: int = 0
    quarantined: int = 0
    duplicate: int = 0


@dataclass
class _LoadState:
    """Files, counts and bad records of one load in progress."""

    connection: duckdb.DuckDBPyConnection
    settings: Settings
    errors: ErrorPolicy
    progress: Callable[[int, int], object] | None
    total_bytes: int
    done_bytes: int = 0
    files: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    counts: _FileCounts = field(default_factory=_FileCounts)

    def report_progress(self, current_file_bytes: int = 0) -> None:
        if self.progress is not None:
            self.progress(self.done_bytes + current_file_bytes, self.total_bytes)


def load_inputs(
    connection: duckdb.DuckDBPyConnection,
    settings: Settings,
    path: str | Path,
    kind: InputKind | str | None = None,
    *,
    format: str | None = None,
    errors: ErrorPolicy = "quarantine",
    progress: Callable[[int, int], object] | None = None,
) -> LoadResult:
    """Load a file or a folder of files into the workspace in one transaction.

    See :meth:`auditkit.workspace.Workspace.load` for the parameters.

    Raises
    ------
    InputError
        If the path does not exist, a kind or format is unknown, or (with
        ``errors="raise"`` or ``"collect"``) a record is invalid. Nothing is stored.
    """
    if errors not in ERROR_POLICIES:
        message = f"errors must be one of {', '.join(ERROR_POLICIES)}, got {errors!r}"
        raise ValueError(message)
    input_kind = _parse_kind(kind)
    files, is_folder = _input_files(Path(path))
    state = _LoadState(
        connection,
        settings,
        errors,
        progress,
        sum(file.stat().st_size for file in files),
    )

    connection.begin()
    try:
        state.report_progress()
        for file in files:
            _load_one_file(state, file, input_kind, format, is_folder=is_folder)
        if state.problems:
            raise CollectedInputError(state.problems)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise

    return LoadResult(
        files=tuple(state.files),
        rows_accepted=state.counts.accepted,
        rows_quarantined=state.counts.quarantined,
        rows_duplicate=state.counts.duplicate,
        skipped_files=tuple(state.skipped),
    )


def kind_from_name(path: str | Path) -> InputKind | None:
    """Return the kind a file name starts with (``calls-march.jsonl`` is calls).

    Examples
    --------
    >>> kind_from_name("exports/Grants_2026-03.csv.gz")
    <InputKind.GRANTS: 'grants'>
    >>> kind_from_name("notes.txt") is None
    True
    """
    name = Path(path).name.lower()
    for kind in InputKind:
        if name.startswith(kind.value):
            return kind
    return None


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _parse_kind(kind: InputKind | str | None) -> InputKind | None:
    if kind is None or isinstance(kind, InputKind):
        return kind
    try:
        return InputKind(kind)
    except ValueError:
        reason = f"unknown kind {kind!r}"
        raise InputError(reason, hint=f"use one of: {_kind_list()}") from None


def _input_files(path: Path) -> tuple[list[Path], bool]:
    if path.is_file():
        return [path], False
    if not path.is_dir():
        raise InputError("file or folder not found", path=path)

    files = []
    for entry in sorted(path.rglob("*")):
        parts = entry.relative_to(path).parts
        if any(part.startswith(".") for part in parts) or not entry.is_file():
            continue
        if SNAPSHOT_FOLDER in parts[:-1]:
            continue
        files.append(entry)
    if (path / SNAPSHOT_FOLDER).is_dir():
        logger.info(
            "skipped folder %s: periodic snapshots are not loaded as records",
            path / SNAPSHOT_FOLDER,
        )
    return files, True


def _load_one_file(
    state: _LoadState,
    file: Path,
    kind: InputKind | None,
    format_name: str | None,
    *,
    is_folder: bool,
) -> None:
    plan = _plan_file(file, kind, format_name, is_folder=is_folder)
    if isinstance(plan, SkippedFile):
        logger.warning("skipped %s: %s", plan.path, plan.reason)
        state.skipped.append(plan)
        state.done_bytes += file.stat().st_size
        state.report_progress()
        return

    sha256, scan = _hash_and_scan(plan)
    load_id = f"{plan.kind.value}-{sha256[:16]}"
    if _already_loaded(state.connection, sha256, plan.kind):
        reason = f"already loaded as {plan.kind.value} (same sha256)"
        logger.info("skipped %s: %s", file, reason)
        state.skipped.append(SkippedFile(str(file), reason))
        state.done_bytes += file.stat().st_size
        state.report_progress()
        return

    counts = _read_and_insert(state, plan, load_id, scan)
    _insert_load_log(state.connection, plan, sha256, load_id, counts)
    _log_file_outcome(file, counts)
    state.files.append(str(file))
    state.counts.accepted += counts.accepted
    state.counts.quarantined += counts.quarantined
    state.counts.duplicate += counts.duplicate
    state.done_bytes += file.stat().st_size
    state.report_progress()


def _plan_file(
    file: Path, kind: InputKind | None, format_name: str | None, *, is_folder: bool
) -> _FilePlan | SkippedFile:
    file_kind = kind or kind_from_name(file)
    try:
        file_format = sniff_format(file)
    except InputError as error:
        # In a folder, a file of unknown kind and unreadable format is not an input.
        if is_folder and file_kind is None:
            return SkippedFile(str(file), f"kind unknown and {error.reason}")
        raise

    adapter: Adapter | None
    if format_name is not None:
        adapter = _named_adapter(file, format_name, file_kind, is_folder=is_folder)
    else:
        adapter = detect_adapter(_sample(file, file_format), file_kind)
        if adapter is None and file_kind is not None:
            adapter = get_adapter(CANONICAL, file_kind)

    if adapter is None:
        if is_folder:
            return SkippedFile(str(file), "kind unknown: the name starts with no kind")
        raise InputError(
            "unknown input kind: the file name does not start with a kind",
            path=file,
            hint=f"name the file after its kind ({_kind_list()}) or pass kind= "
            "with one of those",
        )
    if file_kind is not None and adapter.kind != file_kind:
        reason = (
            f"format {adapter.name!r} produces {adapter.kind.value} records, "
            f"not {file_kind.value}"
        )
        raise InputError(
            reason, path=file, hint="pass the kind that matches the format"
        )
    return _FilePlan(file, adapter.kind, adapter, file_format)


def _named_adapter(
    file: Path, format_name: str, kind: InputKind | None, *, is_folder: bool
) -> Adapter | None:
    try:
        return get_adapter(format_name, kind)
    except InputError as error:
        if is_folder and kind is None and error.hint and "kind=" in error.hint:
            return None
        raise InputError(error.reason, path=file, hint=error.hint) from None


def _sample(file: Path, file_format: FileFormat) -> Any:
    with RecordStream(file, file_format) as stream:
        for count, record in enumerate(stream):
            if not isinstance(record.value, UnreadableRecord):
                return record.value
            if count >= SAMPLE_RECORDS:
                break
    return None


def _hash_and_scan(plan: _FilePlan) -> tuple[str, TextScan | None]:
    """Return the file's sha256 and, for the SQL load path, its byte scan.

    hashlib releases the GIL on large buffers, so another thread hashes the file
    while this one scans it. A file found already loaded wastes its scan.
    """
    if not fast_path_applies(plan.file_format, plan.adapter.name):
        return file_sha256(plan.path), None
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(file_sha256, plan.path)
        scan = scan_file(plan.path, plan.file_format)
        return digest.result(), scan


def _read_and_insert(
    state: _LoadState, plan: _FilePlan, load_id: str, scan: TextScan | None
) -> _FileCounts:
    if fast_path_applies(plan.file_format, plan.adapter.name):
        staged = stage_file(
            state.connection,
            state.settings,
            plan.path,
            kind=plan.kind,
            file_format=plan.file_format,
            load_id=load_id,
            scan=scan,
        )
        if staged is not None:
            return _insert_staged(state, plan, staged)
    return _read_record_by_record(state, plan, load_id)


def _insert_staged(
    state: _LoadState, plan: _FilePlan, staged: StagedFile
) -> _FileCounts:
    # Rows the SQL checks could not accept go through the model, which words errors.
    model = INPUT_MODELS[plan.kind]
    context = {"default_timezone": state.settings.default_timezone}
    rows: list[tuple[BaseModel, int]] = []
    quarantined: list[Problem] = []
    for record in staged.unsure_records():
        for outcome in _validated(plan, record, model, context):
            if isinstance(outcome, Problem):
                _handle_problem(state, outcome, quarantined)
            else:
                rows.append((outcome, record.line))
        if len(rows) >= BATCH_ROWS:
            staged.add_validated(rows)
            rows.clear()
    staged.add_validated(rows)

    accepted, duplicate = staged.merge()
    if quarantined:
        insert_quarantine(state.connection, staged.load_id, plan.kind, quarantined)
    return _FileCounts(accepted, len(quarantined), duplicate)


def _read_record_by_record(
    state: _LoadState, plan: _FilePlan, load_id: str
) -> _FileCounts:
    model = INPUT_MODELS[plan.kind]
    context = {"default_timezone": state.settings.default_timezone}
    staging = StagingTable(
        state.connection, plan.kind, source_file=str(plan.path), load_id=load_id
    )
    rows: list[tuple[BaseModel, int]] = []
    quarantined: list[Problem] = []

    with RecordStream(plan.path, plan.file_format) as stream:
        for record, outcome in _outcomes(plan, stream, model, context):
            if isinstance(outcome, Problem):
                _handle_problem(state, outcome, quarantined)
            else:
                rows.append((outcome, record.line))
            if len(rows) >= BATCH_ROWS:
                staging.add(rows)
                rows.clear()
                state.report_progress(stream.bytes_read)
    staging.add(rows)

    accepted, duplicate = staging.merge()
    if quarantined:
        insert_quarantine(state.connection, load_id, plan.kind, quarantined)
    return _FileCounts(accepted, len(quarantined), duplicate)


def _outcomes(
    plan: _FilePlan,
    records: Iterable[RawRecord],
    model: type[BaseModel],
    context: dict[str, Any],
) -> Iterator[tuple[RawRecord, BaseModel | Problem]]:
    """Map and validate a file's records, each outcome with the record behind it.

    An adapter with ``map_stream`` sees the whole file at once, because it pairs
    records across lines (MCP requests with their responses, OpenTelemetry spans
    with their parents); the others map one record at a time.
    """
    map_stream = getattr(plan.adapter, "map_stream", None)
    if map_stream is None:
        for record in records:
            for outcome in _validated(plan, record, model, context):
                yield record, outcome
        return

    unreadable: list[Problem] = []

    def readable() -> Iterator[RawRecord]:
        for record in records:
            if isinstance(record.value, UnreadableRecord):
                value = record.value
                unreadable.append(
                    Problem(record.path, record.line, None, value.reason, value.text)
                )
            else:
                yield record

    for record, item in map_stream(readable()):
        if isinstance(item, InputError):
            problem = Problem(
                record.path,
                record.line,
                item.field,
                item.reason,
                record_text(record.value),
            )
            yield record, problem
        else:
            yield record, _checked(plan, record, model, context, item)
    for problem in unreadable:
        yield RawRecord(problem.path, problem.line, None), problem


def _checked(
    plan: _FilePlan,
    record: RawRecord,
    model: type[BaseModel],
    context: dict[str, Any],
    item: dict[str, Any],
) -> BaseModel | Problem:
    try:
        return validate_record(model, item, from_text=False, context=context)
    except ValidationError as error:
        text = record_text(record.value)
        return validation_problem(
            error, path=record.path, line=record.line, record=text
        )


def _validated(
    plan: _FilePlan,
    record: RawRecord,
    model: type[BaseModel],
    context: dict[str, Any],
) -> Iterator[BaseModel | Problem]:
    value = record.value
    if isinstance(value, UnreadableRecord):
        yield Problem(record.path, record.line, None, value.reason, value.text)
        return
    try:
        mapped = list(plan.adapter.map(record))
    except InputError as error:
        yield Problem(
            record.path, record.line, error.field, error.reason, record_text(value)
        )
        return

    # Only canonical CSV rows are cell texts; adapters return typed values.
    from_text = plan.file_format == "csv" and plan.adapter.name == CANONICAL
    for item in mapped:
        try:
            yield validate_record(model, item, from_text=from_text, context=context)
        except ValidationError as error:
            text = record_text(value)
            yield validation_problem(
                error, path=record.path, line=record.line, record=text
            )


def _handle_problem(
    state: _LoadState, problem: Problem, quarantined: list[Problem]
) -> None:
    if state.errors == "raise":
        raise problem.to_error(hint=RAISE_HINT)
    if state.errors == "collect":
        state.problems.append(problem)
    else:
        quarantined.append(problem)


def _already_loaded(
    connection: duckdb.DuckDBPyConnection, sha256: str, kind: InputKind
) -> bool:
    query = "SELECT count(*) FROM load_log WHERE sha256 = ? AND kind = ?"
    row = connection.execute(query, [sha256, kind.value]).fetchone()
    return row is not None and row[0] > 0


def _insert_load_log(
    connection: duckdb.DuckDBPyConnection,
    plan: _FilePlan,
    sha256: str,
    load_id: str,
    counts: _FileCounts,
) -> None:
    connection.execute(
        "INSERT INTO load_log (load_id, source_file, sha256, kind, rows_accepted, "
        "rows_quarantined, rows_duplicate, loaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            load_id,
            str(plan.path),
            sha256,
            plan.kind.value,
            counts.accepted,
            counts.quarantined,
            counts.duplicate,
            datetime.now(UTC).replace(tzinfo=None),
        ],
    )


def _log_file_outcome(file: Path, counts: _FileCounts) -> None:
    logger.info(
        "loaded %s: %d rows accepted, %d duplicate",
        file,
        counts.accepted,
        counts.duplicate,
    )
    if counts.quarantined:
        logger.warning(
            "%s: %d invalid records quarantined; see the quarantine table",
            file,
            counts.quarantined,
        )


def _kind_list() -> str:
    return ", ".join(kind.value for kind in InputKind)
