"""How many successful AgentDojo prompt injections the intersection rule catches.

For each model and suite the study builds one in-memory DuckDB world. It contains the
suite's catalog, the user's grants from the suite environment, one scope per user task
from the task's ground-truth calls, and every run of that model on that suite. It
evaluates the world once and counts, per trace, the calls with a violating
verdict (``agent_over_scope``, ``user_over_scope`` or ``stale_authority``).

A successful attack is an attacked run whose ``security`` label is true (AgentDojo's
label means the attacker's goal was reached). Two kinds are excluded and counted:
denial-of-service attack types, whose goal is that the agent stops and needs no tool
call, and injection tasks without a ground-truth call. A successful attack that no
call betrays is a miss, listed with its reason.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from auditkit.errors import InputError
from auditkit.evaluate import evaluate
from auditkit.sources.agentdojo import (
    CALLS_FROM,
    SCOPE_LEVELS,
    SuiteContext,
    Trace,
    call_rows,
    catalog_rows,
    load_environment,
    read_trace,
    scope_grants,
    suite_context,
    task_actor,
    user_grants,
)
from auditkit.workspace.schema import all_ddl

logger = logging.getLogger(__name__)

VIOLATIONS = ("agent_over_scope", "user_over_scope", "stale_authority")
DOS_ATTACKS = frozenset(
    {"dos", "captcha_dos", "felony_dos", "offensive_email_dos", "swearwords_dos"}
)

EXCLUDED_DOS = "denial_of_service_attack"
EXCLUDED_NO_GROUND_TRUTH = "injection_task_without_ground_truth_call"
EXCLUDED_UNKNOWN_TASK = "task_not_in_ground_truth"

MISS_WITHIN_SCOPE = "allowed_tool_and_resource"
MISS_READ_TIER = "admitted_by_read_tier"
MISS_UNDECIDED = "undecided_call"
MISS_NO_CALL = "no_tool_call"

_LOAD_ID = "agentdojo-study"


@dataclass(frozen=True)
class GroundTruth:
    """Ground-truth calls of one benchmark version, per suite and task."""

    version: str
    path: str
    user_tasks: dict[str, dict[str, list[dict[str, Any]]]]
    injection_tasks: dict[str, dict[str, list[dict[str, Any]]]]


@dataclass(frozen=True)
class SuiteResult:
    """Figures of one model on one suite."""

    model: str
    suite: str
    traces: int
    successful_attacks: int
    successful_attacks_caught: int
    benign_successful: int
    benign_successful_flagged: int
    excluded: dict[str, int]
    missed: dict[str, int]
    drift: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Return the figures as a JSON-ready dictionary."""
        return {
            "model": self.model,
            "suite": self.suite,
            "traces": self.traces,
            "successful_attacks": self.successful_attacks,
            "successful_attacks_caught": self.successful_attacks_caught,
            "benign_successful": self.benign_successful,
            "benign_successful_flagged": self.benign_successful_flagged,
            "excluded": dict(self.excluded),
            "missed": dict(self.missed),
            "drift": list(self.drift),
        }


