"""The canonical format: records already shaped like auditkit's input models.

Besides the identity adapter, this module renders what documents the format: the
JSON Schema files under ``auditkit/schemas/`` and the field tables of
``docs/inputs.md``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditkit.errors import InputError
from auditkit.models import INPUT_MODELS, InputKind

if TYPE_CHECKING:
    from collections.abc import Iterator

    from auditkit.sources.base import RawRecord

FORMAT_NAME = "canonical"
SCHEMA_FOLDER = Path(__file__).resolve().parent.parent / "schemas"

_FIELD_TABLE = re.compile(
    r"(<!-- fields: (?P<kind>\w+) -->\n).*?(<!-- end fields -->)", re.DOTALL
)


@dataclass(frozen=True)
class CanonicalAdapter:
    """Identity adapter for one input kind: each JSON object is one record.

    Examples
    --------
    >>> from auditkit.sources.base import RawRecord
    >>> adapter = CanonicalAdapter(InputKind.CALLS)
    >>> list(adapter.map(RawRecord("calls.jsonl", 1, {"call_id": "c1"})))
    [{'call_id': 'c1'}]
    """

    kind: InputKind
    name: str = FORMAT_NAME

    def detect(self, sample: Any) -> bool:
        """Return whether ``sample`` is an object holding every required field."""
        if not isinstance(sample, dict):
            return False
        model = INPUT_MODELS[self.kind]
        required = {
            name for name, field in model.model_fields.items() if field.is_required()
        }
        return required <= sample.keys()

    def map(self, record: RawRecord) -> Iterator[dict[str, Any]]:
        """Yield the record's object unchanged.

        Raises
        ------
        InputError
            If the record is not a JSON object.
        """
        value = record.value
        if not isinstance(value, dict):
            reason = f"expected a JSON object, got {_json_type(value)}"
            raise InputError(reason, path=record.path, line=record.line)
        yield value


# Registered by auditkit.sources.registry, one adapter per input kind.
ADAPTERS: tuple[CanonicalAdapter, ...] = tuple(
    CanonicalAdapter(kind) for kind in InputKind
)


def input_json_schema(kind: InputKind) -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of one canonical input kind.

    Examples
    --------
    >>> input_json_schema(InputKind.COVERAGE)["required"]
    ['coverage_id', 'valid_from']
    """
    schema = INPUT_MODELS[kind].model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
    }


def render_json_schema(kind: InputKind) -> str:
    """Return the text of ``auditkit/schemas/<kind>.json``."""
    return json.dumps(input_json_schema(kind), indent=2, ensure_ascii=False) + "\n"


def write_schemas(folder: str | Path = SCHEMA_FOLDER) -> list[Path]:
    """Write one JSON Schema file per input kind into ``folder``.

    Returns
    -------
    list of Path
        The files written, in the order of :class:`InputKind`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in InputKind:
        path = folder / f"{kind.value}.json"
        path.write_text(render_json_schema(kind), encoding="utf-8")
        written.append(path)
    return written


def field_table(kind: InputKind) -> str:
    """Return the Markdown table of a kind's fields: name, type, required, meaning.

    Examples
    --------
    >>> print(field_table(InputKind.COVERAGE).splitlines()[2])
    | `coverage_id` | non-empty string | yes | Unique id of the span. |
    """
    schema = input_json_schema(kind)
    required = set(schema.get("required", []))
    definitions = schema.get("$defs", {})
    rows = ["| field | type | required | meaning |", "| --- | --- | --- | --- |"]
    for name, prop in schema["properties"].items():
        type_text = _type_text(prop, definitions)
        needed = "yes" if name in required else "no"
        meaning = prop.get("description", "").replace("|", "\\|")
        rows.append(f"| `{name}` | {type_text} | {needed} | {meaning} |")
    return "\n".join(rows) + "\n"


def update_field_tables(text: str) -> str:
    """Replace every ``<!-- fields: KIND -->`` block of ``text`` with a fresh table.

    A block runs from the marker line to the line ``<!-- end fields -->``.
    """

    def replace(match: re.Match[str]) -> str:
        table = field_table(InputKind(match["kind"]))
        return f"{match[1]}\n{table}\n{match[3]}"

    return _FIELD_TABLE.sub(replace, text)


def _type_text(prop: dict[str, Any], definitions: dict[str, Any]) -> str:
    variants = prop.get("anyOf", [prop])
    texts = [_variant_text(variant, definitions) for variant in variants]
    return " or ".join(text for text in texts if text != "null")


def _variant_text(variant: dict[str, Any], definitions: dict[str, Any]) -> str:
    reference = variant.get("$ref")
    if reference is not None:
        definition = definitions[reference.rsplit("/", 1)[-1]]
        return "one of " + ", ".join(f"`{value}`" for value in definition["enum"])
    json_type = variant.get("type", "any")
    if json_type == "string" and variant.get("format") == "date-time":
        return "timestamp"
    if json_type == "string" and variant.get("minLength", 0) > 0:
        return "non-empty string"
    if json_type == "array":
        return f"array of {_variant_text(variant.get('items', {}), definitions)}"
    if json_type == "object":
        return "object"
    return str(json_type)


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    for python_type, name in names.items():
        if isinstance(value, python_type):
            return name
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__
