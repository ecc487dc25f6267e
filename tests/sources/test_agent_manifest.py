"""Agent-scope manifests as exact agent grants and scope-change events."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from auditkit.errors import InputError
from auditkit.sources.agent_manifest import manifest_entitlements, read_manifests

if TYPE_CHECKING:
    from pathlib import Path

VERSION_ONE = """\
agent: support-bot
version: 1
changed_by: dana@example.com
changed_at: 2026-03-01T08:00:00Z
allow:
  - actions: [crm:ReadTicket, crm:SearchTickets]
    resources: "crm:ticket/*"
  - tools: [send_email]
deny:
  - actions: "crm:Delete*"
"""
VERSION_TWO = """\
{"agent": "support-bot", "version": "2", "changed_at": "2026-03-05T08:00:00Z",
 "allow": [{"actions": "crm:ReadTicket", "resources": ["crm:ticket/*"]}]}
"""
CATALOG = {"send_email": "mail:Send"}


@pytest.fixture
def manifest_folder(tmp_path: Path) -> Path:
    """A folder with two versions of one agent's manifest, YAML and JSON."""
    (tmp_path / "support-bot-v1.yaml").write_text(VERSION_ONE, encoding="utf-8")
    (tmp_path / "support-bot-v2.json").write_text(VERSION_TWO, encoding="utf-8")
    return tmp_path


def test_versions_give_exact_intervals(manifest_folder: Path) -> None:
    built = manifest_entitlements(
        read_manifests([manifest_folder], tool_actions=CATALOG)
    )
    first = [
        g for g in built.grants if g["grant_id"].startswith("manifest:support-bot:1")
    ]

    assert len(first) == 4
    assert {g["valid_to"] for g in first} == {"2026-03-05T08:00:00Z"}


def test_tool_entry_uses_catalog_action(manifest_folder: Path) -> None:
    built = manifest_entitlements(
        read_manifests([manifest_folder], tool_actions=CATALOG)
    )

    assert ("mail:Send", "*") in {(g["action"], g["resource"]) for g in built.grants}


def test_deny_defaults_to_any_resource(manifest_folder: Path) -> None:
    built = manifest_entitlements(
        read_manifests([manifest_folder], tool_actions=CATALOG)
    )
    deny = next(g for g in built.grants if g["effect"] == "deny")

    assert deny["resource"] == "*"


def test_last_version_open_and_events(manifest_folder: Path) -> None:
    built = manifest_entitlements(
        read_manifests([manifest_folder], tool_actions=CATALOG)
    )
    last = [
        g for g in built.grants if g["grant_id"].startswith("manifest:support-bot:2")
    ]

    assert [g["valid_to"] for g in last] == [None]
    assert [e["event_type"] for e in built.events] == ["scope_changed", "scope_changed"]


def test_unknown_tool_rejected(manifest_folder: Path) -> None:
    with pytest.raises(InputError, match="tool 'send_email' is not in the catalog"):
        read_manifests([manifest_folder / "support-bot-v1.yaml"])


def test_missing_changed_at_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text("agent: bot\nversion: 1\nallow: []\n", encoding="utf-8")

    with pytest.raises(InputError, match="changed_at"):
        read_manifests([path])


def test_shared_instant_rejected(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(VERSION_TWO, encoding="utf-8")
    (tmp_path / "b.json").write_text(
        VERSION_TWO.replace('"2"', '"3"'), encoding="utf-8"
    )

    with pytest.raises(InputError, match="share changed_at"):
        manifest_entitlements(read_manifests([tmp_path]))
