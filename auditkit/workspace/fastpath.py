"""Vectorised loads of canonical JSONL, CSV and Parquet files, checked in SQL.

DuckDB reads the file into a temporary table and one SQL pass checks every row
against the rules of the canonical models. For JSONL, DuckDB first stores the
numbered lines and lists the model fields that the file names, so the checking pass
looks up only those fields. A row is accepted there only when the SQL is sure the
pydantic model would accept it and store the same values. Every other row goes back
through the pydantic model, which either accepts it or words the error: a wrong
type, a naive timestamp, a malformed line, or a form the SQL does not judge, such as
a timestamp near a daylight-saving change. Bad rows are rare, so their messages stay
those of the record-by-record path at little cost.

File paths, the default time zone and enumeration codes reach DuckDB as query
parameters; the SQL text names only tables, columns and model fields.
"""

from __future__ import annotations

import codecs
import gzip
import json
import logging
import re
import types
import typing
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

import duckdb
from annotated_types import MinLen

from auditkit.models import INPUT_MODELS, InputKind
from auditkit.sources.base import RawRecord
from auditkit.sources.readers import GZIP_MAGIC, _parse_json
from auditkit.workspace.batches import arrow_schema
from auditkit.workspace.schema import RECORD_KEYS, model_columns

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from pydantic import BaseModel
    from pydantic.fields import FieldInfo

    from auditkit.settings import Settings
    from auditkit.sources.readers import FileFormat

logger = logging.getLogger(__name__)

FAST_FORMATS: tuple[FileFormat, ...] = ("jsonl", "csv", "parquet")

Check = Literal["id", "text", "enum", "int", "instant", "object", "id_list", "other"]

_ROWS_TABLE = "auditkit_fast_rows"
_LINES_TABLE = "auditkit_fast_lines"
_REPEATED_TABLE = "auditkit_fast_repeated"
_BATCH_VIEW = "auditkit_fast_batch"
_SCAN_CHUNK = 1 << 22
_MAX_BRACKETS = 256
_LINE_ENDS = {"\\n": "\n", "\\r\\n": "\r\n"}
# A byte that no valid JSON text contains unescaped: the one-column line reader splits
# on it, so a file that contains it is read by the record-by-record path.
_LINE_DELIMITER = "\x01"
# A line that contains only the characters Python's bytes.strip() removes is blank.
_BLANK = " \t\n\r\x0b\x0c"
# Lines whose JSON DuckDB accepts and Python's json module rejects (a trailing comma,
# NaN or Infinity), and CSV cells read as JSON, go back through pydantic.
_LENIENT_JSON = r",\s*[\]}]|NaN|Infinity"
_TRAILING_COMMA = re.compile(rb",\s*[\]}]")
# DuckDB writes a control character as \u001F where Python's json.dumps writes
# \u001f, and a float from 1e16 up or under 1e-4 without the exponent Python uses
# (10000000000000000.0 for 1e+16, 0.000025 for 2.5e-05) or with a shorter one (1e21
# for 1e+21). JSON text with an escape or such a number goes back through pydantic.
# The pattern also matches inside strings, which only costs speed.
_NUMBER_WRITTEN_DIFFERENTLY = r"[0-9][eE]|[0-9]{17}\.|0\.0000"
_TIMESTAMP = (
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([01][0-9]|2[0-3]):([0-5][0-9])"
    r"(:[0-5][0-9])?([.,][0-9]{1,9})?(Z|z|[+-][0-9]{2}:?[0-9]{2})?$"
)


# Timestamps in UTC as most writers format them, each as a LIKE pattern and the
# strptime format that reads it. They end in "Z" or "+00:00" and have no fraction,
# three digits of milliseconds or six of microseconds.
_UTC_FORMS = tuple(
    (f"____-__-__T__:__:__{pattern}{zone}", f"%Y-%m-%dT%H:%M:%S{layout}{zone}")
    for zone in ("Z", "+00:00")
    for pattern, layout in ((".______", ".%f"), (".___", ".%g"), ("", ""))
)


@dataclass(frozen=True)
class FieldRule:
    """Check that the SQL applies to one model field."""

    name: str
    check: Check
    required: bool
    choices: tuple[str, ...] = ()


def field_rules(kind: InputKind) -> list[FieldRule]:
    """Return the SQL check of each field of a kind's model, in field order.

    Examples
    --------
    >>> [rule.check for rule in field_rules(InputKind.COVERAGE)]
    ['id', 'instant', 'instant', 'text']
    """
    model = INPUT_MODELS[kind]
    return [_rule(name, field) for name, field in model.model_fields.items()]


def fast_path_applies(file_format: FileFormat, adapter_name: str) -> bool:
    """Return whether a file of this format and adapter can be loaded in SQL."""
    return adapter_name == "canonical" and file_format in FAST_FORMATS