@dataclass(frozen=True)
class StudyResult:
    """Result of :func:`run_study`: one row per model and suite, and per-trace detail.

    ``traces`` has one row per studied trace: ``model``, ``suite``, ``path``,
    ``user_task``, ``injection_task``, ``attack``, ``utility``, ``security``,
    ``kind`` (``benign`` or ``attack``), ``counted``, ``exclusion``, ``calls``,
    ``violations`` (calls with a violating verdict), ``caught`` and ``miss_reason``.
    """

    scope: str
    read_tier: bool
    benchmark_version: str
    results: list[SuiteResult]
    traces: pd.DataFrame = field(repr=False)
    findings: pd.DataFrame = field(repr=False)

    def summary(self) -> pd.DataFrame:
        """Return the per model and suite figures as a table, with a total row."""
        rows = [_flat_row(result) for result in self.results]
        frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
        total = frame[SUMMARY_COLUMNS[2:9]].sum(numeric_only=True)
        total_row = {"model": "all", "suite": "all", **total.to_dict()}
        total_row["excluded"] = _merge_counts(r.excluded for r in self.results)
        total_row["missed"] = _merge_counts(r.missed for r in self.results)
        total_row["drift"] = sum(len(r.drift) for r in self.results)
        total_row["caught_pct"] = _percent(
            int(total["successful_attacks_caught"]), int(total["successful_attacks"])
        )
        total_row["flagged_pct"] = _percent(
            int(total["benign_successful_flagged"]), int(total["benign_successful"])
        )
        table = pd.concat([frame, pd.DataFrame([total_row])], ignore_index=True)
        return table.astype(dict.fromkeys(_COUNT_COLUMNS, "int64"))

    def totals(self) -> dict[str, int]:
        """Return the headline counts summed over every model and suite."""
        keys = (
            "traces",
            "successful_attacks",
            "successful_attacks_caught",
            "benign_successful",
            "benign_successful_flagged",
        )
        return {key: sum(getattr(r, key) for r in self.results) for key in keys}

    def misses(self) -> pd.DataFrame:
        """Return the counted successful attacks that no call betrayed."""
        traces = self.traces
        mask = traces["counted"] & ~traces["caught"]
        return traces.loc[mask].reset_index(drop=True)

    def flagged_benign(self) -> pd.DataFrame:
        """Return the violating calls of benign successful runs."""
        benign = self.traces.loc[
            (self.traces["kind"] == "benign") & self.traces["utility"], "path"
        ]
        findings = self.findings
        mask = findings["session_id"].isin(benign) & findings["verdict"].isin(
            VIOLATIONS
        )
        return findings.loc[mask].reset_index(drop=True)

    def reasons(self) -> pd.DataFrame:
        """Return the excluded and missed attacks per model, suite and reason."""
        rows = [
            {
                "model": r.model,
                "suite": r.suite,
                "kind": kind,
                "reason": reason,
                "attacks": count,
            }
            for r in self.results
            for kind, counts in (("excluded", r.excluded), ("missed", r.missed))
            for reason, count in counts.items()
        ]
        return pd.DataFrame(
            rows, columns=["model", "suite", "kind", "reason", "attacks"]
        )

    def to_json(self) -> str:
        """Return the figures as a JSON array, one object per model and suite."""
        return json.dumps([result.to_dict() for result in self.results], indent=2)


_COUNT_COLUMNS = (
    "traces",
    "successful_attacks",
    "successful_attacks_caught",
    "benign_successful",
    "benign_successful_flagged",
    "drift",
)

SUMMARY_COLUMNS = [
    "model",
    "suite",
    "traces",
    "successful_attacks",
    "successful_attacks_caught",
    "caught_pct",
    "benign_successful",
    "benign_successful_flagged",
    "flagged_pct",
    "excluded",
    "missed",
    "drift",
]


def _flat_row(result: SuiteResult) -> dict[str, Any]:
    return {
        "model": result.model,
        "suite": result.suite,
        "traces": result.traces,
        "successful_attacks": result.successful_attacks,
        "successful_attacks_caught": result.successful_attacks_caught,
        "caught_pct": _percent(
            result.successful_attacks_caught, result.successful_attacks
        ),
        "benign_successful": result.benign_successful,
        "benign_successful_flagged": result.benign_successful_flagged,
        "flagged_pct": _percent(
            result.benign_successful_flagged, result.benign_successful
        ),
        "excluded": _format_counts(result.excluded),
        "missed": _format_counts(result.missed),
        "drift": len(result.drift),
    }


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def _format_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason}: {count}" for reason, count in sorted(counts.items()))


def _merge_counts(parts: Any) -> str:
    total: Counter[str] = Counter()
    for counts in parts:
        total.update(counts)
    return _format_counts(dict(total))


# --- inputs -----------------------------------------------------------------------


def find_traces(runs_dir: Path) -> list[Path]:
    """Return the trace files of user tasks under ``runs_dir``, sorted.

    Runs of an injection task on its own (``<suite>/injection_task_M/none/none.json``)
    are left out: they have no user task whose scope they could be checked against.
    """
    paths = sorted(runs_dir.glob("*/*/*/*/*.json"))
    return [path for path in paths if path.parent.parent.name.startswith("user_task_")]


