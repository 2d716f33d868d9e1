"""Nodes of the model evaluation stage."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, recall_score

from tai_project.errors import ConfigurationError
from tai_project.models.network import SmallCNN, resolve_device
from tai_project.models.training import predict_proba
from tai_project.pipelines.tracking import as_metric_history
from tai_project.trust.fairness import group_accuracy, group_fairness
from tai_project.trust.requirements import check_requirements, parse_requirements
from tai_project.trust.transparency import (
    attribute,
    class_attribution_map,
    deletion_curve,
)


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


# --- fairness (FN) and transparency (TR)


def compute_fairness_metrics(
    predictions: dict[str, np.ndarray],
    model_input: dict[str, np.ndarray],
    params: dict[str, Any],
    data_schema: dict[str, Any],
    seed: int,
) -> tuple[dict[str, Any], dict[str, float]]:
    """Return the fairness report (per group: accuracy with its bootstrap interval, size,
    recall per class) and the flat metrics the gate and MLflow read: worst-group accuracy,
    accuracy gap (both with ``_ci_low`` / ``_ci_high``), accuracy ratio, equalized-odds
    difference, and per-group accuracy and recall.

    ``params.sensitive_features`` names metadata columns; several give intersectional groups.
    """
    features = list(params["sensitive_features"])
    sensitive = pd.DataFrame(
        {name: _test_feature(model_input, name, data_schema) for name in features}
    )
    result = group_fairness(
        predictions["labels"], predictions["probabilities"].argmax(axis=1),
        sensitive_features=sensitive, labels=range(len(data_schema["classes"])),
        n_boot=params["n_boot"], confidence_level=params["confidence_level"], random_state=seed,
    )
    prefix = "_".join(features)
    metrics: dict[str, float] = {}
    for name in ("worst_group_accuracy", "accuracy_gap"):
        interval = getattr(result, f"{name}_interval")
        metrics |= {name: getattr(result, name), f"{name}_ci_low": interval.low,
                    f"{name}_ci_high": interval.high}
    metrics |= {"accuracy_ratio": result.accuracy_ratio,
                "equalized_odds_difference": result.equalized_odds_difference}
    for group, accuracy in result.by_group.items():
        label = f"{prefix}_{group.replace('|', '_')}"
        metrics |= {f"accuracy_{label}": accuracy,
                    f"accuracy_{label}_ci_low": result.by_group_interval[group].low,
                    f"accuracy_{label}_ci_high": result.by_group_interval[group].high,
                    f"n_{label}": result.group_sizes[group]}
        metrics |= {f"recall_{label}_class_{data_schema['classes'][int(c)]}": r
                    for c, r in result.recall_by_group[group].items() if not np.isnan(r)}
    report = {"sensitive_features": features, **_jsonable(vars(result))}
    return report, metrics


def _test_feature(
    model_input: dict[str, np.ndarray], name: str, data_schema: dict[str, Any]
) -> np.ndarray:
    key = "test_groups" if name == data_schema["group_column"] else f"test_{name}"
    if key not in model_input:
        raise ConfigurationError(
            f"model_evaluation.fairness.sensitive_features names {name!r}, but model_input has "
            f"no array {key!r} (it has {sorted(model_input)}). Use data_schema.group_column "
            f"({data_schema['group_column']!r}) or carry the column into model_input."
        )
    return model_input[key].astype(str)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return _jsonable(vars(value))
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def plot_group_fairness(fairness_report: dict[str, Any]) -> Figure:
    """Return per-group test accuracy with bootstrap intervals, and recall per class per group."""
    groups = list(fairness_report["by_group"])
    accuracy = np.array([fairness_report["by_group"][g] for g in groups])
    intervals = np.array([[fairness_report["by_group_interval"][g][k] for k in ("low", "high")]
                          for g in groups])
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.errorbar(groups, accuracy, yerr=[accuracy - intervals[:, 0], intervals[:, 1] - accuracy],
                  fmt="o", capsize=6)
    level = fairness_report["confidence_level"]
    left.set(title=f"Accuracy per group ({level:.0%} bootstrap interval)",
             xlabel=" x ".join(fairness_report["sensitive_features"]), ylabel="test accuracy")
    for group in groups:
        recall = fairness_report["recall_by_group"][group]
        right.plot(list(recall), [np.nan if r is None else r for r in recall.values()],
                   marker="o", label=f"{group} (n={fairness_report['group_sizes'][group]})")
    right.set(title="Recall per class and group", xlabel="class", ylabel="recall")
    right.legend(fontsize="small")
    figure.tight_layout()
    return figure


def explain_predictions(
    network: SmallCNN,
    model_input: dict[str, np.ndarray],
    prototypes: dict[str, np.ndarray],
    params: dict[str, Any],
    seed: int,
) -> dict[str, np.ndarray]:
    """Return Captum attributions (``params.methods``, towards the true class) for the
    prototypes and a seeded sample of ``params.n_test_images`` test images, with their
    pixels, true and predicted classes: keys ``<subset>_pixels``, ``_labels``,
    ``_predictions`` and ``<subset>_<method>`` for subset ``prototype`` and ``test``."""
    rng = np.random.default_rng(seed)
    n_test = min(params["n_test_images"], len(model_input["test_labels"]))
    rows = np.sort(rng.choice(len(model_input["test_labels"]), size=n_test, replace=False))
    subsets = {
        "prototype": (prototypes["pixels"], prototypes["labels"]),
        "test": (model_input["test_pixels"][rows], model_input["test_labels"][rows]),
    }
    result: dict[str, np.ndarray] = {}
    for subset, (raw_pixels, labels) in subsets.items():
        pixels = raw_pixels.astype(np.float32)
        result |= {
            f"{subset}_pixels": pixels,
            f"{subset}_labels": labels,
            f"{subset}_predictions": predict_proba(
                network, pixels, batch_size=len(pixels), device=resolve_device("cpu")
            ).argmax(axis=1),
        }
        for method in params["methods"]:
            result[f"{subset}_{method}"] = attribute(
                network, pixels, labels, method=method, baseline=params["baseline"],
                n_steps=params["ig_steps"],
            )
    return result


def assess_faithfulness(
    network: SmallCNN, attributions: dict[str, np.ndarray], params: dict[str, Any], seed: int
) -> tuple[dict[str, Any], dict[str, float]]:
    """Return the deletion curves of each attribution method on the test sample against a
    random pixel order, and the flat metrics: ``deletion_faithfulness_ratio`` (the method
    named by ``params.faithfulness_method``, checked by the gate) and one per method."""
    curves = {
        method: deletion_curve(
            network, attributions["test_pixels"], attributions["test_labels"],
            attributions[f"test_{method}"], fractions=params["deletion_fractions"],
            baseline=params["baseline"], n_random=params["n_random_orders"], random_state=seed,
        )
        for method in params["methods"]
    }
    metrics = {f"deletion_faithfulness_ratio_{m}": c.ratio for m, c in curves.items()}
    metrics |= {f"deletion_area_{m}": c.attribution_area for m, c in curves.items()}
    metrics["deletion_area_random"] = next(iter(curves.values())).random_area
    metrics["deletion_faithfulness_ratio"] = curves[params["faithfulness_method"]].ratio
    report = {
        "faithfulness_method": params["faithfulness_method"],
        "n_images": len(attributions["test_labels"]),
        "baseline_pixel_value": params["baseline"],
        "curves": {method: _jsonable(vars(curve)) for method, curve in curves.items()},
    }
    return report, metrics


def plot_prototype_attributions(
    attributions: dict[str, np.ndarray], params: dict[str, Any], data_schema: dict[str, Any]
) -> Figure:
    """Return the attribution grid of the first prototype of each class."""
    labels = attributions["prototype_labels"]
    rows = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
    return _attribution_grid(attributions, "prototype", rows, params["methods"], data_schema)


def plot_test_attributions(
    attributions: dict[str, np.ndarray], params: dict[str, Any], data_schema: dict[str, Any]
) -> Figure:
    """Return the attribution grid of the first ``params.grid_images`` sampled test images,
    misclassified ones first."""
    wrong = attributions["test_predictions"] != attributions["test_labels"]
    rows = np.argsort(~wrong, kind="stable")[: params["grid_images"]]
    return _attribution_grid(attributions, "test", list(rows), params["methods"], data_schema)


def _attribution_grid(
    attributions: dict[str, np.ndarray],
    subset: str,
    rows: list[int],
    methods: list[str],
    data_schema: dict[str, Any],
) -> Figure:
    classes = data_schema["classes"]
    figure, axes = plt.subplots(
        len(rows), 1 + len(methods), figsize=(2 * (1 + len(methods)), 2 * len(rows)),
        squeeze=False,
    )
    for axis_row, row in zip(axes, rows):
        image = attributions[f"{subset}_pixels"][row]
        axis_row[0].imshow(image, cmap="gray", vmin=0, vmax=255)
        axis_row[0].set_title(
            f"true {classes[attributions[f'{subset}_labels'][row]]}, "
            f"pred {classes[attributions[f'{subset}_predictions'][row]]}", fontsize=8)
        for axis, method in zip(axis_row[1:], methods):
            values = attributions[f"{subset}_{method}"][row]
            limit = float(np.abs(values).max()) or 1.0
            axis.imshow(image, cmap="gray", vmin=0, vmax=255)
            axis.imshow(values, cmap="bwr", vmin=-limit, vmax=limit, alpha=0.6)
            axis.set_title(method.replace("_", " "), fontsize=8)
    for axis in axes.ravel():
        axis.axis("off")
    figure.suptitle(
        f"Attributions towards the true class ({subset} images; red = for, blue = against)"
    )
    figure.tight_layout()
    return figure


def plot_class_attribution_maps(
    attributions: dict[str, np.ndarray], params: dict[str, Any], data_schema: dict[str, Any]
) -> Figure:
    """Return the global view: mean absolute attribution per class (rows: methods) over the
    sampled test images."""
    classes, methods = data_schema["classes"], params["methods"]
    figure, axes = plt.subplots(
        len(methods), len(classes), figsize=(1.3 * len(classes), 1.5 * len(methods)),
        squeeze=False,
    )
    for axis_row, method in zip(axes, methods):
        maps = class_attribution_map(
            attributions[f"test_{method}"], attributions["test_labels"], n_classes=len(classes)
        )
        for axis, label, heat in zip(axis_row, classes, maps):
            axis.imshow(heat, cmap="viridis")
            axis.set_title(f"{label}", fontsize=8)
            axis.set_xticks([])
            axis.set_yticks([])
        axis_row[0].set_ylabel(method.replace("_", "\n"), fontsize=8)
    figure.suptitle("Mean |attribution| per class (test sample)")
    figure.tight_layout()
    return figure


def plot_deletion_curves(transparency_report: dict[str, Any]) -> Figure:
    """Return the deletion curves: mean drop of the true-class probability against the share
    of pixels deleted, per attribution method and for a random order."""
    figure, axis = plt.subplots(figsize=(6, 4))
    curves = transparency_report["curves"]
    for method, curve in curves.items():
        axis.plot(curve["fractions"], curve["attribution_drop"], marker="o",
                  label=f"{method} (ratio {curve['ratio']:.2f})")
    first = next(iter(curves.values()))
    axis.plot(first["fractions"], first["random_drop"], "k--", label="random order")
    axis.set(title="Deletion curves (test sample)", xlabel="share of pixels deleted",
             ylabel="drop in true-class probability")
    axis.legend(fontsize="small")
    figure.tight_layout()
    return figure
