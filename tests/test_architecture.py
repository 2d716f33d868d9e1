"""Rules of the code base that a reviewer would otherwise check by hand."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from kedro.framework.project import configure_project, pipelines

SRC = Path(__file__).resolve().parents[1] / "src" / "tai_project"
NODE_MODULES = sorted((SRC / "pipelines").glob("*/nodes.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((SRC / "trust").glob("*.py")), ids=lambda p: p.name)
def test_trust_library_knows_nothing_of_kedro_or_mlflow(path):
    assert not _imports(path) & {"kedro", "kedro_mlflow", "mlflow"}


@pytest.mark.parametrize("path", NODE_MODULES, ids=lambda p: p.parent.name)
def test_nodes_do_not_call_mlflow(path):
    assert not _imports(path) & {"mlflow", "kedro_mlflow"}


def test_six_stages_are_registered_and_default_runs_them_all():
    configure_project("tai_project")
    stages = {"data_understanding", "data_engineering", "model_engineering",
              "model_evaluation", "deployment", "monitoring"}
    assert stages <= set(pipelines)
    default = pipelines["__default__"]
    assert {node.namespace.split(".")[0] for node in default.nodes} == stages


# (SciPy is not listed: MLflow, which kedro-mlflow loads for every command, imports it.)
HEAVY = ("torch", "opacus", "captum", "great_expectations", "sklearn", "matplotlib.pyplot")


def test_listing_the_pipelines_imports_no_numerical_stack():
    """`kedro registry list` imports every pipeline; node modules bind torch, Great
    Expectations, Captum, Opacus, scikit-learn and pyplot lazily (tai_project.lazy),
    so the CLI starts without them (bench/run_all.py times it)."""
    script = (
        "import sys\n"
        "from kedro.framework.project import configure_project, pipelines\n"
        "configure_project('tai_project')\n"
        "assert len(pipelines['__default__'].nodes) > 0\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
