"""A straightforward pandas evaluation to compare the engine with.

For each call it asks whether the user (through group memberships, cut at the
user's deactivation) and the agent (through direct grants) held the tool's
permission at the call's instant. Grants are expanded to the catalog's
permissions with fnmatch, intervals per (principal, tool) are coalesced, and two
``merge_asof`` joins find the interval in force at each call. It checks far fewer
rules than the engine (no denies, conditions, coverage, tokens or drift), so it is
a lower bound on what a pandas implementation would cost.
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from pathlib import Path

FAR_FUTURE = pd.Timestamp("2200-01-01", tz="UTC")


def run_baseline(calls_path: Path, entitlements: Path, out: Path) -> dict[str, int]:
    """Compute user and agent holding per call and write them to ``out`` (Parquet)."""
    calls = pd.read_parquet(
        calls_path, columns=["call_id", "ts", "tool", "subject", "actor"]
    )
    catalog = pd.read_parquet(entitlements / "catalog.parquet")
    grants = pd.read_parquet(entitlements / "grants.parquet")
    memberships = pd.read_parquet(entitlements / "memberships.parquet")
    events = pd.read_parquet(entitlements / "events.parquet")

    permissions = _grant_tools(grants, catalog)
    user_intervals = _user_intervals(permissions, memberships, events)
    agent_intervals = _coalesce(
        permissions[permissions["principal_type"] == "agent"].rename(
            columns={"principal_id": "principal"}
        )[["principal", "tool", "valid_from", "valid_to"]]
    )

    calls = calls.sort_values("ts", kind="stable")
    calls["user_held"] = _held(calls, "subject", user_intervals)
    calls["agent_held"] = _held(calls, "actor", agent_intervals)
    calls[["call_id", "user_held", "agent_held"]].to_parquet(out, index=False)
    return {
        "calls": len(calls),
        "within_scope": int((calls["user_held"] & calls["agent_held"]).sum()),
    }


def _grant_tools(grants: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    resources = catalog["resource_template"].str.replace("{doc}", "x", regex=False)
    rows = []
    for grant in grants.itertuples(index=False):
        for tool, action, resource in zip(
            catalog["tool"], catalog["action"], resources, strict=True
        ):
            if fnmatch.fnmatchcase(action, grant.action) and fnmatch.fnmatchcase(
                resource, grant.resource
            ):
                rows.append(
                    (
                        grant.principal_type,
                        grant.principal_id,
                        tool,
                        grant.valid_from,
                        grant.valid_to,
                    )
                )
    columns = ["principal_type", "principal_id", "tool", "valid_from", "valid_to"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["valid_to"] = frame["valid_to"].fillna(FAR_FUTURE)
    return frame


def _user_intervals(
    permissions: pd.DataFrame, memberships: pd.DataFrame, events: pd.DataFrame
) -> pd.DataFrame:
    groups = permissions[permissions["principal_type"] == "group"]
    members = memberships.assign(valid_to=memberships["valid_to"].fillna(FAR_FUTURE))
    joined = members.merge(
        groups, left_on="parent_id", right_on="principal_id", suffixes=("_m", "_g")
    )
    joined["valid_from"] = joined[["valid_from_m", "valid_from_g"]].max(axis=1)
    joined["valid_to"] = joined[["valid_to_m", "valid_to_g"]].min(axis=1)
    leaves = events.groupby("principal_id")["ts"].min()
    left_at = joined["member_id"].map(leaves).fillna(FAR_FUTURE)
    joined["valid_to"] = joined["valid_to"].where(joined["valid_to"] < left_at, left_at)
    joined = joined[joined["valid_from"] < joined["valid_to"]]
    frame = joined.rename(columns={"member_id": "principal"})
    return _coalesce(frame[["principal", "tool", "valid_from", "valid_to"]])


def _coalesce(intervals: pd.DataFrame) -> pd.DataFrame:
    ordered = intervals.sort_values(["principal", "tool", "valid_from"]).reset_index(
        drop=True
    )
    key = ordered["principal"] + "\x00" + ordered["tool"]
    reach = ordered.groupby(key)["valid_to"].cummax()
    previous_reach = reach.groupby(key).shift()
    starts = previous_reach.isna() | (ordered["valid_from"] > previous_reach)
    block = starts.cumsum()
    merged = ordered.groupby(block).agg(
        principal=("principal", "first"),
        tool=("tool", "first"),
        valid_from=("valid_from", "first"),
        valid_to=("valid_to", "max"),
    )
    return merged.reset_index(drop=True)


def _held(calls: pd.DataFrame, side: str, intervals: pd.DataFrame) -> pd.Series:
    right = intervals.sort_values("valid_from", kind="stable")
    matched = pd.merge_asof(
        calls[["ts", side, "tool"]],
        right,
        left_on="ts",
        right_on="valid_from",
        left_by=[side, "tool"],
        right_by=["principal", "tool"],
    )
    held = matched["valid_to"].notna() & (matched["ts"] < matched["valid_to"])
    return pd.Series(held.to_numpy(), index=calls.index)
