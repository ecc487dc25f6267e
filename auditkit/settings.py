"""One settings object; an ``AUDITKIT_`` environment variable sets each field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings of a workspace and its evaluation.

    Environment variables: ``AUDITKIT_WORKSPACE``, ``AUDITKIT_DEFAULT_TIMEZONE``,
    ``AUDITKIT_MEMORY_LIMIT``, ``AUDITKIT_THREADS``,
    ``AUDITKIT_CASE_SENSITIVE_ACTION_NAMESPACES`` (a JSON list),
    ``AUDITKIT_SNAPSHOT_STALENESS`` (seconds or an ISO 8601 duration),
    ``AUDITKIT_SPARK_MASTER``.
    """

    model_config = SettingsConfigDict(env_prefix="AUDITKIT_", frozen=True)

    workspace: Path = Field(
        default=Path("auditkit.duckdb"),
        description="Path of the DuckDB workspace file.",
    )
    default_timezone: str | None = Field(
        default=None,
        description="IANA zone for input timestamps written without an offset; "
        "unset rejects such timestamps.",
    )
    memory_limit: str | None = Field(
        default=None,
        description="DuckDB memory_limit, such as '1GB'; unset keeps DuckDB's.",
    )
    threads: int | None = Field(
        default=None, description="DuckDB threads; unset keeps DuckDB's default."
    )
    case_sensitive_action_namespaces: tuple[str, ...] = Field(
        default=(),
        description="Action namespaces (text before the first ':') compared "
        "case-sensitively; all others compare case-insensitively, as IAM does.",
    )
    snapshot_staleness: timedelta = Field(
        default=timedelta(days=1),
        description="How long the last entitlement snapshot of a series is taken to "
        "hold: coverage ends this long after it.",
    )
    spark_master: str = Field(
        default="local[2]",
        description="Spark master URL of the Spark engine: local[N] runs on this "
        "machine (bound to 127.0.0.1), spark://host:port, yarn or k8s://... a cluster.",
    )