class StagedFile:
    """Rows of one file checked in SQL and held in a temporary table.

    Rows the SQL accepted are ready to insert. :meth:`unsure_records` yields the
    others as raw records for the pydantic path, and :meth:`add_validated` stages
    those it accepts. :meth:`merge` then inserts the first row of each new id.
    """

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        kind: InputKind,
        path: Path,
        file_format: FileFormat,
        load_id: str,
    ) -> None:
        self.connection = connection
        self.kind = kind
        self.path = path
        self.file_format = file_format
        self.load_id = load_id
        self.line_end = "\n"
        self._columns = list(model_columns(INPUT_MODELS[kind]))

    def unsure_records(self) -> Iterator[RawRecord]:
        """Yield the rows the SQL did not accept, in line order, as raw records."""
        if self.file_format == "parquet":
            yield from self._unsure_parquet_records()
            return
        query = (
            f"SELECT source_line, raw FROM {_ROWS_TABLE} "  # noqa: S608
            "WHERE NOT ok ORDER BY source_line"
        )
        cursor = self.connection.execute(query)
        while batch := cursor.fetchmany(10_000):
            for line, raw in batch:
                yield RawRecord(str(self.path), line, self._raw_value(raw))

    def add_validated(self, rows: Sequence[tuple[BaseModel, int]]) -> None:
        """Stage records the pydantic path accepted, each with its source line."""
        if not rows:
            return
        import pyarrow as pa  # noqa: PLC0415 - pyarrow is slow to import

        schema = arrow_schema(self.kind)
        names = [name for name in schema.names if name in self._columns]
        records = [_model_row(instance, names) for instance, _ in rows]
        table = pa.Table.from_pylist(
            records, schema=pa.schema(schema.field(n) for n in names)
        )
        table = table.append_column(
            "source_line", pa.array([line for _, line in rows], pa.int64())
        )
        columns = ", ".join(_quoted(name) for name in [*names, "source_line"])
        self.connection.register(_BATCH_VIEW, table)
        try:
            self.connection.execute(
                f"INSERT INTO {_ROWS_TABLE} ({columns}, ok) "  # noqa: S608
                f"SELECT {columns}, true FROM {_BATCH_VIEW}"
            )
        finally:
            self.connection.unregister(_BATCH_VIEW)

    def merge(self) -> tuple[int, int]:
        """Insert the staged good rows with new ids; return (accepted, duplicate)."""
        staged_rows = self.connection.execute(
            f"SELECT count(*) FROM {_ROWS_TABLE} WHERE ok"  # noqa: S608
        ).fetchall()
        staged = int(staged_rows[0][0])
        columns = ", ".join(_quoted(name) for name in self._columns)
        key = _quoted(RECORD_KEYS[self.kind])
        table = _quoted(self.kind.value)
        # The first line of each id staged more than once; usually there is none.
        self.connection.execute(
            f"CREATE OR REPLACE TEMP TABLE {_REPEATED_TABLE} AS "  # noqa: S608
            f"SELECT {key}, min(source_line) AS first_line FROM {_ROWS_TABLE} "
            f"WHERE ok GROUP BY {key} HAVING count(*) > 1"
        )
        # A row is new unless the table already contains its id or an earlier staged
        # row has it. The rows are copied once, with no window or join over them all.
        staged_columns = ", ".join(f"staged.{_quoted(name)}" for name in self._columns)
        query = (
            f"INSERT INTO {table} ({columns}, source_file, source_line, load_id) "  # noqa: S608
            f"SELECT {staged_columns}, $file, staged.source_line, $load_id "
            f"FROM {_ROWS_TABLE} AS staged LEFT JOIN {_REPEATED_TABLE} AS repeated "
            f"ON repeated.{key} = staged.{key} "
            "WHERE staged.ok "
            "AND coalesce(repeated.first_line = staged.source_line, true) "
            f"AND NOT EXISTS (SELECT 1 FROM {table} AS stored "
            f"WHERE stored.{key} = staged.{key})"
        )
        result = self.connection.execute(
            query, {"file": str(self.path), "load_id": self.load_id}
        ).fetchall()
        accepted = int(result[0][0]) if result else 0
        self.connection.execute(f"DROP TABLE {_ROWS_TABLE}")
        self.connection.execute(f"DROP TABLE {_REPEATED_TABLE}")
        return accepted, staged - accepted

    def _raw_value(self, raw: str | None) -> Any:
        if self.file_format == "jsonl":
            # The Python reader parses each line with its line end, which shows in
            # the column of some JSON errors.
            # NOTE: a last line without a line end gets one here too.
            return _parse_json((raw or "") + self.line_end)
        cells = json.loads(raw) if raw is not None else {}
        return {
            name: value if value is not None else "" for name, value in cells.items()
        }

    def _unsure_parquet_records(self) -> Iterator[RawRecord]:
        import pyarrow as pa  # noqa: PLC0415 - pyarrow is slow to import

        lines = [
            int(row[0])
            for row in self.connection.execute(
                f"SELECT source_line FROM {_ROWS_TABLE} "  # noqa: S608
                "WHERE NOT ok ORDER BY source_line"
            ).fetchall()
        ]
        for start in range(0, len(lines), 10_000):
            chunk = lines[start : start + 10_000]
            table = self.connection.sql(
                "SELECT * EXCLUDE (file_row_number), "
                "file_row_number + 1 AS auditkit_line "
                "FROM read_parquet($file, file_row_number = true) "
                "WHERE file_row_number + 1 IN (SELECT unnest($lines)) "
                "ORDER BY file_row_number",
                params={"file": str(self.path), "lines": chunk},
            ).to_arrow_table()
            table = _microsecond_table(table, pa)
            for value in table.to_pylist():
                line = value.pop("auditkit_line")
                yield RawRecord(str(self.path), line, value, offset_kind="position")


def stage_file(
    connection: duckdb.DuckDBPyConnection,
    settings: Settings,
    path: Path,
    *,
    kind: InputKind,
    file_format: FileFormat,
    load_id: str,
    scan: TextScan | None = None,
) -> StagedFile | None:
    """Read a canonical file with DuckDB and check every row in SQL.

    ``scan`` is the file's :func:`scan_file` result, when the caller already has it.

    Returns
    -------
    StagedFile or None
        The staged rows, or ``None`` when the file contains something the SQL reader
        cannot read exactly (invalid UTF-8, a NUL byte, mixed line ends, a CSV row
        spanning lines, a time zone ICU does not know); the caller then reads it
        record by record.
    """
    if not _zone_known(connection, settings.default_timezone):
        return None
    scan = scan or scan_file(path, file_format)
    if file_format == "jsonl" and scan is not None:
        staged = _stage_jsonl(connection, path, kind, settings, scan)
    elif file_format == "csv" and scan is not None:
        staged = _stage_csv(connection, path, kind, settings, scan)
    else:
        staged = _stage_parquet(connection, path, kind, settings)
    if staged is None:
        return None
    staged_file = StagedFile(connection, kind, path, file_format, load_id)
    staged_file.line_end = staged
    return staged_file


