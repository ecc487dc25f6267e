"""The review notebooks run top to bottom against the example organisation.

Each notebook is executed in a real ``python3`` kernel, after a cell with the test's
parameters is inserted below the cell tagged ``parameters``, as papermill does. A cell
that raises fails the test.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

if TYPE_CHECKING:
    from tests.conftest import DemoWorld

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
REVIEW_NOTEBOOKS = [
    "explore_workspace.ipynb",
    "drift_review.ipynb",
    "incident_reconstruction.ipynb",
]
CELL_TIMEOUT_SECONDS = 120
KERNEL = "python3"
# Modules a review notebook may import: the public API, charts and pandas.
ALLOWED_IMPORTS = {
    "auditkit",
    "auditkit.analysis.reconstruct",
    "auditkit.models",
    "auditkit.report",
    "pandas",
}


def read_notebook(name: str) -> Any:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def code_cells(notebook: Any) -> list[Any]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def run_notebook(name: str, parameters: dict[str, Any], cwd: Path) -> Any:
    """Execute a notebook with ``parameters`` and return it with its outputs."""
    notebook = read_notebook(name)
    position = next(
        index
        for index, cell in enumerate(notebook.cells)
        if "parameters" in cell.metadata.get("tags", [])
    )
    lines = [f"{key} = {value!r}" for key, value in parameters.items()]
    injected = nbformat.v4.new_code_cell("\n".join(lines))
    injected.metadata["tags"] = ["injected-parameters"]
    notebook.cells.insert(position + 1, injected)

    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT_SECONDS, kernel_name=KERNEL, allow_errors=False
    )
    client.execute(cwd=str(cwd))
    return notebook


def output_text(notebook: Any, source_start: str) -> str:
    """Return the plain and HTML outputs of the code cell whose source starts so."""
    cell = next(
        cell
        for cell in code_cells(notebook)
        if cell.source.lstrip().startswith(source_start)
    )
    parts: list[str] = []
    for output in cell.outputs:
        data = output.get("data", {})
        parts.extend([data.get("text/plain", ""), data.get("text/html", "")])
        parts.append(output.get("text", ""))
    return "\n".join(parts)


def error_outputs(notebook: Any) -> list[Any]:
    return [
        output
        for cell in code_cells(notebook)
        for output in cell.outputs
        if output.output_type == "error"
    ]


@pytest.fixture(scope="module")
def demo_copy(demo_world: DemoWorld, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the evaluated example workspace for the notebooks to read."""
    folder = tmp_path_factory.mktemp("notebooks")
    return demo_world.copy_workspace(folder / "demo.duckdb")


@pytest.fixture(scope="module")
def explored(demo_copy: Path) -> Any:
    return run_notebook(
        "explore_workspace.ipynb", {"workspace": str(demo_copy)}, demo_copy.parent
    )


@pytest.fixture(scope="module")
def drift_reviewed(demo_copy: Path) -> Any:
    return run_notebook(
        "drift_review.ipynb", {"workspace": str(demo_copy)}, demo_copy.parent
    )


@pytest.fixture(scope="module")
def priya_incident(demo_copy: Path) -> Any:
    """The incident notebook with its default parameters: priya.raman's offboarding."""
    return run_notebook(
        "incident_reconstruction.ipynb",
        {"workspace": str(demo_copy)},
        demo_copy.parent,
    )


@pytest.mark.parametrize("name", REVIEW_NOTEBOOKS)
def test_notebook_stored_without_outputs(name: str) -> None:
    for cell in code_cells(read_notebook(name)):
        assert cell.outputs == [], cell.source
        assert cell.execution_count is None, cell.source


@pytest.mark.parametrize("name", REVIEW_NOTEBOOKS)
def test_notebook_opens_with_question(name: str) -> None:
    first = read_notebook(name).cells[0]
    assert first.cell_type == "markdown"
    assert "**Question:**" in first.source


@pytest.mark.parametrize("name", REVIEW_NOTEBOOKS)
def test_notebook_parameters_come_first(name: str) -> None:
    first_code = code_cells(read_notebook(name))[0]
    assert first_code.metadata.get("tags") == ["parameters"]
    assert first_code.source.startswith('workspace = "auditkit.duckdb"')


