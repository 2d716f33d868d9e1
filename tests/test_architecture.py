"""Rules of the code base that a reviewer would otherwise check by hand."""

import ast
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