def scan_file(path: Path, file_format: FileFormat) -> TextScan | None:
    """Scan a JSONL or CSV file for what DuckDB would read differently from Python.

    Returns ``None`` for Parquet. The scan only reads the file, so a caller may run
    it before deciding to stage the file, or while it hashes the file.
    """
    if file_format == "jsonl":
        # A gzip file is decompressed once, by a scan that also looks for lenient
        # JSON. A plain file is searched for that while DuckDB numbers its lines.
        return _scan_text(path, lenient_json=_compression(path) == "gzip")
    if file_format == "csv":
        return _scan_text(path, blank_lines=True)
    return None


# Field rules


def _rule(name: str, field: FieldInfo) -> FieldRule:
    annotation, metadata = _unwrapped(field.annotation)
    metadata = [*field.metadata, *metadata]
    origin = typing.get_origin(annotation)
    choices: tuple[str, ...] = ()
    check: Check
    if origin is dict:
        check = "object"
    elif origin is list:
        check = "id_list"
    elif annotation is datetime:
        check = "instant"
    elif annotation is int:
        check = "int"
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        check = "enum"
        choices = tuple(str(member.value) for member in annotation)
    elif any(isinstance(item, MinLen) and item.min_length == 1 for item in metadata):
        check = "id"
    elif annotation is str:
        check = "text"
    else:
        # A type the SQL does not check: every present value goes through pydantic.
        check = "other"
    return FieldRule(name, check, field.is_required(), choices)


def _unwrapped(annotation: Any) -> tuple[Any, list[Any]]:
    metadata: list[Any] = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            arguments = typing.get_args(annotation)
            annotation = arguments[0]
            for item in arguments[1:]:
                metadata.extend(getattr(item, "metadata", [item]))
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = members[0]
        else:
            return annotation, metadata


# Pre-scan: what the SQL reader would read differently from the Python reader


@dataclass
class TextScan:
    """Result of one scan over the bytes of a JSONL or CSV file."""

    valid: bool = True
    carriage_returns: int = 0
    crlf: int = 0
    newlines: int = 0
    # Only scans asked to look for blank lines or lenient JSON set these two.
    blank_line: bool = False
    # Whether some line may hold JSON that DuckDB accepts and Python's json module
    # rejects (a superset of the lines _LENIENT_JSON matches).
    lenient_json: bool = False
    ends_with_newline: bool = True


class _LenientSearch:
    """Search a file's chunks for what _LENIENT_JSON finds on any one line.

    Each line is searched whole, whether or not it spans chunks. The bytes pattern
    also matches line ends and vertical tabs as white space, so the search finds a
    superset. A false alarm only turns on the per-line check in SQL.
    """

    def __init__(self) -> None:
        self.found = False
        self._partial_line = bytearray()

    def feed(self, chunk: bytes) -> None:
        if self.found:
            return
        first = chunk.find(b"\n")
        if first < 0:
            self._partial_line += chunk
            return
        last = chunk.rfind(b"\n")
        self.found = _maybe_lenient(self._partial_line + chunk[:first]) or (
            _maybe_lenient(chunk, first, last)
        )
        self._partial_line = bytearray(chunk[last + 1 :])

    def finish(self) -> bool:
        return self.found or _maybe_lenient(self._partial_line)


def _search_lenient(path: Path) -> bool:
    search = _LenientSearch()
    try:
        with _open_binary(path) as stream:
            while not search.found and (chunk := stream.read(_SCAN_CHUNK)):
                search.feed(chunk)
    except OSError:
        # The file could not be read again, so every line is checked in SQL.
        return True
    return search.finish()


def _maybe_lenient(
    data: bytes | bytearray, start: int = 0, end: int | None = None
) -> bool:
    end = len(data) if end is None else end
    # A one-byte search runs at memchr speed, so the longer words are looked for
    # only where their first letter occurs.
    return (
        (data.find(b"N", start, end) >= 0 and data.find(b"NaN", start, end) >= 0)
        or (
            data.find(b"I", start, end) >= 0 and data.find(b"Infinity", start, end) >= 0
        )
        or _TRAILING_COMMA.search(data, start, end) is not None
    )


def _scan_text(
    path: Path, *, lenient_json: bool = False, blank_lines: bool = False
) -> TextScan:
    scan = TextScan()
    decoder = codecs.getincrementaldecoder("utf-8")()
    lenient = _LenientSearch() if lenient_json else None
    tail = b"\n"
    try:
        tail = _scan_chunks(path, scan, decoder, lenient, blank_lines=blank_lines)
    except (OSError, EOFError):
        # A damaged gzip stream: the record-by-record reader reports it.
        scan.valid = False
    if not scan.valid:
        return scan
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        scan.valid = False
    scan.ends_with_newline = tail.endswith(b"\n")
    scan.lenient_json = lenient is not None and lenient.finish()
    return scan


