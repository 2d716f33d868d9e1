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
from tai_project.trust.privacy import balanced_membership_split, membership_inference
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


_FPR_LEVELS = {"1pct": 0.01, "0_1pct": 0.001}  # metric-name suffix -> FPR (Carlini et al. 2022)


def attack_membership(
    network: SmallCNN,
    model_input: dict[str, np.ndarray],
    params: dict[str, Any],
    inference: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Return the membership-inference report: for each threshold attack its AUC, advantage,
    TPR at 1 % and 0.1 % FPR and ROC curve, on equal-size disjoint members (training
    images) and non-members (the held-out ``params.nonmember_splits``)."""
    splits = params["nonmember_splits"]
    holdout_pixels = np.concatenate([model_input[f"{s}_pixels"] for s in splits])
    holdout_labels = np.concatenate([model_input[f"{s}_labels"] for s in splits])
    chosen = balanced_membership_split(
        len(model_input["train_labels"]), len(holdout_labels), seed=seed,
        max_per_side=params["max_per_side"],
    )
    def probabilities(pixels: np.ndarray) -> np.ndarray:
        return predict_proba(network, pixels, batch_size=inference["batch_size"],
                             device=resolve_device(inference["device"]))
    attacks = membership_inference(
        probabilities(model_input["train_pixels"][chosen.members]),
        model_input["train_labels"][chosen.members],
        probabilities(holdout_pixels[chosen.nonmembers]),
        holdout_labels[chosen.nonmembers],
        attacks=params["attacks"],
        fpr_levels=tuple(_FPR_LEVELS.values()),
    )
    return {
        "n_members": len(chosen.members),
        "n_nonmembers": len(chosen.nonmembers),
        "nonmember_splits": list(splits),
        "attacks": {
            name: {
                "auc": result.auc,
                "advantage": result.advantage,
                **{f"tpr_at_{k}_fpr": result.tpr_at_fpr[v] for k, v in _FPR_LEVELS.items()},
                "fpr": result.fpr.tolist(),
                "tpr": result.tpr.tolist(),
            }
            for name, result in attacks.items()
        },
    }


def compute_privacy_metrics(
    membership_attack: dict[str, Any], privacy_budget: dict[str, Any]
) -> dict[str, float]:
    """Return the flat privacy metrics the gate checks: ``epsilon`` spent in training
    (infinite without DP) and, per attack figure, the strongest attack's value
    (``mia_auc``, ``mia_advantage``, ``mia_tpr_at_1pct_fpr``, ...) plus each attack's own."""
    figures = ["auc", "advantage", *[f"tpr_at_{k}_fpr" for k in _FPR_LEVELS]]
    attacks = membership_attack["attacks"]
    return {
        "epsilon": float(privacy_budget["epsilon"]),
        "dp_delta": float(privacy_budget["delta"]),
        **{f"mia_{f}": max(a[f] for a in attacks.values()) for f in figures},
        **{f"mia_{name}_{f}": a[f] for name, a in attacks.items() for f in figures},
    }


def plot_membership_roc(membership_attack: dict[str, Any]) -> Figure:
    """Return the attacks' ROC curves, linear and log-log (the low-FPR view of Carlini et
    al. 2022), with the chance diagonal."""
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, attack in membership_attack["attacks"].items():
        label = f"{name} (AUC {attack['auc']:.3f}, TPR@1%FPR {attack['tpr_at_1pct_fpr']:.3f})"
        for axis in axes:
            axis.plot(attack["fpr"], attack["tpr"], label=label)
    n = membership_attack["n_members"]
    for axis, scale in zip(axes, ("linear", "log")):
        low = 0.0 if scale == "linear" else 1.0 / (2 * n)
        axis.plot([low, 1], [low, 1], "k--", linewidth=0.8, label="chance")
        axis.set(xscale=scale, yscale=scale, xlabel="false positive rate",
                 ylabel="true positive rate", xlim=(low, 1), ylim=(low, 1))
    axes[0].set_title(f"Membership inference ROC ({n} members / {n} non-members)")
    axes[1].set_title("Same, log-log (low FPR)")
    axes[0].legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    return figure
