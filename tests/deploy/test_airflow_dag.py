"""The generated Airflow DAG loads in Airflow's DagBag and mirrors the Kedro pipeline graph.

Airflow is an optional extra: the first run creates ``.venv-airflow`` (a few minutes, from
the package registry); the project's own venv is never touched.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest
from kedro.framework.project import configure_project, pipelines
from slugify import slugify

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


def _make_dag_module():
    spec = importlib.util.spec_from_file_location(
        "make_dag", PROJECT_ROOT / "deploy" / "airflow" / "make_dag.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stage_graph() -> dict[str, set[str]]:
    """Each stage (top-level namespace) and the stages whose node outputs its nodes read."""
    configure_project("tai_project")
    nodes = pipelines["__default__"].nodes
    producer = {output: node.namespace.split(".")[0] for node in nodes for output in node.outputs}
    graph: dict[str, set[str]] = {}
    for node in nodes:
        stage = node.namespace.split(".")[0]
        upstream = {producer[i] for i in node.inputs if i in producer} - {stage}
        graph.setdefault(stage, set()).update(upstream)
    return graph


def test_dag_loads_in_dagbag_and_matches_the_kedro_graph(tmp_path: Path):
    make_dag = _make_dag_module()
    dag_file = make_dag.generate_dag(tmp_path / "dags")
    probe = subprocess.run(
        [str(make_dag.airflow_python()), str(make_dag.PROBE), str(dag_file.parent)],
        capture_output=True, text=True, check=True,
        env={**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow_home"),
             "AIRFLOW__CORE__LOAD_EXAMPLES": "False"},
    )
    loaded = json.loads(probe.stdout.strip().splitlines()[-1])
    assert loaded["import_errors"] == {}
    assert list(loaded["dags"]) == ["tai-project"]
    expected = {slugify(stage): sorted(slugify(s) for s in upstream)
                for stage, upstream in _stage_graph().items()}
    assert loaded["dags"]["tai-project"] == expected
    assert set(expected) == {"data-understanding", "data-engineering", "model-engineering",
                             "model-evaluation", "deployment", "monitoring"}
