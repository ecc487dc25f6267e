"""The notebook and CLI entry point: a workspace that also evaluates and explains."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from auditkit.analysis.drift import DriftReport, analyze_drift
from auditkit.analysis.explain import Explanation, explain_call
from auditkit.analysis.findings import FindingFilter, require_findings, select_findings
from auditkit.analysis.reconstruct import ReconstructionScope, reconstruct
from auditkit.evaluate import EvaluationSummary, evaluate
from auditkit.models import Flag, Severity, Verdict
from auditkit.models.timestamps import parse_instant
from auditkit.report.html import ReportResult, write_report
from auditkit.workspace import Workspace

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    import pandas as pd
    from pyspark.sql import SparkSession


class AuditWorkspace(Workspace):
    """A workspace with the evaluation and review steps as methods.

    ``auditkit.open(path)`` returns one. Every method returns data (DataFrames or
    objects that render themselves in Jupyter) and prints nothing.
    """

    def evaluate(
        self,
        *,
        engine: str = "duckdb",
        spark: SparkSession | None = None,
        staging: str | Path | None = None,
        full: bool = False,
    ) -> EvaluationSummary:
        """Evaluate the loaded calls, replacing the findings and windows tables.

        Parameters
        ----------
        engine
            ``"duckdb"`` (in this process) or ``"spark"`` (the same SQL, translated,
            on Apache Spark; see ``docs/spark.md``). Both give the same findings.
        spark
            The Spark session to run on; a local one on 127.0.0.1 when not given.
        staging
            Where the Spark engine writes its Parquet inputs and results; a
            temporary folder when not given.
        full
            Evaluate every call. By default DuckDB re-evaluates only the calls that
            new loads and entitlement changes can touch, with the same findings as
            a full run (see ``docs/incremental.md``); Spark always runs in full.
        """
        if engine == "duckdb":
            return evaluate(self.connection, self.settings, incremental=not full)
        if engine == "spark":
            # PySpark is an optional extra: imported only when Spark is asked for.
            from auditkit.evaluate.spark import (  # noqa: PLC0415
                evaluate_workspace,
                spark_session,
            )

            session = spark or spark_session(self.settings.spark_master)
            return evaluate_workspace(
                self.connection, session, self.settings, staging=staging
            )
        message = f"unknown engine {engine!r}: use 'duckdb' or 'spark'"
        raise ValueError(message)

    def findings(
        self,
        *,
        verdict: str | Iterable[str] | None = None,
        flag: str | Iterable[str] | None = None,
        user: str | None = None,
        agent: str | None = None,
        tool: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        min_severity: str | None = None,
    ) -> pd.DataFrame:
        """Return the findings matching every given condition, by time.

        Parameters
        ----------
        verdict, flag
            One code or several (see :class:`auditkit.models.Verdict` and
            :class:`auditkit.models.Flag`).
        user, agent, tool
            Exact subject, actor or tool name.
        since, until
            Time bounds, inclusive and exclusive; strings need an offset.
        min_severity
            Keep findings at or above this severity.
        """
        spec = FindingFilter(
            verdict=tuple(Verdict(value) for value in _codes(verdict)),
            flag=tuple(Flag(value) for value in _codes(flag)),
            user=user,
            agent=agent,
            tool=tool,
            since=_instant(since),
            until=_instant(until),
            min_severity=Severity(min_severity) if min_severity else None,
        )
        return select_findings(self.connection, spec)

    def stale_windows(self) -> pd.DataFrame:
        """Return the stale-authority windows, by revocation time."""
        require_findings(self.connection)
        windows: pd.DataFrame = self.connection.sql(
            "SELECT * FROM stale_windows ORDER BY revoked_at, subject, actor"
        ).df()
        return windows

    def explain(self, call_id: str) -> Explanation:
        """Explain the verdict of one call (see :class:`Explanation`)."""
        return explain_call(self.connection, call_id)

    def drift(
        self,
        period: str | None = "week",
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> DriftReport:
        """Measure privilege drift per agent and period (see ``docs/drift.md``).

        ``period`` is ``day``, ``week``, ``month``, or None for one period from
        ``since`` to ``until``.
        """
        return analyze_drift(
            self.connection,
            period,
            start=_instant(since),
            end=_instant(until),
            settings=self.settings,
        )

    def reconstruct(
        self,
        *,
        user: str | None = None,
        agent: str | None = None,
        session: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> pd.DataFrame:
        """Return the ordered timeline of a user, agent, session or time window.

        Calls with their verdicts, token issuance and expiry, grant and membership
        changes with their authors, and lifecycle events; see
        :func:`auditkit.analysis.reconstruct.reconstruct` for the columns.
        """
        scope = ReconstructionScope(
            user=user,
            agent=agent,
            session=session,
            start=_instant(since),
            end=_instant(until),
        )
        return reconstruct(self.connection, scope)

    def report(
        self,
        out_dir: str | Path,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> ReportResult:
        """Write the report folder for the period ``[since, until)``.

        See :func:`auditkit.report.html.write_report` for the files it holds.
        """
        require_findings(self.connection)
        return write_report(self.connection, out_dir, since=since, until=until)


def _codes(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _instant(value: datetime | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return parse_instant(value)
