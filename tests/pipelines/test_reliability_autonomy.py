"""End to end: the reliability and autonomy metrics reach MLflow and the gate, the deployed
model refers low-confidence cases to a human, and an over-confident model is not promoted."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
from kedro.io.core import Version, generate_timestamp

from tai_project.datasets.torch_model import TorchModelDataset
from tai_project.errors import TrustGateError
from tai_project.models.inference import REFER
from tests.conftest import TINY_MODEL, run_kedro

NEW_ROWS = {
    ("reliability", "max_ece"), ("reliability", "min_conformal_coverage"),
    ("reliability", "min_mean_corruption_accuracy"), ("reliability", "min_adversarial_accuracy"),
    ("autonomy", "max_abstention_rate"), ("autonomy", "min_selective_accuracy"),
}
PLOTS = {"reliability_diagram.png", "corruption_robustness.png", "risk_coverage.png"}


def _latest_json(name: str) -> dict:
    """The latest saved version of a JSON report (the project is the working directory)."""
    versions = sorted(Path("data/08_reporting", f"{name}.json").glob(f"*/{name}.json"))
    return json.loads(versions[-1].read_text())


@pytest.mark.slow
def test_reliability_and_autonomy_end_to_end(project: Path) -> None:
    """One default run, then the same network made over-confident (one run saved: ~20 s)."""
    run_kedro(project)
    _check_metrics_gate_rows_and_plots()
    _check_the_champion_refers_below_the_threshold(project)
    _check_an_overconfident_model_fails_max_ece_and_the_champion_stays(project)


def _check_metrics_gate_rows_and_plots() -> None:
    gate = _latest_json("gate_report")
    rows = {(c["principle"], c["requirement"]): c for c in gate["checks"]}
    assert NEW_ROWS <= set(rows)
    assert all(rows[key]["status"] == "pass" for key in NEW_ROWS)
    metrics = _latest_json("reliability_metrics")
    assert rows[("reliability", "max_ece")]["measured"] == pytest.approx(metrics["ece"])

    client = mlflow.MlflowClient(tracking_uri="sqlite:///mlflow.db")
    experiment = client.get_experiment_by_name("tai_project")
    (run,) = client.search_runs([experiment.experiment_id])
    for name in ("ece", "brier_score", "conformal_coverage", "mean_corruption_accuracy",
                 "pgd_accuracy", "abstention_rate", "selective_accuracy", "aurc"):
        assert run.data.metrics[f"test.{name}"] == pytest.approx(metrics[name])
    plots = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "plots")}
    assert plots >= PLOTS


def _check_the_champion_refers_below_the_threshold(project: Path) -> None:
    """The champion applies the temperature and the threshold chosen on the calibration split."""
    policy, metrics = _latest_json("inference_policy"), _latest_json("reliability_metrics")
    mlflow.set_tracking_uri("sqlite:///mlflow.db")
    champion = mlflow.pyfunc.load_model(f"models:/{TINY_MODEL}@champion")
    pixels = np.load(project / "data/05_model_input/model_input.npz")["test_pixels"]
    scored = champion.predict(pixels.astype(np.float32))
    assert (scored["referred"] == (scored["confidence"] < policy["confidence_threshold"])).all()
    assert (scored.loc[scored["referred"], "decision"] == REFER).all()
    assert scored["referred"].mean() == pytest.approx(metrics["abstention_rate"])


def _check_an_overconfident_model_fails_max_ece_and_the_champion_stays(project: Path) -> None:
    client = mlflow.MlflowClient(tracking_uri="sqlite:///mlflow.db")
    champion = client.get_model_version_by_alias(TINY_MODEL, "champion").version
    accuracy = _latest_json("performance_metrics")["accuracy"]

    # the same network with its logits multiplied by 50: same predictions, confidence ~1
    network = TorchModelDataset(filepath="data/06_models/network.pt",
                                version=Version(None, None)).load()  # the latest version
    network.head.weight.data *= 50
    network.head.bias.data *= 50
    TorchModelDataset(filepath="data/06_models/network.pt",
                      version=Version(None, generate_timestamp())).save(network)

    # with every confidence ~1, ECE ~ the error rate: half of it must fail
    no_rescue = {"model_evaluation": {"calibration": {"temperature_scaling": False}},
                 "trust_requirements": {"reliability": {"max_ece": (1 - accuracy) / 2}}}
    with pytest.raises(TrustGateError, match="max_ece"):
        run_kedro(project, params=no_rescue, pipeline_names=["model_evaluation", "deployment"])

    assert _latest_json("reliability_metrics")["ece"] == pytest.approx(1 - accuracy, abs=0.02)
    gate = _latest_json("gate_report")
    assert "max_ece" in {c["requirement"] for c in gate["checks"] if c["status"] == "fail"}
    assert client.get_model_version_by_alias(TINY_MODEL, "champion").version == champion
    assert client.get_model_version_by_alias(TINY_MODEL, "challenger").version != champion
