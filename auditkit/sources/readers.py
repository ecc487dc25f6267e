"""Streaming readers that turn JSONL, JSON, CSV and Parquet files into raw records.

Readers never validate: they only decode. A line that cannot be decoded becomes a
record whose value is an :class:`UnreadableRecord`, so the loader can quarantine it
with its line number and go on with the next line.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, AnyStr, BinaryIO, Literal, cast

from auditkit.errors import InputError
from auditkit.sources.base import RawRecord

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from types import TracebackType

logger = logging.getLogger(__name__)

FileFormat = Literal["jsonl", "json", "csv", "parquet"]
FILE_FORMATS: tuple[FileFormat, ...] = ("jsonl", "json", "csv", "parquet")

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
PARQUET_BATCH_ROWS = 10_000
DAMAGED_FILE_HINT = "the file is damaged or cut short; copy or export it again"
# Reading a damaged gzip stream raises any of these, at the first read or later.
_READ_ERRORS = (OSError, EOFError, zlib.error)
# json.loads recurses once per nesting level and fails past Python's recursion limit.
TOO_DEEP = "invalid JSON: nested deeper than the parser's limit"

_SUFFIX_FORMATS: dict[str, FileFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass(frozen=True)
class UnreadableRecord:
    r"""Value of a raw record that could not be decoded.

    ``text`` is the undecodable line, with invalid UTF-8 bytes shown as ``\\xNN``
    escapes, or ``None`` when no text can be shown.
    """

    reason: str
    text: str | None = None


def is_gzip(path: str | Path) -> bool:
    """Return whether the file starts with the gzip magic bytes ``1f 8b``.

    The content decides, never the file name: ``calls.jsonl`` may be compressed and
    ``calls.jsonl.gz`` may not be.
    """
    with Path(path).open("rb") as file:
        return file.read(2) == GZIP_MAGIC


def sniff_format(path: str | Path) -> FileFormat:
    """Return the format of a file from its name, or from its first bytes.

    Parquet is recognised by its magic bytes. Otherwise the suffix before any ``.gz``
    decides (``.jsonl``, ``.ndjson``, ``.json``, ``.csv``). A file with another
    suffix is JSON when its first character is ``[`` and JSONL otherwise.

    Raises
    ------
    InputError
        If the file is gzip-compressed Parquet, which cannot be read in batches.
    """
    path = Path(path)
    try:
        with open_binary(path) as stream:
            head = stream.read(64)
    except _READ_ERRORS as error:
        raise _unreadable_file(error, path) from error
    if head.startswith(PARQUET_MAGIC):
        if is_gzip(path):
            raise InputError(
                "gzip-compressed Parquet is not supported",
                path=path,
                hint="decompress the file first; Parquet compresses its own pages",
            )
        return "parquet"

    suffixes = [suffix.lower() for suffix in path.suffixes if suffix.lower() != ".gz"]
    file_format = _SUFFIX_FORMATS.get(suffixes[-1]) if suffixes else None
    if file_format == "parquet":
        raise InputError(
            "not a Parquet file: it does not start with the bytes 'PAR1'",
            path=path,
            hint="export the file as Parquet again, or rename it after its format",
        )
    if file_format is not None:
        return file_format

    first = head.removeprefix(codecs.BOM_UTF8).lstrip()[:1]
    return "json" if first == b"[" else "jsonl"


def open_binary(path: str | Path) -> io.BufferedIOBase:
    """Open a file for reading bytes, decompressing it when its content is gzip."""
    if is_gzip(path):
        return gzip.open(path, "rb")
    return Path(path).open("rb")


def read_records(
    path: str | Path, file_format: FileFormat | None = None
) -> Iterator[RawRecord]:
    """Iterate the raw records of one file.

    Parameters
    ----------
    path
        File to read, plain or gzip-compressed.
    file_format
        One of ``jsonl``, ``json``, ``csv``, ``parquet``; found by
        :func:`sniff_format` when omitted.

    Yields
    ------
    RawRecord
        One record per JSONL line, CSV row, JSON array element or Parquet row.
    """
    with RecordStream(path, file_format) as stream:
        yield from stream


class RecordStream:
    r"""An open file that yields raw records and reports how many bytes it has read.

    Use it as a context manager. ``bytes_read`` counts bytes of the file on disk
    (compressed bytes for a gzip file), so it can drive a progress bar.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> text = '{"call_id": "c1"}\n\n{"call_id": "c2"}\n'
    >>> _ = (folder / "calls.jsonl").write_text(text)
    >>> with RecordStream(folder / "calls.jsonl") as stream:
    ...     [(record.line, record.value) for record in stream]
    [(1, {'call_id': 'c1'}), (3, {'call_id': 'c2'})]
    """

    def __init__(self, path: str | Path, file_format: FileFormat | None = None) -> None:
        self.path = Path(path)
        self.format: FileFormat = file_format or sniff_format(self.path)
        self.size = self.path.stat().st_size
        self._raw: io.BufferedIOBase | None = None
        self._closed = False
        self._parquet_rows_done = 0
        self._parquet_rows_total = 0

    def __enter__(self) -> RecordStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying file."""
        if self._raw is not None:
            self._raw.close()
            self._raw = None
        self._closed = True

    @property
    def bytes_read(self) -> int:
        """Bytes of the file on disk consumed so far (an estimate for Parquet)."""
        if self.format == "parquet":
            if self._parquet_rows_total == 0:
                return 0
            return self.size * self._parquet_rows_done // self._parquet_rows_total
        if self._closed or (self._raw is not None and self._raw.closed):
            return self.size
        if self._raw is None:
            return 0
        return min(self._raw.tell(), self.size)

    def __iter__(self) -> Iterator[RawRecord]:
        if self.format == "parquet":
            return self._parquet_records()
        if self.format == "csv":
            return self._csv_records()
        if self.format == "json":
            return self._json_records()
        return self._jsonl_records()

    def _open_binary(self) -> io.BufferedIOBase:
        self._raw = self.path.open("rb")
        if self._raw.read(2) == GZIP_MAGIC:
            self._raw.seek(0)
            return gzip.GzipFile(fileobj=self._raw, mode="rb")
        self._raw.seek(0)
        return self._raw

    def _jsonl_records(self) -> Iterator[RawRecord]:
        path = str(self.path)
        with self._open_binary() as stream:
            for number, raw_line in enumerate(
                _guarded_lines(stream, self.path), start=1
            ):
                line_bytes = raw_line
                if number == 1:
                    line_bytes = line_bytes.removeprefix(codecs.BOM_UTF8)
                if not line_bytes.strip():
                    continue
                yield RawRecord(path, number, _decode_json_line(line_bytes))

    def _json_records(self) -> Iterator[RawRecord]:
        # NOTE: a JSON document is parsed whole, so its size is bounded by memory;
        # large inputs should be JSONL, which is read line by line.
        path = str(self.path)
        with self._open_binary() as stream:
            data = _read_all(stream, self.path)
        value, line = _decode_json_document(data)
        if isinstance(value, list):
            for position, item in enumerate(value, start=1):
                yield RawRecord(path, position, item, offset_kind="position")
        else:
            yield RawRecord(path, line, value, offset_kind="position")

    def _csv_records(self) -> Iterator[RawRecord]:
        path = str(self.path)
        with self._open_binary() as binary:
            # surrogateescape keeps invalid UTF-8 bytes visible per row, so one bad
            # row is reported and the rows after it are still read.
            text = io.TextIOWrapper(
                cast("BinaryIO", binary),
                encoding="utf-8",
                errors="surrogateescape",
                newline="",
            )
            reader = csv.reader(_guarded_lines(text, self.path))
            header, last_line = _read_header(reader, self.path)
            while True:
                first_line = last_line + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    last_line = reader.line_num
                    yield RawRecord(
                        path, first_line, UnreadableRecord(f"invalid CSV: {error}")
                    )
                    continue
                last_line = reader.line_num
                if cells:
                    yield RawRecord(path, first_line, _csv_row(header, cells))

    def _parquet_records(self) -> Iterator[RawRecord]:
        import pyarrow as pa  # noqa: PLC0415 - pyarrow is slow to import
        import pyarrow.parquet as pq  # noqa: PLC0415 - pyarrow is slow to import

        path = str(self.path)
        position = 0
        # A cut or damaged file fails when its footer or a page is decoded.
        try:
            parquet_file = pq.ParquetFile(self.path)
            self._parquet_rows_total = parquet_file.metadata.num_rows
            for batch in parquet_file.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                for value in _microsecond_batch(batch).to_pylist():
                    position += 1
                    yield RawRecord(path, position, value, offset_kind="position")
                self._parquet_rows_done = position
        except (pa.ArrowException, OSError) as error:
            detail = str(error).strip()
            reason = f"cannot read the Parquet file after row {position}: {detail}"
            raise InputError(reason, path=self.path, hint=DAMAGED_FILE_HINT) from error


def _guarded_lines(stream: Iterable[AnyStr], path: Path) -> Iterator[AnyStr]:
    try:
        yield from stream
    except _READ_ERRORS as error:
        raise _unreadable_file(error, path) from error


def _read_all(stream: io.BufferedIOBase, path: Path) -> bytes:
    try:
        return stream.read()
    except _READ_ERRORS as error:
        raise _unreadable_file(error, path) from error


def _unreadable_file(error: Exception, path: Path) -> InputError:
    return InputError(
        f"cannot read the file: {error}", path=path, hint=DAMAGED_FILE_HINT
    )


def _reject_constant(name: str) -> Any:
    message = f"{name} is not valid JSON"
    raise ValueError(message)


def _decode_json_line(raw_line: bytes) -> Any:
    try:
        text = raw_line.decode("utf-8")
    except UnicodeDecodeError as error:
        shown = raw_line.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
        column = error.start + 1
        reason = f"invalid UTF-8: byte {raw_line[error.start]:#04x} at column {column}"
        return UnreadableRecord(reason, shown)
    return _parse_json(text)


def _decode_json_document(data: bytes) -> tuple[Any, int]:
    # Returns the document and the line to report it at: 1, or where decoding failed.
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        reason = f"invalid UTF-8: byte {data[error.start]:#04x} at offset {error.start}"
        return UnreadableRecord(reason), line
    try:
        return json.loads(text, parse_constant=_reject_constant), 1
    except json.JSONDecodeError as error:
        reason = f"invalid JSON: {error.msg} at column {error.colno}"
        return UnreadableRecord(reason), error.lineno
    except ValueError as error:
        return UnreadableRecord(f"invalid JSON: {error}"), 1
    except RecursionError:
        return UnreadableRecord(TOO_DEEP), 1


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        reason = f"invalid JSON: {error.msg} at column {error.colno}"
        return UnreadableRecord(reason, text.rstrip("\r\n"))
    except ValueError as error:
        return UnreadableRecord(f"invalid JSON: {error}", text.rstrip("\r\n"))
    except RecursionError:
        return UnreadableRecord(TOO_DEEP, text.rstrip("\r\n"))


def _read_header(reader: Any, path: Path) -> tuple[list[str], int]:
    try:
        header: list[str] = next(reader)
    except StopIteration:
        return [], 0
    except csv.Error as error:
        raise InputError(f"invalid CSV header: {error}", path=path, line=1) from error
    if header:
        header[0] = header[0].removeprefix("\ufeff")
    if any(_has_invalid_bytes(name) for name in header):
        raise InputError(
            "invalid UTF-8 in the CSV header",
            path=path,
            line=1,
            hint="save the file as UTF-8",
        )
    return header, reader.line_num


def _csv_row(header: list[str], cells: list[str]) -> dict[str, str] | UnreadableRecord:
    if len(cells) > len(header):
        reason = f"row has {len(cells)} cells but the header has {len(header)}"
        return UnreadableRecord(reason, _escaped(",".join(cells)))
    if any(_has_invalid_bytes(cell) for cell in cells):
        return UnreadableRecord("invalid UTF-8 in a cell", _escaped(",".join(cells)))
    # A short row leaves its last columns missing, as empty cells would.
    return dict(zip(header, cells, strict=False))


def _has_invalid_bytes(text: str) -> bool:
    return any("\udc80" <= character <= "\udcff" for character in text)


def _escaped(text: str) -> str:
    return text.encode("utf-8", errors="surrogateescape").decode(
        "utf-8", errors="backslashreplace"
    )


def _microsecond_batch(batch: Any) -> Any:
    # Python datetimes hold microseconds, so nanosecond columns are truncated to
    # microseconds, as timestamps in text are.
    import pyarrow as pa  # noqa: PLC0415 - pyarrow is slow to import

    columns = []
    for column in batch.columns:
        column_type = column.type
        if pa.types.is_timestamp(column_type) and column_type.unit == "ns":
            columns.append(column.cast(pa.timestamp("us", column_type.tz), safe=False))
        else:
            columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