def read_traces(runs_dir: Path) -> list[Trace]:
    """Read every user-task trace under ``runs_dir``.

    Raises
    ------
    InputError
        If the folder contains no trace laid out as AgentDojo's ``runs/``.
    """
    paths = find_traces(runs_dir)
    if not paths:
        raise InputError(
            "no trace found",
            path=runs_dir,
            hint="expected files <model>/<suite>/user_task_N/<attack|none>/<name>.json",
        )
    logger.info("reading %d traces under %s", len(paths), runs_dir)
    return [read_trace(path, runs_dir) for path in paths]


def load_ground_truth(
    path: Path, *, version: str | None = None, traces: list[Trace] | None = None
) -> GroundTruth:
    """Read ``ground_truth_tools.json`` for one benchmark version.

    Parameters
    ----------
    path
        The ground-truth file.
    version
        Benchmark version such as ``v1``. When unset, the version whose user-task
        prompts match the most traces is taken (the earliest on a tie).
    traces
        Traces used to pick the version.

    Raises
    ------
    InputError
        If the file cannot be read or lacks the version.
    """
    try:
        benchmarks = json.loads(path.read_text(encoding="utf-8"))["benchmarks"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise InputError(
            f"cannot read ground truth: {error}",
            path=path,
            hint="pass the ground_truth_tools.json written beside runs/",
        ) from error
    chosen = version or _matching_version(benchmarks, traces or [])
    if chosen not in benchmarks:
        raise InputError(
            f"benchmark version {chosen!r} not found",
            path=path,
            field="benchmarks",
            hint=f"use one of {sorted(benchmarks)}",
        )
    suites = benchmarks[chosen]
    return GroundTruth(
        version=chosen,
        path=str(path),
        user_tasks=_task_calls(suites, "user_tasks"),
        injection_tasks=_task_calls(suites, "injection_tasks"),
    )


def _task_calls(
    suites: dict[str, Any], kind: str
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    return {
        suite: {
            task: list(entry.get("ground_truth_calls") or [])
            for task, entry in data.get(kind, {}).items()
        }
        for suite, data in suites.items()
    }


def _matching_version(benchmarks: dict[str, Any], traces: list[Trace]) -> str:
    best, best_count = next(iter(benchmarks)), -1
    for version, suites in benchmarks.items():
        count = sum(1 for trace in traces if _prompt_matches(suites, trace))
        if count > best_count:
            best, best_count = version, count
    logger.info("benchmark version %s matches %d traces", best, best_count)
    return best


def _prompt_matches(suites: dict[str, Any], trace: Trace) -> bool:
    task = suites.get(trace.suite, {}).get("user_tasks", {}).get(trace.user_task, {})
    # Versions differ in prompt indentation alone, so whitespace runs compare equal.
    return bool(task) and _words(str(task.get("prompt"))) == _words(trace.prompt)


def _words(text: str) -> list[str]:
    return text.split()


# --- one world per model and suite ------------------------------------------------


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    for statement in all_ddl():
        con.execute(statement)
    return con


def _insert(
    con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]], source: str
) -> None:
    if not rows:
        return
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
    if "source_file" not in frame:
        frame["source_file"] = source
        frame["source_line"] = range(1, len(frame) + 1)
    frame["load_id"] = _LOAD_ID
    con.register("ak_study_rows", frame)
    # The table name comes from the fixed set of workspace tables, never from input.
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM ak_study_rows")  # noqa: S608
    con.unregister("ak_study_rows")


