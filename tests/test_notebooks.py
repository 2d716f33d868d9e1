"""The notebooks: committed without outputs, and executed (nbclient) against a project that
has run twice on the tiny data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import PROJECT_ROOT, TINY_MODEL, run_kedro

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


def test_there_is_a_walkthrough():
    assert "reviewer_walkthrough.ipynb" in {n.name for n in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_have_no_outputs(path):
    """Outputs stay out of git (they hold run ids, paths and images); strip them with
    `jupyter nbconvert --clear-output --inplace` or nbstripout before committing."""
    notebook = nbformat.read(path, as_version=4)
    dirty = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
             and (cell.outputs or cell.execution_count is not None)]
    assert dirty == [], f"{path.name}: cells {dirty} hold outputs; clear them before committing"


def _text(notebook: nbformat.NotebookNode) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.extend(str(v) for k, v in output.get("data", {}).items() if k.startswith("text/"))
    return "\n".join(parts)


def _images(notebook: nbformat.NotebookNode) -> int:
    return sum("image/png" in output.get("data", {})
               for cell in notebook.cells for output in cell.get("outputs", []))


@pytest.mark.slow
def test_walkthrough_runs_on_a_project_with_two_runs(project: Path):
    from kedro.framework.project import configure_project  # noqa: PLC0415

    from tai_project.trust.requirements import GateReport  # noqa: PLC0415

    run_kedro(project)  # trains, registers the champion
    run_kedro(project, pipeline_names=["model_evaluation"])  # a second run to compare with
    (project / "notebooks").mkdir()
    for path in NOTEBOOKS:
        shutil.copy(path, project / "notebooks" / path.name)

    notebook = nbformat.read(project / "notebooks" / "reviewer_walkthrough.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(project / "notebooks")}}).execute()
    configure_project("tai_project")  # the kernel is another process; this one stays as it was

    text = _text(notebook)
    gate_versions = sorted((project / "data" / "08_reporting" / "gate_report.json").glob("*/*"))
    latest_gate = GateReport.from_dict(json.loads(gate_versions[-1].read_text()))
    assert latest_gate.table() in text  # the gate table, exactly as the latest report says
    assert f"champion: {TINY_MODEL} version 1" in text
    assert text.count("FINISHED") == 2  # both runs in the comparison
    assert "change" in text and "accuracy" in text
    assert _images(notebook) == 8 + 2  # eight model card figures, two attribution figures
