"""The source formats auditkit can load, and how a format is detected from a sample.

Each module in ``ADAPTER_MODULES`` defines ``ADAPTERS``, a sequence of objects that
follow :class:`auditkit.sources.base.Adapter`. Adding a format takes one line here:
the name of its module.

``ADAPTERS`` below maps a format name to its adapter. A format with one adapter per
input kind (``canonical`` is one) is keyed ``name:kind``, such as ``canonical:calls``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from auditkit.errors import InputError
from auditkit.sources.canonical import FORMAT_NAME as CANONICAL

if TYPE_CHECKING:
    from auditkit.models import InputKind
    from auditkit.sources.base import Adapter

# Detection tries these in order, and canonical after all others.
ADAPTER_MODULES: list[str] = [
    "auditkit.sources.otel",
    "auditkit.sources.mcp",
    "auditkit.sources.cloudtrail",
    "auditkit.sources.gcp",
    "auditkit.sources.okta",
    "auditkit.sources.canonical",
]


def _build_registry(module_names: list[str]) -> dict[str, Adapter]:
    adapters: list[Adapter] = []
    for module_name in module_names:
        module = importlib.import_module(module_name)
        adapters.extend(module.ADAPTERS)

    names = [adapter.name for adapter in adapters]
    registry: dict[str, Adapter] = {}
    for adapter in adapters:
        key = adapter.name
        if names.count(adapter.name) > 1:
            key = f"{adapter.name}:{adapter.kind.value}"
        if key in registry:
            message = f"two adapters are registered as {key!r}"
            raise ValueError(message)
        registry[key] = adapter
    return registry


ADAPTERS: dict[str, Adapter] = _build_registry(ADAPTER_MODULES)


def format_names() -> list[str]:
    """Return the distinct format names, in registration order.

    Examples
    --------
    >>> "canonical" in format_names()
    True
    """
    names: list[str] = []
    for adapter in ADAPTERS.values():
        if adapter.name not in names:
            names.append(adapter.name)
    return names


def get_adapter(format_name: str, kind: InputKind | None = None) -> Adapter:
    """Return the adapter of a format, for ``kind`` when the format has one per kind.

    Raises
    ------
    InputError
        If no such format is registered, or the format needs a kind and none is given.

    Examples
    --------
    >>> from auditkit.models import InputKind
    >>> get_adapter("canonical", InputKind.GRANTS).kind
    <InputKind.GRANTS: 'grants'>
    """
    if kind is not None and f"{format_name}:{kind.value}" in ADAPTERS:
        return ADAPTERS[f"{format_name}:{kind.value}"]
    if format_name in ADAPTERS:
        return ADAPTERS[format_name]

    if format_name in format_names():
        kinds = [
            key.split(":", 1)[1]
            for key in ADAPTERS
            if key.startswith(f"{format_name}:")
        ]
        reason = f"format {format_name!r} has no adapter for kind {_kind_text(kind)}"
        hint = f"pass kind= with one of: {', '.join(kinds)}"
        raise InputError(reason, hint=hint)
    reason = f"unknown format {format_name!r}"
    raise InputError(reason, hint=f"use one of: {', '.join(format_names())}")


def detect_adapter(sample: Any, kind: InputKind | None = None) -> Adapter | None:
    """Return the first adapter whose ``detect`` accepts ``sample``, or ``None``.

    Specific formats are tried before canonical, in registration order. With
    ``kind``, only adapters of that kind are tried.
    """
    candidates = [
        adapter for adapter in ADAPTERS.values() if kind in (None, adapter.kind)
    ]
    specific = [adapter for adapter in candidates if adapter.name != CANONICAL]
    canonical = [adapter for adapter in candidates if adapter.name == CANONICAL]
    for adapter in [*specific, *canonical]:
        if adapter.detect(sample):
            return adapter
    return None


def detect_format(sample: Any) -> str | None:
    """Return the name of the format a decoded sample record is in, or ``None``.

    Examples
    --------
    >>> detect_format({"coverage_id": "c1", "valid_from": "2026-03-01T00:00:00Z"})
    'canonical'
    >>> detect_format(["not", "a", "record"]) is None
    True
    """
    adapter = detect_adapter(sample)
    return None if adapter is None else adapter.name


def _kind_text(kind: InputKind | None) -> str:
    return "(none given)" if kind is None else repr(kind.value)