def _scan_chunks(
    path: Path,
    scan: TextScan,
    decoder: codecs.IncrementalDecoder,
    lenient: _LenientSearch | None,
    *,
    blank_lines: bool,
) -> bytes:
    """Scan the file chunk by chunk and return its last two bytes.

    The line before the file counts as ended, so a first blank line is found.
    """
    tail = b"\n"
    with _open_binary(path) as stream:
        while chunk := stream.read(_SCAN_CHUNK):
            if not _decodes(decoder, chunk):
                scan.valid = False
                return tail
            if b"\x00" in chunk or _LINE_DELIMITER.encode() in chunk:
                scan.valid = False
                return tail
            # Line ends that span chunks show in the bytes around the seam.
            seam = tail + chunk[:2]
            scan.newlines += chunk.count(b"\n")
            carriage_returns = chunk.count(b"\r")
            if carriage_returns or tail.endswith(b"\r"):
                scan.carriage_returns += carriage_returns
                scan.crlf += chunk.count(b"\r\n")
                scan.crlf += tail.endswith(b"\r") and chunk.startswith(b"\n")
            if lenient is not None:
                lenient.feed(chunk)
            if blank_lines and not scan.blank_line:
                scan.blank_line = any(
                    end in chunk or end in seam for end in (b"\n\n", b"\n\r\n")
                )
            tail = (tail + chunk[-2:])[-2:]
    return tail


def _decodes(decoder: codecs.IncrementalDecoder, chunk: bytes) -> bool:
    # ASCII needs no decoding unless it follows the start of a multi-byte character.
    if chunk.isascii() and not decoder.getstate()[0]:
        return True
    try:
        decoder.decode(chunk)
    except UnicodeDecodeError:
        return False
    return True


def _new_line(scan: TextScan) -> str | None:
    # DuckDB splits on the one line end a file uses; Python splits on "\n" only.
    if scan.carriage_returns == 0:
        return "\\n"
    if scan.carriage_returns == scan.crlf == scan.newlines:
        return "\\r\\n"
    return None


def _open_binary(path: Path) -> Any:
    with path.open("rb") as file:
        compressed = file.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else path.open("rb")


def _compression(path: Path) -> str:
    with path.open("rb") as file:
        return "gzip" if file.read(2) == GZIP_MAGIC else "none"


def _zone_known(connection: duckdb.DuckDBPyConnection, zone: str | None) -> bool:
    if zone is None:
        return True
    # A cursor has its own transaction, so a failed probe leaves the load's intact.
    with connection.cursor() as probe:
        try:
            probe.execute(
                "SELECT timezone(?, TIMESTAMP '2000-01-01 00:00:00')", [zone]
            ).fetchall()
        except duckdb.Error:
            logger.info("DuckDB does not know time zone %s; loading row by row", zone)
            return False
    return True


# Staging per format


def _stage_jsonl(
    connection: duckdb.DuckDBPyConnection,
    path: Path,
    kind: InputKind,
    settings: Settings,
    scan: TextScan,
) -> str | None:
    rules = field_rules(kind)
    compressed = _compression(path) == "gzip"
    new_line = _new_line(scan) if scan.valid else None
    if new_line is None:
        logger.info("%s: not plain UTF-8 lines; loading row by row", path)
        return None

    if compressed:
        _number_lines(connection, path, new_line)
        lenient = scan.lenient_json
    else:
        # DuckDB numbers the lines in one thread and releases the GIL, so Python
        # searches the file for lenient JSON on the other core meanwhile.
        with ThreadPoolExecutor(max_workers=1) as pool:
            numbering = pool.submit(_number_lines, connection, path, new_line)
            lenient = _search_lenient(path)
            numbering.result()
    keys = _survey_keys(connection, [rule.name for rule in rules])
    # Fields no line names stay NULL without being looked up.
    read = [rule for rule in rules if rule.name in keys.fields]
    source = _jsonl_source(read, lenient=lenient, repeats=keys.repeated)
    _create_jsonl_rows(connection, kind, read, source, settings)
    connection.execute(f"DROP TABLE {_LINES_TABLE}")
    return _LINE_ENDS[new_line]


def _jsonl_source(read: list[FieldRule], *, lenient: bool, repeats: bool) -> str:
    # One parse per line gives the JSON type of every field read and one more its
    # string (or its minified JSON text, when it is not a string). Both take the
    # first of repeated keys, and Python the last. A line that repeats a field's key
    # therefore goes back through pydantic, and lines are checked for that only
    # when some line of the file repeats one.
    paths = ", ".join(f"'$.\"{rule.name}\"'" for rule in read)
    # TRY turns the error on a line that is not JSON into NULL, so no line is
    # parsed a third time to validate it.
    lists = (
        f"try(json_type(object, [{paths}])) AS json_types, "
        f"try(json_extract_string(object, [{paths}])) AS json_strings"
        if read
        else "CASE WHEN json_valid(object) THEN []::VARCHAR[] END AS json_types, "
        "[]::VARCHAR[] AS json_strings"
    )
    unsure = ["json_types IS NULL", "json_strings IS NULL", _maybe_deep("text")]
    if lenient:
        # Off when the scan found no NaN, Infinity or trailing comma in the file.
        unsure.append("regexp_matches(text, $lenient)")
    if repeats:
        lists += ", try(json_keys(object)) AS keys"
        unsure.append(_repeats_field())
    # S608: the SQL names model fields only; values come from the file.
    return (
        "SELECT line, text AS raw, json_types, json_strings, "  # noqa: S608
        f"coalesce({' OR '.join(unsure)}, true) AS unsure_record "
        f"FROM (SELECT *, {lists} "
        "FROM (SELECT line, text, CASE WHEN starts_with(text, '{') THEN text END "
        f"AS object FROM {_LINES_TABLE}))"
    )


@dataclass(frozen=True)
class _KeySurvey:
    """Model fields the lines of a file name, and whether a line names one twice."""

    fields: frozenset[str]
    repeated: bool