@pytest.mark.parametrize("name", REVIEW_NOTEBOOKS)
def test_notebook_uses_public_api_only(name: str) -> None:
    for cell in code_cells(read_notebook(name)):
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = {alias.name for alias in node.names}
                assert modules <= ALLOWED_IMPORTS, cell.source
            if isinstance(node, ast.ImportFrom):
                assert node.module in ALLOWED_IMPORTS, cell.source
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"print", "display"}, cell.source


def test_kernel_runs_test_interpreter() -> None:
    # jupyter_client replaces a plain "python" command with its own interpreter, so
    # the kernel imports the same installed auditkit as the tests.
    argv = KernelSpecManager().get_kernel_spec(KERNEL).argv
    assert argv[0] in {"python", "python3", sys.executable}, (
        f"the {KERNEL} kernel runs {argv[0]}; install this environment's kernel with "
        f"`{sys.executable} -m ipykernel install --sys-prefix`"
    )


def test_explore_notebook_runs(explored: Any) -> None:
    assert error_outputs(explored) == []


def test_explore_notebook_counts_verdicts(explored: Any) -> None:
    counts = output_text(explored, "findings = ws.findings")
    assert "stale_authority" in counts
    assert "28949" in counts


def test_explore_notebook_explains_worst_call(explored: Any) -> None:
    worst = output_text(explored, "severe = ws.findings")
    explanation = output_text(explored, "explanation = ws.explain")
    assert "inc-group-removal-jonas-2" in worst
    assert "inc-group-removal-jonas-2" in explanation


def test_explore_notebook_draws_charts(explored: Any) -> None:
    chart = output_text(explored, "charts.severity_by_agent")
    assert "alt.LayerChart" in chart


def test_drift_notebook_runs(drift_reviewed: Any) -> None:
    assert error_outputs(drift_reviewed) == []


def test_drift_notebook_shows_expansion_author(drift_reviewed: Any) -> None:
    growth = output_text(drift_reviewed, "growth = drift.growth")
    assert "g-0062" in growth
    assert "lena.fischer" in growth


def test_drift_notebook_shows_unused_grant(drift_reviewed: Any) -> None:
    unused = output_text(drift_reviewed, "grants = drift.grants")
    assert "warehouse:ShareExternal" in unused


def test_drift_notebook_shows_ceiling_breach(drift_reviewed: Any) -> None:
    breaches = output_text(drift_reviewed, "breaches = drift.breaches")
    assert "omar.haddad" in breaches
    assert "data-export-agent" in breaches


def test_drift_notebook_draws_heatmap(drift_reviewed: Any) -> None:
    heatmap = output_text(drift_reviewed, "charts.drift_heatmap")
    assert "alt.Chart" in heatmap


def test_incident_notebook_runs(priya_incident: Any) -> None:
    assert error_outputs(priya_incident) == []


def test_incident_timeline_has_deactivation(priya_incident: Any) -> None:
    timeline = output_text(priya_incident, "timeline = ws.reconstruct")
    assert "evt-1002" in timeline


@pytest.mark.parametrize(
    "call_id",
    ["inc-offboard-priya-2", "inc-offboard-priya-3", "inc-offboard-priya-4"],
)
def test_incident_timeline_has_stale_call(priya_incident: Any, call_id: str) -> None:
    timeline = output_text(priya_incident, "timeline = ws.reconstruct")
    stale = output_text(priya_incident, "stale_calls = ws.findings")
    assert call_id in timeline
    assert call_id in stale


def test_incident_explains_first_stale_call(priya_incident: Any) -> None:
    explanation = output_text(priya_incident, "incident = windows.iloc[0]")
    assert "inc-offboard-priya-2" in explanation
    assert "principal_inactive" in explanation


def test_incident_blast_radius_at_deactivation(priya_incident: Any) -> None:
    totals = output_text(priya_incident, "radius = blast_radius")
    could_do = next(line for line in totals.splitlines() if "could_do" in line)
    assert could_do.split() == ["could_do", "0"]


def test_incident_notebook_takes_parameters(demo_copy: Path) -> None:
    parameters = {
        "workspace": str(demo_copy),
        "user": "daniel.mensah",
        "agent": "finance-assistant",
        "since": "2026-03-10T00:00:00Z",
        "until": "2026-03-12T00:00:00Z",
    }
    notebook = run_notebook(
        "incident_reconstruction.ipynb", parameters, demo_copy.parent
    )
    timeline = output_text(notebook, "timeline = ws.reconstruct")
    assert "evt-1003" in timeline
    assert "inc-offboard-daniel-2" in timeline
    assert "inc-offboard-priya-2" not in timeline
