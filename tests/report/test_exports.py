from __future__ import annotations

import csv
import json
from typing import TYPE_CHECKING

import pyarrow.parquet as pq
import pytest

from auditkit.report.exports import write_findings_csv, write_findings_parquet
from auditkit.report.html import write_report
from auditkit.report.period import Period
from auditkit.report.summary import summarize
from auditkit.safety import REDACTION_MARK
from tests.report.conftest import FORMULA_PAYLOAD, JWT_TOKEN

if TYPE_CHECKING:
    from pathlib import Path

    import duckdb


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_holds_every_finding_in_order(
    march_world: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "findings.csv"
    assert write_findings_csv(march_world, path) == 8
    rows = _csv_rows(path)
    assert [row["call_id"] for row in rows] == [f"c{n}" for n in range(1, 9)]


def test_csv_neutralizes_formula(
    march_world: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "findings.csv"
    write_findings_csv(march_world, path)
    c7 = next(row for row in _csv_rows(path) if row["call_id"] == "c7")
    assert c7["resource"] == "'" + FORMULA_PAYLOAD


def test_csv_redacts_token(
    march_world: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "findings.csv"
    write_findings_csv(march_world, path)
    text = path.read_text(encoding="utf-8")
    assert JWT_TOKEN not in text
    assert "eyJh" + REDACTION_MARK in text


def test_csv_formats_values(
    march_world: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "findings.csv"
    write_findings_csv(march_world, path)
    c8 = _csv_rows(path)[-1]
    assert c8["ts"] == "2026-03-04T07:00:00.000000Z"
    assert c8["flag_token_expired"] == "true"
    assert c8["audience"] == ""


def test_csv_period_is_half_open(
    march_world: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    period = Period.of("2026-03-02T08:00:00Z", "2026-03-03T13:00:00Z")
    path = tmp_path / "findings.csv"
    write_findings_csv(march_world, path, period)
    assert [row["call_id"] for row in _csv_rows(path)] == ["c4", "c5", "c6"]


def test_csv_empty_has_header(
    empty_world: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "findings.csv"
    assert write_findings_csv(empty_world, path) == 0
    assert path.read_text(encoding="utf-8").startswith("finding_id,call_id,ts,")


def test_parquet_round_trips_rows(
    march_world: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "findings.parquet"
    assert write_findings_parquet(march_world, path) == 8
    table = pq.read_table(path)
    assert table.num_rows == 8
    assert table.column("call_id").to_pylist()[-1] == "c8"
    assert JWT_TOKEN not in table.column("token_id").to_pylist()


def test_parquet_empty_keeps_columns(
    empty_world: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "findings.parquet"
    assert write_findings_parquet(empty_world, path) == 0
    assert "verdict" in pq.read_schema(path).names


def test_period_rejects_reversed_bounds() -> None:
    with pytest.raises(ValueError, match=r"until .* is not after since"):
        Period.of("2026-03-02", "2026-03-01")


def test_period_rejects_bad_instant() -> None:
    with pytest.raises(
        ValueError, match="field 'since': invalid timestamp 'yesterday'"
    ):
        Period.of("yesterday", None)


REPRODUCIBLE_FILES = (
    "findings.csv",
    "findings.parquet",
    "findings.ocsf.jsonl",
    "summary.json",
)


@pytest.mark.parametrize("name", REPRODUCIBLE_FILES)
def test_report_files_are_byte_identical_across_runs(
    march_reports: tuple[Path, Path], name: str
) -> None:
    first, second = march_reports
    assert (first / name).read_bytes() == (second / name).read_bytes()


def test_parquet_identical_across_batch_sizes(
    march_world: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from auditkit.report import exports

    write_findings_parquet(march_world, tmp_path / "a.parquet")
    monkeypatch.setattr(exports, "BATCH_ROWS", 3)
    monkeypatch.setattr(exports, "ROW_GROUP_ROWS", 5)
    write_findings_parquet(march_world, tmp_path / "b.parquet")
    monkeypatch.setattr(exports, "BATCH_ROWS", 2)
    write_findings_parquet(march_world, tmp_path / "c.parquet")
    assert pq.ParquetFile(tmp_path / "b.parquet").metadata.num_row_groups == 2
    assert (tmp_path / "b.parquet").read_bytes() == (
        tmp_path / "c.parquet"
    ).read_bytes()
    assert pq.read_table(tmp_path / "a.parquet").equals(
        pq.read_table(tmp_path / "b.parquet")
    )


def test_summary_counts(march_reports: tuple[Path, Path]) -> None:
    summary_path = march_reports[0] / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert summary["findings"] == 8
    assert summary["violations"] == 4
    assert summary["by_verdict"] == {
        "stale_authority": 2,
        "user_over_scope": 1,
        "agent_over_scope": 1,
        "indeterminate": 1,
        "within_scope": 3,
    }
    assert summary["by_severity"] == {
        "info": 2,
        "low": 2,
        "medium": 1,
        "high": 2,
        "critical": 1,
    }
    assert summary["by_flag"]["enforcement_gap"] == 3
    assert summary["stale_windows"]["count"] == 2
    assert [entry["source_file"] for entry in summary["inputs"]] == [
        "iam/grants.csv",
        "logs/calls.jsonl",
    ]


def test_summary_period(march_world: duckdb.DuckDBPyConnection) -> None:
    summary = summarize(march_world, Period.of("2026-03-01", "2026-03-04"))
    assert summary["findings"] == 7
    assert summary["stale_windows"]["count"] == 1
    assert summary["period"]["since"] == "2026-03-01T00:00:00.000000Z"
    assert summary["period"]["last_call_at"] == "2026-03-03T13:00:00.000000Z"


def test_manifest_records_inputs_and_versions(
    march_world: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    result = write_report(march_world, tmp_path / "out", since="2026-03-01")
    manifest = json.loads(result.manifest_json.read_text(encoding="utf-8"))
    assert [entry["sha256"] for entry in manifest["inputs"]] == ["a" * 64, "b" * 64]
    assert manifest["versions"]["duckdb"]
    assert manifest["versions"]["vl-convert-python"]
    assert manifest["parameters"]["since"] == "2026-03-01T00:00:00.000000Z"
    assert set(manifest["outputs"]) == {
        "report.html",
        "findings.csv",
        "findings.parquet",
        "findings.ocsf.jsonl",
        "summary.json",
    }
    assert manifest["generated_at"].endswith("Z")
