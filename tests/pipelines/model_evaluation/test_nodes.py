import numpy as np
import pytest

from tai_project.integrity import arrays_sha256, network_sha256, sha256_json
from tai_project.models.network import SmallCNN
from tai_project.pipelines.model_evaluation.nodes import (
    check_trust_gate,
    compute_performance_metrics,
    metrics_for_mlflow,
    plot_confusion_matrix,
)
from tests.conftest import shipped_requirements

SCHEMA = {"classes": [0, 1], "group_columns": ["site"]}
REQUIREMENTS = shipped_requirements(**{
    "data.min_group_share": 0.2,
    "reliability.min_accuracy": 0.7,
    "fairness.min_worst_group_accuracy": 0.6,
    "fairness.max_accuracy_gap": 0.3,
})

MODEL_ENGINEERING = {"training_setup": {"privacy": {"enabled": False}, "fairness_mitigation": "none"}}


@pytest.fixture
def predictions():
    # group A: 4/4 right, group B: 2/4 right -> accuracy 0.75, worst 0.5, gap 0.5
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    predicted = np.array([0, 1, 0, 1, 1, 1, 0, 0])
    return {
        "probabilities": np.eye(2)[predicted] * 0.8 + 0.1,
        "labels": labels,
        "groups": np.array(["A"] * 4 + ["B"] * 4),
    }


def test_performance_metrics_hand_computed(predictions):
    metrics = compute_performance_metrics(predictions, SCHEMA)
    assert metrics["accuracy"] == 0.75
    assert "worst_group_accuracy" not in metrics  # computed once, by compute_fairness_metrics
    assert metrics["recall_class_0"] == 0.75 and metrics["recall_class_1"] == 0.75
    assert metrics["n_test"] == 8
    assert plot_confusion_matrix(predictions, SCHEMA).axes


def test_gate_merges_metric_sets_and_blocks(predictions):
    metrics = compute_performance_metrics(predictions, SCHEMA)
    fairness = {"worst_group_accuracy": 0.5, "accuracy_gap": 0.5}  # compute_fairness_metrics
    network, model_input = SmallCNN(num_classes=2, channels=(4,), groups=2), {"x": np.ones(3)}
    report = check_trust_gate(network, model_input, REQUIREMENTS, MODEL_ENGINEERING,
                              {"temperature_scaling": True},
                              {"group_share": 0.25, "n_images": 8}, metrics, fairness)
    status = {c["requirement"]: (c["status"], c["measured"]) for c in report["checks"]
              if c["status"] != "off"}
    assert status == {
        "min_group_share": ("pass", 0.25),
        "min_accuracy": ("pass", 0.75),
        "min_worst_group_accuracy": ("fail", 0.5),
        "max_accuracy_gap": ("fail", 0.5),
    }
    assert report["passed"] is False
    # the evidence it rests on: what was measured, as SHA-256 (tai_project.evidence)
    assert report["evidence"] == {
        "network_sha256": network_sha256(network), "data_sha256": arrays_sha256(model_input),
        "requirements_sha256": sha256_json(REQUIREMENTS)}
    # what to try, for the failed rows only, for these settings (DP off, no reweighting)
    assert set(report["hints"]) == {"fairness.min_worst_group_accuracy", "fairness.max_accuracy_gap"}
    assert any("fairness_mitigation: reweight_groups" in h
               for h in report["hints"]["fairness.max_accuracy_gap"])


def test_metrics_for_mlflow_shape():
    assert metrics_for_mlflow({"accuracy": 0.5, "flag": True}) == {
        "accuracy": {"value": 0.5, "step": 0}
    }