def _survey_keys(connection: duckdb.DuckDBPyConnection, names: list[str]) -> _KeySurvey:
    """Return the model fields some line names, and whether a line repeats one.

    Lines are grouped by their list of keys first, so the lists are examined once
    each, however many lines share them. The lists are grouped as JSON text, which
    DuckDB hashes faster than lists.
    """
    distinct_keys = (
        "SELECT DISTINCT to_json(try(json_keys(text))) AS keys "  # noqa: S608
        f"FROM {_LINES_TABLE} WHERE starts_with(text, '{{')"
    )
    rows = connection.execute(
        "SELECT list_distinct(flatten(list(names))), "  # noqa: S608
        "coalesce(bool_or(len(names) <> len(list_distinct(names))), false) "
        "FROM (SELECT list_filter(CAST(keys AS VARCHAR[]), "
        "lambda key: list_contains($fields, key)) AS names "
        f"FROM ({distinct_keys}) WHERE keys IS NOT NULL)",
        {"fields": names},
    ).fetchall()
    fields, repeated = rows[0]
    return _KeySurvey(frozenset(fields or ()), bool(repeated))


def _number_lines(
    connection: duckdb.DuckDBPyConnection, path: Path, new_line: str
) -> None:
    # WITH ORDINALITY numbers lines in one thread, so the lines are stored first and
    # checked from the table by every thread. Lines that Python's bytes.strip()
    # empties are blank and skipped, as the record-by-record reader does.
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE {_LINES_TABLE} AS "  # noqa: S608
        "SELECT ordinality AS line, column0 AS text "
        f"FROM {_line_reader(new_line)} WITH ORDINALITY "
        "WHERE column0 <> '' AND (starts_with(column0, '{') "
        "OR trim(column0, $blank) <> '')",
        {"file": str(path), "compression": _compression(path), "blank": _BLANK},
    )


def _repeats_field() -> str:
    # json_keys lists repeated keys, and json_types is NULL for a field the line
    # lacks. A line with as many keys as fields present names each field once and
    # nothing else. Other lines count their keys that name a field read.
    present = "list_aggregate(json_types, 'count')"
    return (
        f"CASE WHEN len(keys) = {present} THEN false "
        "ELSE len(list_filter(keys, lambda key: list_contains($fields, key))) "
        f"<> {present} END"
    )


def _line_reader(new_line: str) -> str:
    # One VARCHAR column per line keeps blank and malformed lines, and WITH
    # ORDINALITY numbers them from 1 in file order.
    return (
        "read_csv($file, columns = {'column0': 'VARCHAR'}, "
        f"delim = '{_LINE_DELIMITER}', quote = '', escape = '', header = false, "
        "auto_detect = false, strict_mode = false, max_line_size = 1073741824, "
        f"new_line = '{new_line}', compression = $compression)"
    )


def _stage_csv(
    connection: duckdb.DuckDBPyConnection,
    path: Path,
    kind: InputKind,
    settings: Settings,
    scan: TextScan,
) -> str | None:
    rules = field_rules(kind)
    new_line = _new_line(scan) if scan.valid and not scan.blank_line else None
    header = _csv_header(path) if new_line is not None else None
    if new_line is None or header is None:
        logger.info("%s: not plain UTF-8 rows; loading row by row", path)
        return None

    reader = (
        "read_csv($file, header = true, auto_detect = false, columns = $columns, "
        "delim = ',', quote = '\"', escape = '\"', null_padding = true, "
        f"new_line = '{new_line}', max_line_size = 1073741824, "
        "compression = $compression)"
    )
    parameters: dict[str, Any] = {
        "file": str(path),
        "columns": dict.fromkeys(header, "VARCHAR"),
        "compression": _compression(path),
    }
    lines = scan.newlines + (0 if scan.ends_with_newline else 1)
    if _probe_count(connection, reader, parameters) != lines - 1:
        # A cell spanning lines, or a row DuckDB cannot read: line numbers would
        # drift, so the Python reader takes the file.
        logger.info("%s: rows span lines or are malformed; loading row by row", path)
        return None

    values = {
        rule.name: f"nullif({_quoted(rule.name)}, '')"
        if rule.name in header
        else "NULL::VARCHAR"
        for rule in rules
    }
    sources = dict.fromkeys(values, "cell")
    cells = ", ".join(
        f"$name_{index}, {_quoted(name)}" for index, name in enumerate(header)
    )
    # S608: the SQL names header columns only as quoted identifiers.
    source = (
        f"SELECT ordinality + 1 AS line, json_object({cells})::VARCHAR AS raw, "  # noqa: S608
        f"false AS unsure_record, * FROM {reader} WITH ORDINALITY"
    )
    parameters |= {f"name_{index}": name for index, name in enumerate(header)}
    _create_rows(connection, kind, values, sources, source, settings, parameters)
    return _LINE_ENDS[new_line]


def _probe_count(
    connection: duckdb.DuckDBPyConnection, reader: str, parameters: dict[str, Any]
) -> int | None:
    # A cursor has its own transaction, so a read error leaves the load's intact.
    with connection.cursor() as probe:
        try:
            counted = probe.execute(
                f"SELECT count(*) FROM {reader}",  # noqa: S608
                parameters,
            ).fetchall()
        except duckdb.Error:
            return None
    return int(counted[0][0])


def _csv_header(path: Path) -> list[str] | None:
    import csv  # noqa: PLC0415 - only CSV loads need it

    with _open_binary(path) as binary:
        first_line = binary.readline().decode("utf-8").removeprefix("\ufeff")
    try:
        header = next(csv.reader([first_line]))
    except (StopIteration, csv.Error):
        return None
    # DuckDB renames repeated and empty names, which the Python reader keeps.
    if not header or len(set(header)) != len(header) or "" in header:
        return None
    return header


