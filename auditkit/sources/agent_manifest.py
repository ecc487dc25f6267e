"""Agent-scope manifests: one YAML or JSON file per agent and version.

For platforms that keep agent configuration in files. A manifest reads::

    agent: support-bot
    version: 3
    changed_by: dana@example.com
    changed_at: 2026-03-01T08:00:00Z
    allow:
      - actions: [crm:ReadTicket, crm:SearchTickets]
        resources: ["crm:ticket/*"]
      - tools: [send_email]
    deny:
      - actions: ["crm:Delete*"]
        resources: ["*"]

Each ``allow`` and ``deny`` entry gives one grant per (action, resource) pair of its
``actions`` and ``resources`` (a string counts as a list of one; ``resources``
defaults to ``*``). A ``tools`` entry grants each tool's catalog action on resource
``*``, so it needs the tool catalog.

``changed_at`` is exact: a version's grants hold from its ``changed_at`` to the next
version's of the same agent (the last version stays open), and each version also
gives a ``scope_changed`` event. Two versions of one agent at the same instant are
rejected.
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from auditkit.errors import InputError
from auditkit.models.timestamps import parse_instant
from auditkit.sources.adapter_support import format_utc

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

logger = logging.getLogger(__name__)

Record = dict[str, Any]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class AgentManifest:
    """One version of one agent's scope."""

    agent: str
    version: str
    changed_at: datetime
    changed_by: str | None
    allow: tuple[tuple[str, str], ...]
    deny: tuple[tuple[str, str], ...]
    source: str


@dataclass
class ManifestEntitlements:
    """Grants and scope-change events built from manifests."""

    grants: list[Record] = field(default_factory=list)
    events: list[Record] = field(default_factory=list)


def parse_manifest(
    value: Any,
    *,
    path: str = "<manifest>",
    tool_actions: Mapping[str, str] | None = None,
) -> AgentManifest:
    """Validate one decoded manifest.

    Parameters
    ----------
    value
        The decoded YAML or JSON document.
    path
        Where it came from, for error messages.
    tool_actions
        Tool name to catalog action, for ``tools`` entries.

    Raises
    ------
    InputError
        If a required field is missing or invalid, or a tool is not in the catalog.

    Examples
    --------
    >>> manifest = parse_manifest({
    ...     "agent": "bot", "version": 1, "changed_at": "2026-03-01T08:00:00Z",
    ...     "allow": [{"actions": "crm:Read*", "resources": ["crm:ticket/*"]}]})
    >>> manifest.allow
    (('crm:Read*', 'crm:ticket/*'),)
    """
    if not isinstance(value, dict):
        raise InputError("a manifest must be a mapping", path=path)
    agent = _required_text(value, "agent", path)
    version = _required_text(value, "version", path)
    try:
        changed_at = parse_instant(value.get("changed_at"))
    except ValueError as error:
        raise InputError(str(error), path=path, field="changed_at") from None
    return AgentManifest(
        agent=agent,
        version=version,
        changed_at=changed_at,
        changed_by=None
        if value.get("changed_by") is None
        else str(value["changed_by"]),
        allow=_pairs(value.get("allow"), "allow", path, tool_actions),
        deny=_pairs(value.get("deny"), "deny", path, tool_actions),
        source=path,
    )


def read_manifests(
    paths: Iterable[str | Path], *, tool_actions: Mapping[str, str] | None = None
) -> list[AgentManifest]:
    """Read manifest files, or every ``.yaml``, ``.yml`` and ``.json`` in folders."""
    manifests = []
    for path in _manifest_files(paths):
        text = path.read_text(encoding="utf-8")
        try:
            value = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as error:
            reason = f"invalid manifest: {error}"
            raise InputError(reason, path=path) from None
        manifests.append(
            parse_manifest(value, path=str(path), tool_actions=tool_actions)
        )
    return manifests