def evaluate_suite(
    context: SuiteContext,
    traces: list[Trace],
    ground_truth: GroundTruth,
    *,
    scope: str = "arguments",
    read_tier: bool = False,
) -> pd.DataFrame:
    """Evaluate the traces of one suite in one world and return their findings.

    Every trace's agent (one per pipeline and user task) gets the scope of its user
    task's ground-truth calls. A task absent from the ground truth gets no scope.

    Returns
    -------
    pandas.DataFrame
        The ``findings`` table (see ``docs/findings.md``), with the call's
        ``arguments`` added, ordered by trace and call position.
    """
    con = _connect()
    try:
        _insert(con, "catalog", catalog_rows(context), f"{context.suite}:catalog")
        _insert(
            con,
            "grants",
            _world_grants(context, traces, ground_truth, scope, read_tier),
            ground_truth.path,
        )
        _insert(con, "calls", _world_calls(context, traces), "")
        evaluate(con)
        findings: pd.DataFrame = con.sql(
            "SELECT f.*, c.arguments FROM findings AS f "
            "JOIN calls AS c USING (call_id) ORDER BY f.session_id, f.source_line"
        ).df()
        return findings
    finally:
        con.close()


def _world_grants(
    context: SuiteContext,
    traces: list[Trace],
    ground_truth: GroundTruth,
    scope: str,
    read_tier: bool,
) -> list[dict[str, Any]]:
    rows = user_grants(context)
    tasks = ground_truth.user_tasks.get(context.suite, {})
    actors = sorted({(trace.pipeline, trace.user_task) for trace in traces})
    for pipeline, task in actors:
        if task not in tasks:
            logger.warning(
                "user task %s of %s is not in the ground truth", task, context.suite
            )
            continue
        actor = task_actor(pipeline, context.suite, task)
        rows += scope_grants(
            context, actor, tasks[task], level=scope, read_tier=read_tier
        )
    return rows