def _stage_parquet(
    connection: duckdb.DuckDBPyConnection,
    path: Path,
    kind: InputKind,
    settings: Settings,
) -> str | None:
    rules = field_rules(kind)
    import pyarrow as pa  # noqa: PLC0415 - pyarrow is slow to import
    import pyarrow.parquet as pq  # noqa: PLC0415 - pyarrow is slow to import

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError):
        return None  # the record-by-record reader reports the damaged file
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for rule in rules:
        if rule.name in schema.names:
            values[rule.name] = _quoted(rule.name)
            sources[rule.name] = _parquet_source(schema.field(rule.name).type)
        else:
            values[rule.name], sources[rule.name] = "NULL::VARCHAR", "string"
    source = (
        "SELECT file_row_number + 1 AS line, NULL::VARCHAR AS raw, "
        "false AS unsure_record, * FROM read_parquet($file, file_row_number = true)"
    )
    _create_rows(
        connection, kind, values, sources, source, settings, {"file": str(path)}
    )
    return ""  # Parquet rows have no line ends


def _parquet_source(arrow_type: Any) -> str:
    import pyarrow as pa  # noqa: PLC0415 - pyarrow is slow to import

    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_timestamp(arrow_type):
        if arrow_type.unit == "ns":
            return "other"  # the pydantic path truncates it to microseconds
        return "timestamp" if arrow_type.tz is None else "timestamptz"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_list(arrow_type) and pa.types.is_string(arrow_type.value_type):
        return "string_list"
    return "other"


# SQL checks


def _create_rows(  # noqa: PLR0917 - each argument is one part of the query
    connection: duckdb.DuckDBPyConnection,
    kind: InputKind,
    values: dict[str, str],
    sources: dict[str, str],
    source: str,
    settings: Settings,
    extra: dict[str, Any] | None = None,
) -> None:
    rules = field_rules(kind)
    columns = model_columns(INPUT_MODELS[kind])
    parameters = _parameters(settings, extra)
    checked = []
    present = []
    for index, rule in enumerate(rules):
        value, is_present = _checked_value(rule, values[rule.name], sources[rule.name])
        if rule.check == "enum":
            value = value.replace("$choices", f"$choices_{index}")
            parameters[f"choices_{index}"] = list(rule.choices)
        sql_type = columns[rule.name].removesuffix(" NOT NULL")
        checked.append(f"CAST({value} AS {sql_type}) AS {_quoted(rule.name)}")
        present.append(f"coalesce({is_present}, false) AS present_{index}")
    field_ok = " AND ".join(
        f"(CASE WHEN present_{index} THEN {_quoted(rule.name)} IS NOT NULL "
        f"ELSE {'false' if rule.required else 'true'} END)"
        for index, rule in enumerate(rules)
    )
    names = ", ".join(_quoted(rule.name) for rule in rules)
    # S608: the SQL names model fields only; values come from the file by parameter.
    query = (
        f"CREATE OR REPLACE TEMP TABLE {_ROWS_TABLE} AS "  # noqa: S608
        f"SELECT {names}, source_line, ok, CASE WHEN NOT ok THEN raw END AS raw "
        f"FROM (SELECT *, NOT unsure_record AND {field_ok} AS ok "
        f"FROM (SELECT line AS source_line, raw, unsure_record, "
        f"{', '.join(checked)}, {', '.join(present)} FROM ({source})))"
    )
    connection.execute(query, _used(parameters, query))


def _create_jsonl_rows(
    connection: duckdb.DuckDBPyConnection,
    kind: InputKind,
    read: list[FieldRule],
    source: str,
    settings: Settings,
) -> None:
    """Stage each line's fields and whether SQL is sure pydantic accepts them as is.

    Only ``ok`` rows are ever inserted, so a field's string is stored as it comes
    and its checks only decide ``ok``. A row whose checks fail goes through
    pydantic, whatever its columns contain.
    """
    columns = model_columns(INPUT_MODELS[kind])
    parameters = _parameters(settings, {"fields": [rule.name for rule in read]})
    positions = {rule.name: index for index, rule in enumerate(read, 1)}
    computed = ["*"]
    stored = []
    ok_conditions = ["NOT unsure_record"]
    for rule in field_rules(kind):
        sql_type = columns[rule.name].removesuffix(" NOT NULL")
        index = positions.get(rule.name)
        if index is None:
            stored.append(f"NULL::{sql_type} AS {_quoted(rule.name)}")
            ok_conditions += ["false"] if rule.required else []
            continue
        json_type = f"json_types[{index}]"
        if rule.check == "enum":
            parameters[f"choices_{index}"] = list(rule.choices)
        check = _json_check(rule, json_type, f"json_strings[{index}]", index)
        if check.computed is not None:
            computed.append(f"{check.computed} AS {check.value}")
        stored.append(f"CAST({check.value} AS {sql_type}) AS {_quoted(rule.name)}")
        ok_conditions.append(
            f"({check.accepted})"
            if rule.required
            else f"({json_type} IS NULL OR {json_type} = 'NULL' OR {check.accepted})"
        )
    # S608: the SQL names model fields only; values come from the file by parameter.
    query = (
        f"CREATE OR REPLACE TEMP TABLE {_ROWS_TABLE} AS "  # noqa: S608
        f"SELECT {', '.join(stored)}, line AS source_line, ok, "
        "CASE WHEN NOT ok THEN raw END AS raw "
        f"FROM (SELECT *, coalesce({' AND '.join(ok_conditions)}, false) AS ok "
        f"FROM (SELECT {', '.join(computed)} FROM ({source})))"
    )
    connection.execute(query, _used(parameters, query))


@dataclass(frozen=True)
class _JsonCheck:
    """SQL for one field of a JSONL line."""

    value: str  # the value to store
    accepted: str  # true when the field is present and pydantic stores ``value``
    computed: str | None = None  # the expression ``value`` names, if it is computed


