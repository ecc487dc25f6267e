"""The AgentDojo study notebook runs top to bottom against the shared sample."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "agentdojo_study.ipynb"

pytestmark = pytest.mark.shared_data


def test_notebook_has_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs for cell in code)


def test_notebook_runs(agentdojo_dir: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    parameters = next(
        cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])
    )
    parameters.source = f"data_dir = {str(agentdojo_dir)!r}"
    NotebookClient(notebook, timeout=600, kernel_name="python3").execute(
        cwd=str(NOTEBOOK.parent)
    )
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.output_type == "error"]