def manifest_entitlements(manifests: Iterable[AgentManifest]) -> ManifestEntitlements:
    """Turn manifest versions into agent grants and ``scope_changed`` events.

    Examples
    --------
    >>> from datetime import datetime
    >>> first = AgentManifest("bot", "1", datetime(2026, 3, 1), None,
    ...                       (("crm:Read", "*"),), (), "m1.yaml")
    >>> second = AgentManifest(
    ...     "bot", "2", datetime(2026, 3, 5), None, (), (), "m2.yaml")
    >>> built = manifest_entitlements([first, second])
    >>> built.grants[0]["valid_from"], built.grants[0]["valid_to"]
    ('2026-03-01T00:00:00Z', '2026-03-05T00:00:00Z')
    """
    by_agent: dict[str, list[AgentManifest]] = {}
    for manifest in manifests:
        by_agent.setdefault(manifest.agent, []).append(manifest)
    built = ManifestEntitlements()
    for agent in sorted(by_agent):
        versions = sorted(by_agent[agent], key=lambda manifest: manifest.changed_at)
        _reject_shared_instants(versions)
        ends = [v.changed_at for v in versions[1:]] + [None]
        for manifest, end in zip(versions, ends, strict=True):
            built.grants += _version_grants(manifest, end)
            built.events.append(_scope_event(manifest))
    return built


def _version_grants(manifest: AgentManifest, end: datetime | None) -> list[Record]:
    grants = []
    pairs = [("allow", pair) for pair in manifest.allow]
    pairs += [("deny", pair) for pair in manifest.deny]
    for number, (effect, (action, resource)) in enumerate(pairs, start=1):
        grants.append(
            {
                "grant_id": f"manifest:{manifest.agent}:{manifest.version}:{number}",
                "principal_type": "agent",
                "principal_id": manifest.agent,
                "effect": effect,
                "action": action,
                "resource": resource,
                "valid_from": format_utc(manifest.changed_at),
                "valid_to": None if end is None else format_utc(end),
                "changed_by": manifest.changed_by,
            }
        )
    return grants


def _scope_event(manifest: AgentManifest) -> Record:
    return {
        "event_id": f"manifest:{manifest.agent}:{manifest.version}",
        "ts": format_utc(manifest.changed_at),
        "principal_type": "agent",
        "principal_id": manifest.agent,
        "event_type": "scope_changed",
        "changed_by": manifest.changed_by,
        "detail": f"version {manifest.version} from {manifest.source}",
    }


def _reject_shared_instants(versions: list[AgentManifest]) -> None:
    for first, second in itertools.pairwise(versions):
        if first.changed_at == second.changed_at:
            reason = (
                f"versions {first.version!r} and {second.version!r} of agent "
                f"{first.agent!r} share changed_at {format_utc(first.changed_at)}"
            )
            raise InputError(reason, path=second.source, field="changed_at")


def _required_text(value: dict[str, Any], name: str, path: str) -> str:
    found = value.get(name)
    if found is None or str(found) == "" or isinstance(found, dict | list):
        raise InputError(f"missing {name}", path=path, field=name)
    return str(found)


def _texts(value: Any, name: str, path: str) -> list[str]:
    if isinstance(value, str) and value:
        return [value]
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, str) and v for v in value)
    ):
        return list(value)
    raise InputError(
        f"{name} must be a non-empty string or list", path=path, field=name
    )


def _pairs(
    entries: Any,
    name: str,
    path: str,
    tool_actions: Mapping[str, str] | None,
) -> tuple[tuple[str, str], ...]:
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise InputError(f"{name} must be a list of entries", path=path, field=name)
    pairs: list[tuple[str, str]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise InputError(
                f"each {name} entry must be a mapping", path=path, field=name
            )
        if "tools" in entry:
            pairs += _tool_pairs(entry["tools"], f"{name}.tools", path, tool_actions)
            continue
        actions = _texts(entry.get("actions"), f"{name}.actions", path)
        resources = _texts(entry.get("resources", "*"), f"{name}.resources", path)
        pairs += [(action, resource) for action in actions for resource in resources]
    return tuple(pairs)


def _tool_pairs(
    tools: Any, name: str, path: str, tool_actions: Mapping[str, str] | None
) -> list[tuple[str, str]]:
    pairs = []
    for tool in _texts(tools, name, path):
        if tool_actions is None or tool not in tool_actions:
            reason = f"tool {tool!r} is not in the catalog"
            hint = "pass the tool catalog, or list actions and resources instead"
            raise InputError(reason, path=path, field=name, hint=hint)
        pairs.append((tool_actions[tool], "*"))
    return pairs


def _manifest_files(paths: Iterable[str | Path]) -> list[Path]:
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            found = [
                p for p in sorted(path.rglob("*")) if p.suffix in MANIFEST_SUFFIXES
            ]
            files += [p for p in found if p.is_file()]
        else:
            files.append(path)
    return files
