"""Generated files (JSON Schemas, docs/inputs.md field tables) match the models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditkit.models import InputKind
from auditkit.sources.canonical import (
    SCHEMA_FOLDER,
    field_table,
    render_json_schema,
    update_field_tables,
)

INPUTS_DOC = Path(__file__).resolve().parents[2] / "docs" / "inputs.md"
REGENERATE = (
    "regenerate with: python -c 'from auditkit.sources.canonical import write_schemas,"
    " update_field_tables as u; import pathlib; write_schemas();"
    ' p = pathlib.Path("docs/inputs.md"); p.write_text(u(p.read_text()))\''
)


@pytest.mark.parametrize("kind", list(InputKind))
def test_schema_file_current(kind: InputKind) -> None:
    stored = (SCHEMA_FOLDER / f"{kind.value}.json").read_text(encoding="utf-8")

    assert stored == render_json_schema(kind), REGENERATE


def test_schema_requires_key_fields() -> None:
    schema = json.loads((SCHEMA_FOLDER / "calls.json").read_text(encoding="utf-8"))

    assert schema["required"] == ["call_id", "ts", "tool"]


def test_inputs_doc_current() -> None:
    text = INPUTS_DOC.read_text(encoding="utf-8")

    assert update_field_tables(text) == text, REGENERATE


@pytest.mark.parametrize("kind", list(InputKind))
def test_inputs_doc_has_every_kind(kind: InputKind) -> None:
    text = INPUTS_DOC.read_text(encoding="utf-8")

    assert field_table(kind) in text


def test_field_table_escapes_pipes() -> None:
    assert "\\|" not in field_table(InputKind.CALLS)
