"""dvc.yaml cannot go stale: each stage declares the files its Kedro pipeline reads and writes
(both resolved from the project's dataset description, so they agree whatever it says)."""

import pytest
from dvc.repo import Repo
from kedro.config import OmegaConfigLoader
from kedro.framework.project import configure_project, pipelines

from tests.conftest import PROJECT_ROOT

STAGES = ["data_understanding", "data_engineering", "model_engineering", "model_evaluation",
          "deployment", "monitoring"]


def _catalog_paths() -> dict[str, str]:
    catalog = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), base_env="base",
                                default_run_env="base")["catalog"]
    paths = {}
    for name, entry in catalog.items():
        if name.startswith("_"):
            continue
        inner = entry.get("dataset") if isinstance(entry.get("dataset"), dict) else {}
        path = entry.get("filepath") or entry.get("path") or inner.get("filepath")
        if path:
            paths[name] = path
    return paths


@pytest.fixture(scope="module")
def dvc_stages():
    """The stages as DVC resolves them (``${dataset.*}`` from conf/base/globals.yml)."""
    with Repo(str(PROJECT_ROOT)) as repo:
        return {stage.name: {"cmd": stage.cmd, "deps": [str(d) for d in stage.deps],
                             "outs": [str(o) for o in stage.outs]}
                for stage in repo.index.stages if getattr(stage, "name", None) in STAGES}


@pytest.mark.parametrize("stage", STAGES)
def test_stage_declares_the_files_its_pipeline_reads_and_writes(stage, dvc_stages):
    configure_project("tai_project")
    pipeline, paths = pipelines[stage], _catalog_paths()
    declared_outs = set(dvc_stages[stage]["outs"])
    writes = {paths[d] for d in pipeline.all_outputs() if d in paths}
    reads = {paths[d] for d in pipeline.inputs() if d in paths}
    assert writes - declared_outs == set(), f"add to dvc.yaml {stage}.outs"
    deps = dvc_stages[stage]["deps"]
    undeclared = {p for p in reads if not any(p == d or p.startswith(f"{d}/") for d in deps)}
    assert undeclared == set(), f"add to dvc.yaml {stage}.deps"
    assert dvc_stages[stage]["cmd"].endswith(f"kedro run --pipeline {stage}")