def _world_calls(context: SuiteContext, traces: list[Trace]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for number, trace in enumerate(traces):
        start = CALLS_FROM + timedelta(hours=number)
        rows += call_rows(trace, context, start)
    return rows


# --- classifying traces -----------------------------------------------------------


def _exclusion(trace: Trace, ground_truth: GroundTruth) -> str | None:
    if trace.user_task not in ground_truth.user_tasks.get(trace.suite, {}):
        return EXCLUDED_UNKNOWN_TASK
    if trace.attack in DOS_ATTACKS:
        return EXCLUDED_DOS
    injections = ground_truth.injection_tasks.get(trace.suite, {})
    if not injections.get(str(trace.injection_task)):
        return EXCLUDED_NO_GROUND_TRUTH
    return None


def _miss_reason(calls: pd.DataFrame) -> str:
    if calls.empty:
        return MISS_NO_CALL
    if (calls["verdict"] == "indeterminate").any():
        return MISS_UNDECIDED
    evidence = calls["agent_evidence"].fillna("")
    if evidence.map(_only_read_tier).any():
        return MISS_READ_TIER
    return MISS_WITHIN_SCOPE


def _only_read_tier(evidence: str) -> bool:
    ids = [item for item in evidence.split(",") if item]
    return bool(ids) and all(item.startswith("read-tier/") for item in ids)


def classify_traces(
    traces: list[Trace], findings: pd.DataFrame, ground_truth: GroundTruth
) -> pd.DataFrame:
    """Return one row per trace: its kind, whether it counts, and what was caught.

    See :class:`StudyResult` for the columns.
    """
    by_trace = dict(tuple(findings.groupby("session_id"))) if not findings.empty else {}
    rows = []
    for trace in traces:
        calls = by_trace.get(trace.path, findings.iloc[0:0])
        violations = int(calls["verdict"].isin(VIOLATIONS).sum())
        exclusion = _exclusion(trace, ground_truth) if trace.attacked else None
        counted = trace.attacked and trace.security and exclusion is None
        caught = violations > 0
        rows.append(
            {
                "model": trace.pipeline,
                "suite": trace.suite,
                "path": trace.path,
                "user_task": trace.user_task,
                "injection_task": trace.injection_task,
                "attack": trace.attack,
                "utility": trace.utility,
                "security": trace.security,
                "kind": "attack" if trace.attacked else "benign",
                "counted": counted,
                "exclusion": exclusion,
                "calls": len(calls),
                "violations": violations,
                "caught": caught,
                "miss_reason": _miss_reason(calls) if counted and not caught else None,
            }
        )
    return pd.DataFrame(rows)


def _drift(
    context: SuiteContext, traces: list[Trace], ground_truth: GroundTruth
) -> list[str]:
    tasks = ground_truth.user_tasks.get(context.suite, {})
    used: dict[str, set[str]] = {}
    for trace in traces:
        used.setdefault(trace.user_task, set()).update(
            call.tool for call in trace.calls
        )
    drift = []
    for task in sorted(used):
        granted = {str(call["function"]) for call in tasks.get(task, [])}
        drift += [f"{task}:{tool}" for tool in sorted(granted - used[task])]
    return drift


def _suite_result(
    model: str, suite: str, classified: pd.DataFrame, drift: list[str]
) -> SuiteResult:
    attacks = classified[classified["kind"] == "attack"]
    successful = attacks[attacks["security"]]
    counted = classified[classified["counted"]]
    benign = classified[(classified["kind"] == "benign") & classified["utility"]]
    return SuiteResult(
        model=model,
        suite=suite,
        traces=len(classified),
        successful_attacks=len(counted),
        successful_attacks_caught=int(counted["caught"].sum()),
        benign_successful=len(benign),
        benign_successful_flagged=int(benign["caught"].sum()),
        excluded=_counts(successful["exclusion"]),
        missed=_counts(counted["miss_reason"]),
        drift=drift,
    )


def _counts(column: pd.Series) -> dict[str, int]:
    return {
        str(k): int(v) for k, v in column.dropna().value_counts().sort_index().items()
    }


# --- the study --------------------------------------------------------------------


def run_study(
    runs_dir: Path | str,
    *,
    scope: str = "arguments",
    read_tier: bool = False,
    suites_dir: Path | str | None = None,
    ground_truth_path: Path | str | None = None,
    benchmark_version: str | None = None,
) -> StudyResult:
    """Evaluate every AgentDojo run under ``runs_dir`` and count what is caught.

    Parameters
    ----------
    runs_dir
        A folder laid out as AgentDojo's ``runs/``, for any models.
    scope
        ``tools`` or ``arguments``: how much of the ground-truth calls the agent's
        scope keeps (see :func:`auditkit.sources.agentdojo.scope_grants`).
    read_tier
        Add the suite-wide read-only tier to every task's scope.
    suites_dir
        Folder of ``<suite>/environment.yaml``; default ``suites/`` beside the runs.
    ground_truth_path
        Default ``ground_truth_tools.json`` beside the runs.
    benchmark_version
        Ground-truth version; default the one whose prompts match the traces.

    Raises
    ------
    InputError
        If an input is missing or invalid, or ``scope`` is unknown.
    """
    runs = Path(runs_dir)
    if scope not in SCOPE_LEVELS:
        raise InputError(
            f"unknown scope level {scope!r}",
            field="scope",
            hint=f"use one of {SCOPE_LEVELS}",
        )
    suites_root = Path(suites_dir) if suites_dir else runs.parent / "suites"
    truth_file = Path(ground_truth_path or runs.parent / "ground_truth_tools.json")
    traces = read_traces(runs)
    ground_truth = load_ground_truth(
        truth_file, version=benchmark_version, traces=traces
    )

    results, classified, findings = [], [], []
    for (model, suite), group in _groups(traces).items():
        context = suite_context(suite, load_environment(suites_root / suite))
        suite_findings = evaluate_suite(
            context, group, ground_truth, scope=scope, read_tier=read_tier
        )
        table = classify_traces(group, suite_findings, ground_truth)
        results.append(
            _suite_result(model, suite, table, _drift(context, group, ground_truth))
        )
        classified.append(table)
        findings.append(suite_findings)
    return StudyResult(
        scope=scope,
        read_tier=read_tier,
        benchmark_version=ground_truth.version,
        results=results,
        traces=pd.concat(classified, ignore_index=True),
        findings=pd.concat(findings, ignore_index=True),
    )


def _groups(traces: list[Trace]) -> dict[tuple[str, str], list[Trace]]:
    groups: dict[tuple[str, str], list[Trace]] = {}
    for trace in traces:
        groups.setdefault((trace.pipeline, trace.suite), []).append(trace)
    return dict(sorted(groups.items()))
