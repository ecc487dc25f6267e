from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditkit.errors import InputError
from auditkit.models import InputKind
from auditkit.sources.readers import (
    RecordStream,
    UnreadableRecord,
    is_gzip,
    read_records,
    sniff_format,
)
from auditkit.sources.registry import detect_format, get_adapter

if TYPE_CHECKING:
    from pathlib import Path


def test_jsonl_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_text('{"call_id": "c1"}\n\n   \n{"call_id": "c2"}\n')

    records = list(read_records(path))

    assert [record.line for record in records] == [1, 4]
    assert records[1].value == {"call_id": "c2"}


def test_jsonl_malformed_line_keeps_reading(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_text('{"call_id": "c1"}\n{"call_id": \n{"call_id": "c3"}\n')

    records = list(read_records(path))

    assert isinstance(records[1].value, UnreadableRecord)
    assert records[1].line == 2
    assert records[1].value.reason.startswith("invalid JSON")
    assert records[2].value == {"call_id": "c3"}


def test_jsonl_invalid_utf8_line(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_bytes(b'{"call_id": "c1"}\n{"call_id": "\xff"}\n{"call_id": "c3"}\n')

    records = list(read_records(path))

    assert isinstance(records[1].value, UnreadableRecord)
    assert "invalid UTF-8" in records[1].value.reason
    assert records[1].value.text == '{"call_id": "\\xff"}'
    assert records[2].value == {"call_id": "c3"}


def test_jsonl_rejects_nan(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_text('{"call_id": "c1", "seq": NaN}\n')

    (record,) = read_records(path)

    assert isinstance(record.value, UnreadableRecord)
    assert "NaN" in record.value.reason


def test_gzip_told_by_content(tmp_path: Path) -> None:
    compressed = tmp_path / "calls.jsonl"
    compressed.write_bytes(gzip.compress(b'{"call_id": "c1"}\n'))
    plain = tmp_path / "calls.jsonl.gz"
    plain.write_text('{"call_id": "c2"}\n')

    assert is_gzip(compressed)
    assert not is_gzip(plain)
    assert [r.value for r in read_records(compressed)] == [{"call_id": "c1"}]
    assert [r.value for r in read_records(plain)] == [{"call_id": "c2"}]


def test_json_array_positions(tmp_path: Path) -> None:
    path = tmp_path / "grants.json"
    path.write_text(json.dumps([{"grant_id": "g1"}, {"grant_id": "g2"}], indent=2))

    records = list(read_records(path))

    assert [record.line for record in records] == [1, 2]
    assert records[0].offset_kind == "position"
    assert records[1].value == {"grant_id": "g2"}


def test_json_single_object(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text('{\n  "tool": "crm.read"\n}\n')

    assert [r.value for r in read_records(path)] == [{"tool": "crm.read"}]


def test_json_document_error_line(tmp_path: Path) -> None:
    path = tmp_path / "grants.json"
    path.write_text('[\n  {"grant_id": "g1"},\n  {"grant_id": }\n]\n')

    (record,) = read_records(path)

    assert isinstance(record.value, UnreadableRecord)
    assert record.line == 3


def test_csv_cells_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "grants.csv"
    path.write_text("grant_id,seq,valid_to\n012,3,\n")

    (record,) = read_records(path)

    assert record.value == {"grant_id": "012", "seq": "3", "valid_to": ""}
    assert record.line == 2


def test_csv_multiline_cell_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text('event_id,detail\ne1,"two\nlines"\ne2,one\n')

    records = list(read_records(path))

    assert [record.line for record in records] == [2, 4]
    assert records[0].value["detail"] == "two\nlines"


def test_csv_extra_cells_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("event_id,detail\ne1,a,b\ne2,c\n")

    records = list(read_records(path))

    assert isinstance(records[0].value, UnreadableRecord)
    assert "3 cells" in records[0].value.reason
    assert records[1].value == {"event_id": "e2", "detail": "c"}


def test_csv_invalid_utf8_row(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(b"event_id,detail\ne1,\xfe\ne2,ok\n")

    records = list(read_records(path))

    assert isinstance(records[0].value, UnreadableRecord)
    assert records[0].line == 2
    assert records[1].value == {"event_id": "e2", "detail": "ok"}


def test_parquet_rows_and_nanoseconds(tmp_path: Path) -> None:
    path = tmp_path / "calls.parquet"
    nanoseconds = 1_772_323_200_123_456_789
    table = pa.table(
        {
            "call_id": ["c1", "c2"],
            "ts": pa.array([nanoseconds, nanoseconds], pa.timestamp("ns", "UTC")),
        }
    )
    pq.write_table(table, path)

    records = list(read_records(path))

    assert [record.line for record in records] == [1, 2]
    expected = datetime(2026, 3, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert records[0].value["ts"] == expected


def test_parquet_progress_reaches_size(tmp_path: Path) -> None:
    path = tmp_path / "calls.parquet"
    pq.write_table(pa.table({"call_id": ["c1", "c2", "c3"]}), path)

    with RecordStream(path) as stream:
        list(stream)
        assert stream.bytes_read == stream.size


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("export", b'[{"a": 1}]', "json"),
        ("export", b'{"a": 1}\n{"a": 2}\n', "jsonl"),
        ("export.ndjson", b'{"a": 1}\n', "jsonl"),
        ("Export.CSV", b"a,b\n", "csv"),
        ("export.json.gz", gzip.compress(b'{"a": 1}'), "json"),
    ],
)
def test_sniff_format(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    assert sniff_format(path) == expected


def test_sniff_format_parquet_by_magic(tmp_path: Path) -> None:
    path = tmp_path / "calls.data"
    pq.write_table(pa.table({"call_id": ["c1"]}), path)

    assert sniff_format(path) == "parquet"


def test_sniff_format_rejects_gzip_parquet(tmp_path: Path) -> None:
    source = tmp_path / "source.parquet"
    pq.write_table(pa.table({"call_id": ["c1"]}), source)
    path = tmp_path / "calls.parquet.gz"
    path.write_bytes(gzip.compress(source.read_bytes()))

    with pytest.raises(InputError, match="gzip-compressed Parquet is not supported"):
        sniff_format(path)


def test_detect_format_canonical() -> None:
    sample = {"call_id": "c1", "ts": "2026-03-01T00:00:00Z", "tool": "crm.read"}

    assert detect_format(sample) == "canonical"
    assert detect_format({"unrelated": 1}) is None


def test_get_adapter_unknown_format() -> None:
    with pytest.raises(
        InputError, match=r"unknown format 'nosuch'; use one of: .*canonical"
    ):
        get_adapter("nosuch", InputKind.CALLS)


def test_get_adapter_canonical_needs_kind() -> None:
    with pytest.raises(InputError, match="pass kind= with one of: calls"):
        get_adapter("canonical")
