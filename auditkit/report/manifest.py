"""The manifest of a report: what went in, what came out, and with which software.

The manifest is the one output that carries the generation time, so the findings files
beside it stay byte-identical across reruns.
"""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditkit.report.period import table_exists
from auditkit.safety import clean_text

if TYPE_CHECKING:
    from collections.abc import Mapping

    import duckdb

# Distributions whose versions decide the content of a report.
RECORDED_DISTRIBUTIONS = (
    "auditkit",
    "duckdb",
    "pyarrow",
    "pandas",
    "pydantic",
    "altair",
    "vl-convert-python",
    "jinja2",
)


def package_versions() -> dict[str, str | None]:
    """Return the installed version of each distribution (``None`` if absent)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in RECORDED_DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def file_sha256(path: str | Path) -> str:
    """Return the hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def loaded_inputs(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Return every row of ``load_log``, with load times, in load order."""
    if not table_exists(con, "load_log"):
        return []
    relation = con.execute(
        "SELECT load_id, source_file, kind, sha256, rows_accepted, rows_quarantined, "
        "rows_duplicate, strftime(loaded_at, '%Y-%m-%dT%H:%M:%S.%fZ') AS loaded_at "
        "FROM load_log ORDER BY loaded_at, load_id"
    )
    names = [column[0] for column in relation.description]
    inputs = [dict(zip(names, row, strict=True)) for row in relation.fetchall()]
    for entry in inputs:
        entry["source_file"] = clean_text(entry["source_file"])
    return inputs


def build_manifest(
    con: duckdb.DuckDBPyConnection,
    *,
    parameters: Mapping[str, Any],
    outputs: Mapping[str, Path],
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """Return the manifest of a report.

    Parameters
    ----------
    con
        Connection to the workspace the report was built from.
    parameters
        The report's parameters (period, title, table sizes), as JSON values.
    outputs
        Name of each output (such as ``findings.csv``) to the written file; each is
        recorded with its size and sha256.
    generated_at
        Generation time; the current UTC time when ``None``.
    """
    instant = generated_at or datetime.now(UTC)
    return {
        "generated_at": instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "generator": "auditkit",
        "versions": package_versions(),
        "parameters": dict(parameters),
        "inputs": loaded_inputs(con),
        "outputs": {
            name: {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
            for name, path in sorted(outputs.items())
        },
    }


def write_json(path: str | Path, document: Mapping[str, Any]) -> None:
    """Write ``document`` as indented UTF-8 JSON with sorted keys and final newline."""
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
    Path(path).write_text(text + "\n", encoding="utf-8")
