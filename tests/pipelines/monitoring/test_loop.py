"""The maintenance loop end to end in real Kedro sessions on the tiny project: a drifted,
labelled batch -> recommendation retrain -> retrain -> champion only through the gate."""

import json

import mlflow
import pytest

from tai_project.errors import TrustGateError
from tests.conftest import TINY_MODEL, run_kedro

BATCH = {"monitoring": {"batch": "noise_drift"}}


def _latest(project, name):
    versions = sorted((project / "data" / "08_reporting" / f"{name}.json").iterdir())
    return json.loads((versions[-1] / f"{name}.json").read_text())


def _aliases(project):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project}/mlflow.db")
    return {alias: str(client.get_model_version_by_alias(TINY_MODEL, alias).version)
            for alias in ("challenger", "champion")}


@pytest.mark.slow
def test_drift_recommends_retrain_and_only_a_passing_retrained_model_becomes_champion(project):
    run_kedro(project, params=BATCH)
    report = _latest(project, "monitoring_report")
    assert report["batch"] == "noise_drift" and report["decision"] == "retrain"
    assert "image_statistics" in report["drift"]["drifted_tests"]
    assert (project / "data" / "08_reporting" / "monitoring_report.html").is_dir()
    first = _aliases(project)
    assert first["champion"] == first["challenger"] == "1"

    # `make monitor`: the production check alone, logged into its own experiment
    run_kedro(project, pipeline_name="monitoring",
              params={**BATCH, "mlflow_experiment": "tai_project_monitoring"})
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project}/mlflow.db")
    [check] = client.search_runs(
        [client.get_experiment_by_name("tai_project_monitoring").experiment_id])
    assert any(name.startswith("monitoring.") for name in check.data.metrics)
    assert len(client.search_runs([client.get_experiment_by_name("tai_project").experiment_id])) == 1

    strict = {**BATCH, "trust_requirements": {"reliability": {"min_accuracy": 1.0}}}
    with pytest.raises(TrustGateError, match="min_accuracy"):
        run_kedro(project, pipeline_name="retrain", params=strict)
    assert _aliases(project) == {"challenger": "2", "champion": "1"}
    assert not _latest(project, "gate_report")["passed"]

    # The 4-epoch tiny model retrained on a noisy batch may regress on its 41-image worst
    # group by chance; non-regression has its own tests (test_registry), so it is off here.
    no_regression_rows = {"trust_requirements": {"non_regression": dict.fromkeys(
        ["accuracy", "worst_group_accuracy", "ece", "mia_auc", "abstention_rate"])}}
    run_kedro(project, pipeline_name="retrain", params={**BATCH, **no_regression_rows})
    assert _latest(project, "gate_report")["passed"]
    assert _aliases(project) == {"challenger": "3", "champion": "3"}
    assert str(_latest(project, "deployment_record")["champion"]) == "3"
