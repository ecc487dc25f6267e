"""Fuzzing of every reader and every registered format through the loader.

Only auditkit's own errors (``AuditkitError`` subclasses) may escape: a crash of any
other kind fails the test. Readers get valid files with mutated bytes; the loader
gets JSONL files of mutated valid records and arbitrary JSON for each registered
format, and the workspace must pass the integrity check after all of them.
``AUDITKIT_PROFILE=thorough`` draws ten times more files for the loader.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.errors import AuditkitError
from auditkit.sources.readers import FILE_FORMATS, FileFormat, RecordStream
from auditkit.sources.registry import format_names
from auditkit.workspace import Workspace
from auditkit.workspace.integrity import check_integrity
from tests.hardening.conftest import CORPUS

THOROUGH = os.environ.get("AUDITKIT_PROFILE") == "thorough"
HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]
READER_FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=HEALTH)
# A load costs tens of milliseconds, so the normal run draws fewer files per format.
LOADER_FUZZ = settings(
    max_examples=1000 if THOROUGH else 100,
    deadline=None,
    suppress_health_check=HEALTH,
)

# Valid records of each registered format, taken from the corpus.
SEED_FILES = {
    "otel": "traces-otel-bad-records.jsonl",
    "mcp": "gateway-mcp-bad-records.jsonl",
    "cloudtrail": "cloudtrail-bad-records.jsonl",
    "gcp_audit": "audit-gcp-bad-records.jsonl",
    "okta": "events-okta-bad-records.jsonl",
    "canonical": "calls-timestamp-forms.jsonl",
}

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(
        ["", "2026-03-01T08:00:00Z", "2026-11-01T01:30:00", "1772352000000000000"]
    ),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)


def _seed_records(name: str) -> list[Any]:
    records = []
    for line in (CORPUS / SEED_FILES[name]).read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            records.append(json.loads(line))
    return [record for record in records if isinstance(record, dict)]


@st.composite
def mutated(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """Return ``value`` with some members deleted, replaced or mutated in turn."""
    if isinstance(value, dict):
        result = {}
        for key, member in value.items():
            action = draw(
                st.sampled_from(["keep", "keep", "mutate", "replace", "drop"])
            )
            if action == "keep":
                result[key] = member
            elif action == "mutate" and depth < 6:
                result[key] = draw(mutated(member, depth + 1))
            elif action == "replace":
                result[key] = draw(JSON_VALUES)
        return result
    if isinstance(value, list) and depth < 6:
        return [draw(mutated(member, depth + 1)) for member in value]
    return draw(st.one_of(st.just(value), JSON_VALUES))


def _records_of(name: str) -> st.SearchStrategy[list[Any]]:
    seeds = _seed_records(name)
    one_record = st.one_of(
        st.sampled_from(seeds).flatmap(mutated),
        JSON_VALUES,
    )
    return st.lists(one_record, min_size=1, max_size=6)


@pytest.fixture(scope="module")
def fuzz_workspace() -> Any:
    with Workspace.open(":memory:") as workspace:
        yield workspace


@pytest.mark.parametrize("format_name", format_names())
def test_load_fuzzed_records(format_name: str, fuzz_workspace: Workspace) -> None:
    @LOADER_FUZZ
    @given(records=_records_of(format_name), as_csv=st.booleans())
    def load_records(records: list[Any], as_csv: bool) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "calls.jsonl"
            text = "\n".join(json.dumps(record) for record in records) + "\n"
            if as_csv and format_name == "canonical":
                path = Path(folder) / "calls.csv"
                text = _as_csv(records)
            path.write_text(text, encoding="utf-8")
            with contextlib.suppress(AuditkitError):
                fuzz_workspace.load(path, "calls", format=format_name)

    load_records()
    report = check_integrity(fuzz_workspace.connection)

    assert report.ok, report.to_text()


def _as_csv(records: list[Any]) -> str:
    # Every value becomes its JSON text in a cell; keys of all records form the header.
    header = sorted(
        {key for record in records if isinstance(record, dict) for key in record}
    )
    rows = [",".join(json.dumps(name) for name in header)]
    for record in records:
        cells = record if isinstance(record, dict) else {}
        rows.append(
            ",".join(json.dumps(json.dumps(cells.get(name))) for name in header)
        )
    return "\n".join(rows) + "\n"


def _seed_file(file_format: FileFormat, folder: Path) -> Path:
    records = _seed_records("canonical")
    path = folder / f"calls.{file_format}"
    if file_format == "jsonl":
        path.write_text("\n".join(json.dumps(record) for record in records) + "\n")
    elif file_format == "json":
        path.write_text(json.dumps(records, indent=1))
    elif file_format == "csv":
        path.write_text(_as_csv(records))
    else:
        table = pa.Table.from_pylist(
            [{key: json.dumps(value) for key, value in r.items()} for r in records]
        )
        pq.write_table(table, path)
    return path


MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from(["overwrite", "insert", "delete", "truncate"]),
        st.floats(min_value=0, max_value=1),
        st.binary(min_size=1, max_size=8),
    ),
    min_size=1,
    max_size=4,
)


def _mutate_bytes(data: bytes, mutations: list[tuple[str, float, bytes]]) -> bytes:
    for action, where, chunk in mutations:
        position = int(where * len(data))
        if action == "overwrite":
            data = data[:position] + chunk + data[position + len(chunk) :]
        elif action == "insert":
            data = data[:position] + chunk + data[position:]
        elif action == "delete":
            data = data[:position] + data[position + len(chunk) :]
        else:
            data = data[:position]
    return data


@pytest.mark.parametrize("file_format", FILE_FORMATS)
def test_reader_mutated_bytes(file_format: FileFormat, tmp_path: Path) -> None:
    seed = _seed_file(file_format, tmp_path).read_bytes()

    @READER_FUZZ
    @given(mutations=MUTATIONS, compress=st.booleans())
    def read_mutated(mutations: list[tuple[str, float, bytes]], compress: bool) -> None:
        data = _mutate_bytes(seed, mutations)
        if compress and file_format != "parquet":
            data = _mutate_bytes(gzip.compress(data, mtime=0), mutations[:1])
        path = tmp_path / f"mutated.{file_format}"
        path.write_bytes(data)
        with contextlib.suppress(AuditkitError), RecordStream(path) as stream:
            for _ in stream:
                pass

    read_mutated()
