from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from auditkit.errors import InputError
from auditkit.models import Outcome
from auditkit.sources.base import RawRecord
from auditkit.sources.mapping import MappingAdapter, parse_path

if TYPE_CHECKING:
    from pathlib import Path

GATEWAY_MAPPING = """
name: ticket_gateway
fields:
  call_id: event.id
  ts: {path: event.time, format: "%d/%m/%Y %H:%M:%S", timezone: Europe/Paris}
  tool: 'event["tool.name"]'
  subject: auth.users[0]
  actor: {const: triage-agent}
  arguments: event.args
  outcome: {path: event.status, values: {"200": allowed, "403": denied}}
"""


@pytest.fixture
def gateway_adapter(tmp_path: Path) -> MappingAdapter:
    path = tmp_path / "gateway.yaml"
    path.write_text(GATEWAY_MAPPING, encoding="utf-8")
    return MappingAdapter.from_file(path)


@pytest.fixture
def gateway_line() -> dict[str, Any]:
    return {
        "event": {
            "id": 77,
            "time": "01/03/2026 09:00:00",
            "tool.name": "close_ticket",
            "args": '{"ticket": 7}',
            "status": 403,
        },
        "auth": {"users": ["alice", "bob"]},
    }


def _map(adapter: MappingAdapter, value: Any) -> dict[str, Any]:
    (call,) = adapter.map(RawRecord("gateway.jsonl", 1, value))
    return call


def test_yaml_mapping_maps_record(
    gateway_adapter: MappingAdapter, gateway_line: dict[str, Any]
) -> None:
    call = _map(gateway_adapter, gateway_line)
    assert call["call_id"] == "77"
    assert call["tool"] == "close_ticket"
    assert call["subject"] == "alice"
    assert call["actor"] == "triage-agent"
    assert call["arguments"] == {"ticket": 7}
    assert call["outcome"] is Outcome.DENIED


def test_unknown_outcome_rejected(
    gateway_adapter: MappingAdapter, gateway_line: dict[str, Any]
) -> None:
    gateway_line["event"]["status"] = 500
    with pytest.raises(InputError, match="invalid outcome 500"):
        _map(gateway_adapter, gateway_line)


def test_strptime_format_with_zone(
    gateway_adapter: MappingAdapter, gateway_line: dict[str, Any]
) -> None:
    assert _map(gateway_adapter, gateway_line)["ts"] == "2026-03-01T08:00:00Z"


def test_mapping_name_from_file(gateway_adapter: MappingAdapter) -> None:
    assert gateway_adapter.name == "ticket_gateway"
    assert gateway_adapter.detect({"event": {}}) is False


def test_csv_columns_with_epoch_time() -> None:
    adapter = MappingAdapter(
        {
            "fields": {
                "call_id": {"column": "call.id"},
                "ts": {"column": "epoch", "format": "epoch_s"},
                "tool": {"column": "tool"},
                "subject": {"column": "user", "default": "unknown"},
            }
        }
    )
    row = {"call.id": "c1", "epoch": "1772352000", "tool": "search", "user": ""}
    call = _map(adapter, row)
    assert call["call_id"] == "c1"
    assert call["ts"] == "2026-03-01T08:00:00Z"
    assert call["subject"] == "unknown"


def test_unmapped_call_id_is_content_hash() -> None:
    adapter = MappingAdapter({"fields": {"ts": "t", "tool": "n"}})
    call = _map(adapter, {"t": "2026-03-01T08:00:00Z", "n": "search"})
    assert call["call_id"].startswith("mapped-")


def test_path_with_index_and_quoted_key() -> None:
    assert parse_path("a[1]['b.c'].d") == ("a", 1, "b.c", "d")


def test_invalid_path_rejected() -> None:
    with pytest.raises(InputError, match="invalid path 'a\\[x\\]'"):
        MappingAdapter({"fields": {"ts": "a[x]", "tool": "n"}})


def test_unknown_field_rejected() -> None:
    with pytest.raises(InputError, match="field 'user': unknown field 'user'"):
        MappingAdapter({"fields": {"ts": "t", "tool": "n", "user": "u"}})


def test_required_field_must_be_mapped() -> None:
    with pytest.raises(InputError, match="the field 'tool' must be mapped"):
        MappingAdapter({"fields": {"ts": "t"}})


def test_missing_value_rejected() -> None:
    adapter = MappingAdapter({"fields": {"ts": "t", "tool": "n"}})
    with pytest.raises(InputError, match="mapped value for 'tool' is missing"):
        _map(adapter, {"t": "2026-03-01T08:00:00Z"})


def test_time_without_zone_rejected() -> None:
    adapter = MappingAdapter(
        {"fields": {"ts": {"path": "t", "format": "%Y"}, "tool": "n"}}
    )
    with pytest.raises(InputError, match="has no time zone"):
        _map(adapter, {"t": "2026", "n": "x"})


def test_rows_are_canonical(
    gateway_adapter: MappingAdapter, gateway_line: dict[str, Any], validated: Any
) -> None:
    assert len(validated([_map(gateway_adapter, gateway_line)])) == 1
