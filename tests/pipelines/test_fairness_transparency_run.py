"""One real ``kedro run`` on the tiny data: fairness and transparency reach MLflow and the gate."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_kedro


def _latest(project: Path, name: str) -> Path:
    return sorted((project / "data" / name).glob("*/*"))[-1]


@pytest.mark.slow
def test_default_run_logs_fairness_and_transparency_and_gates_them(project):
    run_kedro(project)

    gate = json.loads(_latest(project, "08_reporting/gate_report.json").read_text())
    rows = {check["requirement"]: check for check in gate["checks"]}
    for requirement in ("max_equalized_odds_difference", "min_deletion_faithfulness_ratio",
                        "min_worst_group_accuracy", "max_accuracy_gap", "min_group_share"):
        assert rows[requirement]["status"] == "pass", rows[requirement]

    metrics = json.loads(_latest(project, "08_reporting/fairness_metrics.json").read_text())
    assert metrics["worst_group_accuracy"] == min(metrics["accuracy_site_A"],
                                                  metrics["accuracy_site_B"])
    assert metrics["worst_group_accuracy_ci_low"] <= metrics["worst_group_accuracy"]
    assert metrics["worst_group_accuracy"] <= metrics["worst_group_accuracy_ci_high"]

    table = pd.read_csv(_latest(project, "08_reporting/representation_table.csv"))
    assert table.groupby("class")["share_of_class"].sum().to_numpy() == pytest.approx(1.0)

    with np.load(_latest(project, "05_model_input/prototypes.npz")) as prototypes:
        assert set(np.unique(prototypes["labels"])) == set(range(10))

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    run = client.search_runs(client.get_experiment_by_name("tai_project").experiment_id)[0]
    logged = run.data.metrics
    assert logged["transparency.deletion_faithfulness_ratio"] == pytest.approx(
        rows["min_deletion_faithfulness_ratio"]["measured"])
    assert "fairness.worst_group_accuracy_ci_low" in logged
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {"plots/fairness.png", "plots/prototypes.png", "plots/prototype_attributions.png",
            "plots/test_attributions.png", "plots/class_attributions.png",
            "plots/deletion_curves.png"} <= artifacts