def _json_check(rule: FieldRule, json_type: str, text: str, index: int) -> _JsonCheck:
    """Return the SQL that stores and checks a field of a JSONL line.

    ``text`` is the field's string, or its minified JSON text when it is not a
    string. Every expression must be free of errors on any input, because a failed
    statement would abort the load's transaction.
    """
    is_string = f"{json_type} = 'VARCHAR'"
    if rule.check == "id":
        return _JsonCheck(text, f"{is_string} AND {text} <> ''")
    if rule.check == "text":
        return _JsonCheck(text, is_string)
    if rule.check == "enum":
        return _JsonCheck(
            text, f"{is_string} AND list_contains($choices_{index}, {text})"
        )
    if rule.check == "int":
        value = (
            f"CASE WHEN {json_type} IN ('BIGINT', 'UBIGINT') "
            f"THEN TRY_CAST({text} AS BIGINT) END"
        )
    elif rule.check == "instant":
        value = f"CASE WHEN {is_string} THEN {_text_instant(text)} END"
    elif rule.check == "object":
        value = f"CASE WHEN {json_type} = 'OBJECT' THEN {_minified_object(text)} END"
    elif rule.check == "id_list":
        value = f"CASE WHEN {json_type} = 'ARRAY' THEN {_json_id_list(text)} END"
    else:
        # A type the SQL does not check: a present value goes through pydantic.
        return _JsonCheck("NULL", "false")
    name = f"value_{index}"
    return _JsonCheck(name, f"{name} IS NOT NULL", value)


def _parameters(settings: Settings, extra: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "zone": settings.default_timezone,
        "lenient": _LENIENT_JSON,
        "numbers": _NUMBER_WRITTEN_DIFFERENTLY,
        **(extra or {}),
    }


def _used(parameters: dict[str, Any], query: str) -> dict[str, Any]:
    # DuckDB rejects parameters the query does not name.
    return {
        name: value
        for name, value in parameters.items()
        if re.search(rf"\${name}\b", query)
    }


def _checked_value(rule: FieldRule, value: str, source: str) -> tuple[str, str]:
    """Return SQL for the field's stored value (NULL unless sure) and its presence.

    Every expression must be free of errors on any input: a failed statement would
    abort the load's transaction.
    """
    present = f"{value} IS NOT NULL"
    if rule.check == "other":
        return "NULL", present
    if source in ("string", "cell"):
        return _text_value(rule, value, from_cell=source == "cell"), present
    non_empty = f"list_transform({value}, lambda e: length(e) > 0)"
    typed = {
        ("instant", "timestamp"): _zoned_instant(value),
        ("instant", "timestamptz"): f"timezone('UTC', {value})",
        ("int", "integer"): f"TRY_CAST({value} AS BIGINT)",
        ("id_list", "string_list"): (
            f"CASE WHEN coalesce(list_bool_and({non_empty}), true) "
            f"THEN to_json({value})::VARCHAR END"
        ),
    }
    # Any other Parquet type goes back through pydantic, which reports it.
    return typed.get((rule.check, source), "NULL"), present


def _string_value(check: Check, text: str) -> str | None:
    if check == "id":
        return f"CASE WHEN length({text}) > 0 THEN {text} END"
    if check == "text":
        return text
    if check == "enum":
        return f"CASE WHEN list_contains($choices, {text}) THEN {text} END"
    return None


def _text_value(rule: FieldRule, value: str, *, from_cell: bool) -> str:
    string_value = _string_value(rule.check, value)
    if string_value is not None:
        return string_value
    if rule.check == "int":
        # Typed records never take an integer as text; CSV cells always do.
        integer = (
            f"CASE WHEN regexp_full_match({value}, '-?(0|[1-9][0-9]{{0,17}})') "
            f"THEN TRY_CAST({value} AS BIGINT) END"
        )
        return integer if from_cell else "NULL"
    if rule.check == "instant":
        return _text_instant(value)
    document = (
        f"CASE WHEN json_valid({value}) AND NOT regexp_matches({value}, $lenient) "
        f"AND NOT {_maybe_deep(value)} THEN {value}::JSON END"
    )
    if rule.check == "object":
        return _json_object(document)
    return f"CASE WHEN starts_with({value}, '[') THEN {_json_id_list(document)} END"


def _maybe_deep(text: str) -> str:
    # Python's json module fails past its recursion limit (about 1,000 levels) and
    # DuckDB's parser does not, so text with many brackets goes back through pydantic.
    # strlen returns the stored byte count, where length() reads the text to count
    # characters, and each bracket is one byte.
    brackets = f"strlen({text}) - strlen(replace(replace({text}, '[', ''), '{{', ''))"
    return f"(strlen({text}) >= {_MAX_BRACKETS} AND {brackets} >= {_MAX_BRACKETS})"


def _json_object(value: str) -> str:
    # Python keeps the last of repeated keys and DuckDB's ->> the first, so such
    # objects go back through pydantic.
    keys = f"json_keys(CASE WHEN json_type({value}) = 'OBJECT' THEN {value} END)"
    return (
        f"CASE WHEN json_type({value}) = 'OBJECT' "
        f"AND len({keys}) = len(list_distinct({keys})) "
        f"THEN {_written_as_python(f'json({value})::VARCHAR')} END"
    )


def _minified_object(text: str) -> str:
    # The object's text as json_extract_string writes it, minified as the JSON type
    # stores it. Python keeps the last of repeated keys and DuckDB all of
    # them, so such objects go back through pydantic.
    # NOTE: repeated keys in objects nested deeper inside are not looked for.
    distinct_keys = (
        f"CASE WHEN len(json_keys({text})) < 2 THEN true "
        f"ELSE list_transform([json_keys({text})], "
        "lambda keys: len(keys) = len(list_distinct(keys)))[1] END"
    )
    return (
        f"CASE WHEN {distinct_keys} AND NOT contains({text}, '\\u') "
        f"AND NOT {_number_written_differently(text)} THEN {text} END"
    )


