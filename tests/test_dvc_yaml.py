"""dvc.yaml cannot go stale: each stage declares the files its Kedro pipeline reads and writes."""

import pytest
import yaml
from kedro.framework.project import configure_project, pipelines

from tests.conftest import PROJECT_ROOT

STAGES = ["data_understanding", "data_engineering", "model_engineering", "model_evaluation",
          "deployment", "monitoring"]


def _catalog_paths() -> dict[str, str]:
    catalog = yaml.safe_load((PROJECT_ROOT / "conf" / "base" / "catalog.yml").read_text())
    paths = {}
    for name, entry in catalog.items():
        if name.startswith("_"):
            continue
        inner = entry.get("dataset") if isinstance(entry.get("dataset"), dict) else {}
        path = entry.get("filepath") or entry.get("path") or inner.get("filepath")
        if path:
            paths[name] = path.removesuffix("/images")
    return paths


@pytest.fixture(scope="module")
def dvc_stages():
    return yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("stage", STAGES)
def test_stage_declares_the_files_its_pipeline_reads_and_writes(stage, dvc_stages):
    configure_project("tai_project")
    pipeline, paths = pipelines[stage], _catalog_paths()
    declared_outs = {next(iter(out)) if isinstance(out, dict) else out
                     for out in dvc_stages[stage]["outs"]}
    writes = {paths[d] for d in pipeline.all_outputs() if d in paths}
    reads = {paths[d] for d in pipeline.inputs() if d in paths}
    assert writes - declared_outs == set(), f"add to dvc.yaml {stage}.outs"
    deps = dvc_stages[stage]["deps"]
    undeclared = {p for p in reads if not any(p == d or p.startswith(f"{d}/") for d in deps)}
    assert undeclared == set(), f"add to dvc.yaml {stage}.deps"
    assert dvc_stages[stage]["cmd"].endswith(f"kedro run --pipeline {stage}")
