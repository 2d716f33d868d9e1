"""Nodes of the model evaluation stage."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, recall_score

from tai_project.models.network import SmallCNN, resolve_device
from tai_project.models.training import predict_proba
from tai_project.pipelines.tracking import as_metric_history
from tai_project.trust.fairness import group_accuracy
from tai_project.trust.requirements import check_requirements, parse_requirements


def predict_test_split(
    network: SmallCNN, model_input: dict[str, np.ndarray], params: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Return class probabilities on the test split with its true labels and groups."""
    probabilities = predict_proba(
        network, model_input["test_pixels"], batch_size=params["batch_size"],
        device=resolve_device(params["device"]),
    )
    return {
        "probabilities": probabilities,
        "labels": model_input["test_labels"],
        "groups": model_input["test_groups"],
    }


def compute_performance_metrics(
    predictions: dict[str, np.ndarray], data_schema: dict[str, Any]
) -> dict[str, float]:
    """Return test accuracy, recall per class, accuracy per group, worst-group accuracy and
    the accuracy gap (group metrics by fairlearn's ``MetricFrame``)."""
    y_true, groups = predictions["labels"], predictions["groups"]
    y_pred = predictions["probabilities"].argmax(axis=1)
    fairness = group_accuracy(y_true, y_pred, sensitive_features=groups)
    recalls = recall_score(
        y_true, y_pred, labels=range(len(data_schema["classes"])), average=None, zero_division=0
    )
    column = data_schema["group_column"]
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "worst_group_accuracy": fairness.worst_group_accuracy,
        "accuracy_gap": fairness.accuracy_gap,
        **{f"accuracy_{column}_{g}": value for g, value in fairness.by_group.items()},
        **{f"recall_class_{c}": float(r) for c, r in zip(data_schema["classes"], recalls)},
        "n_test": len(y_true),
    }


def plot_confusion_matrix(
    predictions: dict[str, np.ndarray], data_schema: dict[str, Any]
) -> Figure:
    """Return the test-split confusion matrix (rows: true class, columns: predicted)."""
    figure, axis = plt.subplots(figsize=(6, 5.5))
    ConfusionMatrixDisplay.from_predictions(
        predictions["labels"],
        predictions["probabilities"].argmax(axis=1),
        labels=range(len(data_schema["classes"])),
        display_labels=[str(c) for c in data_schema["classes"]],
        ax=axis,
        colorbar=False,
    )
    axis.set_title("Confusion matrix (test split)")
    figure.tight_layout()
    return figure


def check_trust_gate(
    trust_requirements: dict[str, Any], *metric_sets: dict[str, Any]
) -> dict[str, Any]:
    """Return the gate report: each requirement with measured value, threshold and status.

    ``metric_sets`` are the flat metric dicts of any stage (data profile, performance, ...);
    a new trust metric reaches the gate by adding its dataset to this node's inputs.
    """
    measured: dict[str, float] = {}
    for metrics in metric_sets:
        measured.update(
            {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        )
    return check_requirements(parse_requirements(trust_requirements), measured).to_dict()


def metrics_for_mlflow(performance_metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """Return the metrics in kedro-mlflow's metric-history shape."""
    return as_metric_history(performance_metrics)