def _json_id_list(value: str) -> str:
    # The cast keeps the list type when DuckDB folds a constant NULL input.
    array = f"CASE WHEN json_type({value}) = 'ARRAY' THEN {value} END"
    items = f"CAST(json_extract({array}, '$[*]') AS JSON[])"
    sure = (
        f"coalesce(list_bool_and(list_transform({items}, "
        "lambda e: json_type(e) = 'VARCHAR' AND length(e ->> '$') > 0)), true)"
    )
    return (
        f"CASE WHEN json_type({value}) = 'ARRAY' AND {sure} "
        f"THEN {_written_as_python(f'json({value})::VARCHAR')} END"
    )


def _written_as_python(minified: str) -> str:
    # Return the JSON text when Python's json.dumps writes the same text, else NULL.
    return (
        f"list_transform([{minified}], lambda t: CASE WHEN NOT contains(t, '\\u') "
        f"AND NOT {_number_written_differently('t')} THEN t END)[1]"
    )


def _number_written_differently(text: str) -> str:
    # Each such number has a point or an exponent. Most JSON text has neither, and
    # contains() is cheaper than the regular expression.
    return (
        f"((contains({text}, '.') OR contains({text}, 'e') OR contains({text}, 'E')) "
        f"AND regexp_matches({text}, $numbers))"
    )


def _text_instant(text: str) -> str:
    # LIKE fixes where the separators of a common UTC form are. DuckDB's strptime
    # (2.0.1) then reads a digit at every other place, except that it skips white
    # space before the year, and rejects a month, day, hour or minute out of range,
    # such as hour 24, as test_instant_sql_matches_python checks. The text
    # comparison drops white space before the year and keeps the year from 1000 to
    # 8999, inside the range of the regular expression that reads every other text.
    forms = " ".join(
        f"WHEN {text} LIKE '{pattern}' AND {text} >= '1000' AND {text} < '9000' "
        f"THEN try_strptime({text}, '{layout}')"
        for pattern, layout in _UTC_FORMS
    )
    return f"CASE {forms} ELSE {_matched_instant(text)} END"


def _matched_instant(text: str) -> str:
    # The regular expression is parsed once per row through a one-element lambda.
    parts = (
        f"regexp_extract({text}, '{_TIMESTAMP}', "
        "['year', 'month', 'day', 'hour', 'minute', 'second', 'fraction', 'zone'])"
    )
    local = (
        "TRY_CAST(p.year || '-' || p.month || '-' || p.day || ' ' || p.hour || ':' "
        "|| p.minute || coalesce(nullif(p.second, ''), ':00') AS TIMESTAMP) "
        "+ to_microseconds(CAST(left(rpad(coalesce(nullif(substr(p.fraction, 2), ''), "
        "'0'), 6, '0'), 6) AS BIGINT))"
    )
    offset = (
        "CASE WHEN p.zone IN ('Z', 'z') THEN 0 "
        "WHEN CAST(substr(replace(p.zone, ':', ''), 2, 2) AS INTEGER) < 24 "
        "AND CAST(substr(replace(p.zone, ':', ''), 4, 2) AS INTEGER) < 60 "
        "THEN (CASE WHEN starts_with(p.zone, '-') THEN -1 ELSE 1 END) * "
        "(CAST(substr(replace(p.zone, ':', ''), 2, 2) AS INTEGER) * 60 "
        "+ CAST(substr(replace(p.zone, ':', ''), 4, 2) AS INTEGER)) END"
    )
    instant = (
        f"CASE WHEN p.year = '' OR NOT CAST(p.year AS INTEGER) BETWEEN 1000 AND 9998 "
        "THEN NULL "
        f"WHEN p.zone = '' THEN {_zoned_instant('(' + local + ')')} "
        f"ELSE ({local}) - to_minutes({offset}) END"
    )
    return f"list_transform([{parts}], lambda p: {instant})[1]"


def _zoned_instant(local: str) -> str:
    # A time written without offset, in the default zone. It is judged here only
    # when the zone's offset is the same a day before and a day after, so the time
    # is neither skipped nor repeated by a daylight-saving change.
    utc = f"timezone('UTC', timezone($zone::VARCHAR, {local}))"
    return (
        f"list_transform([{utc}], lambda u: CASE WHEN "
        "timezone($zone::VARCHAR, timezone('UTC', u)) = " + local + " AND "
        "timezone($zone::VARCHAR, timezone('UTC', u - INTERVAL 24 HOUR)) - "
        "(u - INTERVAL 24 HOUR) = "
        "timezone($zone::VARCHAR, timezone('UTC', u + INTERVAL 24 HOUR)) - "
        "(u + INTERVAL 24 HOUR) THEN u END)[1]"
    )


def _model_row(instance: BaseModel, names: list[str]) -> dict[str, Any]:
    row = {name: getattr(instance, name) for name in names}
    for name, value in row.items():
        if isinstance(value, Enum):
            row[name] = value.value
        elif isinstance(value, dict | list):
            row[name] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return row


def _microsecond_table(table: Any, pa: Any) -> Any:
    columns = []
    for column in table.columns:
        column_type = column.type
        if pa.types.is_timestamp(column_type) and column_type.unit == "ns":
            columns.append(column.cast(pa.timestamp("us", column_type.tz), safe=False))
        else:
            columns.append(column)
    return pa.table(columns, names=table.column_names)


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
