"""Nodes of the model evaluation stage."""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tai_project import image_layout
from tai_project.data_description import (
    GROUP_SEPARATOR,
    describe_input,
    group_columns,
    input_schema,
)
from tai_project.errors import ParameterError
from tai_project.evidence import measure_evidence
from tai_project.lazy import lazy_module
from tai_project.pipelines.tracking import as_metric_history
from tai_project.trust.conformal import evaluate_conformal
from tai_project.trust.hints import TrainingSettings
from tai_project.trust.requirements import (
    CHAMPION_PREFIX,
    GateReport,
    RequirementCheck,
    check_requirements,
    parse_requirements,
)
from tai_project.trust.selective import (
    apply_threshold,
    choose_confidence_threshold,
    risk_coverage_curve,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from tai_project.models.network import SmallCNN

calibration = lazy_module("tai_project.trust.calibration")
fairness = lazy_module("tai_project.trust.fairness")
networks = lazy_module("tai_project.models.network")
plt = lazy_module("matplotlib.pyplot")
privacy = lazy_module("tai_project.trust.privacy")
robustness = lazy_module("tai_project.trust.robustness")
skmetrics = lazy_module("sklearn.metrics")
training = lazy_module("tai_project.models.training")
transparency = lazy_module("tai_project.trust.transparency")

logger = logging.getLogger(__name__)


def predict_test_split(
    network: SmallCNN, model_input: dict[str, np.ndarray], params: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Return class probabilities on the test split with its true labels and groups."""
    probabilities = training.predict_proba(
        network, model_input["test_pixels"], batch_size=params["batch_size"],
        device=networks.resolve_device(params["device"]),
    )
    return {
        "probabilities": probabilities,
        "labels": model_input["test_labels"],
        "groups": model_input["test_groups"],
    }


def compute_performance_metrics(
    predictions: dict[str, np.ndarray], data_schema: dict[str, Any]
) -> dict[str, float]:
    """Return test accuracy and recall per class (the group metrics, with their intervals,
    are ``compute_fairness_metrics``'s)."""
    y_true = predictions["labels"]
    y_pred = predictions["probabilities"].argmax(axis=1)
    recalls = skmetrics.recall_score(
        y_true, y_pred, labels=range(len(data_schema["classes"])), average=None, zero_division=0
    )
    return {
        "accuracy": float(skmetrics.accuracy_score(y_true, y_pred)),
        **{f"recall_class_{c}": float(r) for c, r in zip(data_schema["classes"], recalls)},
        "n_test": len(y_true),
    }


def plot_confusion_matrix(
    predictions: dict[str, np.ndarray], data_schema: dict[str, Any]
) -> Figure:
    """Return the test-split confusion matrix (rows: true class, columns: predicted)."""
    figure, axis = plt.subplots(figsize=(6, 5.5))
    skmetrics.ConfusionMatrixDisplay.from_predictions(
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
    network: SmallCNN, model_input: dict[str, np.ndarray], trust_requirements: dict[str, Any],
    model_engineering: dict[str, Any],
    calibration_params: dict[str, Any],
    *metric_sets: dict[str, Any],
) -> dict[str, Any]:
    """Return the gate report: each requirement with measured value, threshold and status;
    the evidence it rests on (``measure_evidence``: the SHA-256 of the network, model input
    and requirements measured), which deployment compares with what it registers; and per
    failed requirement what to try under this run's settings (DP on or off, the fairness
    mitigation, temperature scaling; ``trust/hints.py``).

    ``metric_sets`` are the flat metric dicts of any stage (data profile, performance, ...);
    a new trust metric reaches the gate by adding its dataset to this node's inputs. A
    ``NOT_COMPARED`` entry (``select_comparable_champion``) adds a row saying why the
    non-regression rows have no champion to compare with.
    """
    measured: dict[str, float] = {}
    notes = []
    for metrics in metric_sets:
        measured.update(
            {k: v for k, v in metrics.items()
             if isinstance(v, int | float) and not isinstance(v, bool)}
        )
        notes += [metrics[NOT_COMPARED]] if NOT_COMPARED in metrics else []
    setup = model_engineering["training_setup"]
    settings = TrainingSettings(
        differential_privacy=bool(setup["privacy"]["enabled"]),
        fairness_mitigation=str(setup["fairness_mitigation"]),
        temperature_scaling=bool(calibration_params["temperature_scaling"]),
    )
    report = check_requirements(parse_requirements(trust_requirements), measured)
    rows = tuple(RequirementCheck("non_regression", note, "input_schema", None, None, "n/a")
                 for note in notes)
    report = GateReport(checks=report.checks + rows, measured=report.measured,
                        champion_version=report.champion_version)
    return {**report.with_hints(settings).to_dict(),
            "evidence": measure_evidence(network, model_input, trust_requirements)}


NOT_COMPARED = f"{CHAMPION_PREFIX}not_compared"
"""Why the champion's metrics were withheld from the non-regression check."""


def select_comparable_champion(
    champion_metrics: dict[str, float], champion_input: dict[str, Any],
    data_schema: dict[str, Any],
) -> dict[str, Any]:
    """Return the champion's metrics for non-regression when the champion takes the same
    input as this model (image height, width, mode and classes: ``input_schema``); else
    only ``NOT_COMPARED``, a sentence naming both schemas (a model of another dataset is
    no baseline). A champion registered without a recorded schema is compared as before."""
    recorded = champion_input.get("input_schema")
    own = input_schema(data_schema)
    if not champion_metrics or recorded is None or recorded == own:
        return champion_metrics
    return {NOT_COMPARED: (
        f"champion v{champion_input['version']} not compared: it takes "
        f"{describe_input(recorded)}, this model {describe_input(own)}")}


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
    chosen = privacy.balanced_membership_split(
        len(model_input["train_labels"]), len(holdout_labels), seed=seed,
        max_per_side=params["max_per_side"],
    )
    def probabilities(pixels: np.ndarray) -> np.ndarray:
        return training.predict_proba(network, pixels, batch_size=inference["batch_size"],
                                      device=networks.resolve_device(inference["device"]))
    attacks = privacy.membership_inference(
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
# --- reliability (RL) and autonomy & control (AC) -------------------------------------------

_EVALUATED_SPLITS = ("calibration", "test")


def predict_evaluation_logits(
    network: SmallCNN, model_input: dict[str, np.ndarray], params: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Return ``<split>_logits`` and ``<split>_labels`` of the calibration and test splits."""
    device = networks.resolve_device(params["device"])
    out = {}
    for split in _EVALUATED_SPLITS:
        out[f"{split}_logits"] = training.predict_logits(
            network, model_input[f"{split}_pixels"], batch_size=params["batch_size"], device=device
        )
        out[f"{split}_labels"] = model_input[f"{split}_labels"]
    return out


def calibrate_confidence(
    evaluation_logits: dict[str, np.ndarray], params: dict[str, Any]
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Return calibration metrics on the test split and the probabilities the deployed model
    gives on calibration and test. With ``temperature_scaling`` on, the temperature is fitted
    on the calibration split; ``ece`` is the deployed model's, before/after are both reported."""
    n_bins = params["n_bins"]
    temperature = 1.0
    if params["temperature_scaling"]:
        temperature = calibration.fit_temperature(
            evaluation_logits["calibration_logits"], evaluation_logits["calibration_labels"]
        )
    probabilities = {
        f"{split}_probabilities": calibration.scale_logits(evaluation_logits[f"{split}_logits"], temperature)
        for split in _EVALUATED_SPLITS
    }
    labels = {f"{s}_labels": evaluation_logits[f"{s}_labels"] for s in _EVALUATED_SPLITS}
    test, y = probabilities["test_probabilities"], labels["test_labels"]
    unscaled = calibration.scale_logits(evaluation_logits["test_logits"], 1.0)
    metrics = {
        "temperature": temperature,
        "ece": calibration.expected_calibration_error(test, y, n_bins=n_bins),
        "ece_before_scaling": calibration.expected_calibration_error(unscaled, y, n_bins=n_bins),
        "ece_after_scaling": calibration.expected_calibration_error(test, y, n_bins=n_bins),
        "mce": calibration.maximum_calibration_error(test, y, n_bins=n_bins),
        "brier_score": calibration.brier_score(test, y),
    }
    return metrics, {**probabilities, **labels}


def plot_reliability_diagram(
    evaluation_logits: dict[str, np.ndarray], calibration_metrics: dict[str, float],
    params: dict[str, Any],
) -> Figure:
    """Return the test-split reliability diagram (accuracy against confidence per bin) before
    and after temperature scaling, and the confidence histogram."""
    logits, labels = evaluation_logits["test_logits"], evaluation_logits["test_labels"]
    figure, (diagram, histogram) = plt.subplots(1, 2, figsize=(10, 4))
    diagram.plot([0, 1], [0, 1], "k:", label="perfect calibration")
    for name, temperature in (("network", 1.0), ("deployed", calibration_metrics["temperature"])):
        probabilities = calibration.scale_logits(logits, temperature)
        bins = calibration.reliability_bins(probabilities, labels, n_bins=params["n_bins"])
        filled = bins.count > 0
        ece = calibration.expected_calibration_error(probabilities, labels, n_bins=params["n_bins"])
        diagram.plot(bins.confidence[filled], bins.accuracy[filled], "o-",
                     label=f"{name} (T={temperature:.2f}, ECE={ece:.3f})")
        histogram.hist(probabilities.max(axis=1), bins=bins.edges,
                       alpha=0.5, label=name)
    diagram.set(title="Reliability diagram (test split)", xlabel="confidence", ylabel="accuracy",
                xlim=(0, 1), ylim=(0, 1.02))
    diagram.legend(fontsize="small")
    histogram.set(title="Top-1 confidence", xlabel="confidence", ylabel="images", yscale="log")
    histogram.legend(fontsize="small")
    figure.tight_layout()
    return figure


def compute_conformal_metrics(
    calibrated_probabilities: dict[str, np.ndarray], params: dict[str, Any], seed: int
) -> dict[str, float]:
    """Return split-conformal coverage and mean set size on test, calibrated on the
    calibration split (method LAC or APS, miscoverage ``alpha``; APS randomised with ``seed``
    when ``randomized``)."""
    result = evaluate_conformal(
        (calibrated_probabilities["calibration_probabilities"],
         calibrated_probabilities["calibration_labels"]),
        (calibrated_probabilities["test_probabilities"], calibrated_probabilities["test_labels"]),
        alpha=params["alpha"],
        method=params["method"],
        seed=seed if params["randomized"] else None,
    )
    return {
        "conformal_alpha": result.alpha,
        "conformal_threshold": min(result.threshold, 1.0),  # inf (every class) shown as 1
        "conformal_coverage": result.coverage,
        "conformal_mean_set_size": result.mean_set_size,
    }


def _confidence_and_correct(
    calibrated_probabilities: dict[str, np.ndarray], split: str
) -> tuple[np.ndarray, np.ndarray]:
    probabilities = calibrated_probabilities[f"{split}_probabilities"]
    correct = probabilities.argmax(axis=1) == calibrated_probabilities[f"{split}_labels"]
    return probabilities.max(axis=1), correct


def compute_selective_metrics(
    calibrated_probabilities: dict[str, np.ndarray], params: dict[str, Any]
) -> dict[str, float]:
    """Return the confidence threshold chosen on the calibration split for the target
    selective accuracy, and on test: abstention rate, selective accuracy and AURC."""
    threshold = choose_confidence_threshold(
        *_confidence_and_correct(calibrated_probabilities, "calibration"),
        target_accuracy=params["target_accuracy"],
    )
    confidence, correct = _confidence_and_correct(calibrated_probabilities, "test")
    test = apply_threshold(confidence, correct, threshold=threshold)
    return {
        "target_selective_accuracy": float(params["target_accuracy"]),
        "confidence_threshold": threshold,
        "abstention_rate": test.abstention_rate,
        "selective_accuracy": test.selective_accuracy,
        "aurc": risk_coverage_curve(confidence, correct).aurc,
    }


def plot_risk_coverage(
    calibrated_probabilities: dict[str, np.ndarray], selective_metrics: dict[str, float]
) -> Figure:
    """Return the test-split risk-coverage curve with the operating point of the threshold."""
    confidence, correct = _confidence_and_correct(calibrated_probabilities, "test")
    curve = risk_coverage_curve(confidence, correct)
    figure, axis = plt.subplots(figsize=(5.5, 4))
    axis.plot(curve.coverage, curve.risk, label=f"AURC = {curve.aurc:.4f}")
    axis.plot(1 - selective_metrics["abstention_rate"], 1 - selective_metrics["selective_accuracy"],
              "ro", label=f"threshold {selective_metrics['confidence_threshold']:.3f}")
    axis.set(title="Risk-coverage (test split)", xlabel="coverage (share decided by the model)",
             ylabel="selective risk (error rate)", xlim=(0, 1.01))
    axis.legend()
    figure.tight_layout()
    return figure


def evaluate_corruption_robustness(
    network: SmallCNN,
    perturbed_sets: dict[str, np.ndarray],
    performance_metrics: dict[str, float],
    params: dict[str, Any],
) -> dict[str, Any]:
    """Return accuracy per corruption and severity, the mean corruption accuracy and the
    relative drop against the clean test accuracy."""
    device = networks.resolve_device(params["device"])
    accuracy: dict[str, list[float]] = {}
    for key in sorted(k for k in perturbed_sets if k != "labels"):  # <corruption>_<severity>
        name, severity = key.rsplit("_", 1)
        probabilities = training.predict_proba(network, perturbed_sets[key],
                                               batch_size=params["batch_size"], device=device)
        levels = accuracy.setdefault(name, [])
        levels.extend([float("nan")] * (int(severity) - len(levels)))
        levels[int(severity) - 1] = float(skmetrics.accuracy_score(perturbed_sets["labels"],
                                                                   probabilities.argmax(axis=1)))
    for name, levels in accuracy.items():
        logger.info("Corruption %s: test accuracy by severity %s", name,
                    ", ".join(f"{value:.3f}" for value in levels))
    return vars(robustness.summarise_corruptions(performance_metrics["accuracy"], accuracy))


def plot_corruption_robustness(corruption_report: dict[str, Any]) -> Figure:
    """Return test accuracy against severity, one line per corruption, with clean accuracy."""
    figure, axis = plt.subplots(figsize=(6, 4))
    for name, levels in corruption_report["accuracy"].items():
        axis.plot(range(1, len(levels) + 1), levels, "o-", label=name)
    axis.axhline(corruption_report["clean_accuracy"], color="k", linestyle=":", label="clean")
    axis.set_xticks(range(1, max(map(len, corruption_report["accuracy"].values())) + 1))
    axis.set(title="Accuracy under corruption (test split)", xlabel="severity",
             ylabel="accuracy", ylim=(0, 1.02))
    axis.legend(fontsize="small")
    figure.tight_layout()
    return figure


def evaluate_adversarial_robustness(
    network: SmallCNN,
    model_input: dict[str, np.ndarray],
    params: dict[str, Any],
    data_schema: dict[str, Any],
    seed: int,
) -> dict[str, float]:
    """Return clean, FGSM, PGD and worst-case robust accuracy at ``eps`` on a seeded sample of
    ``n_samples`` test images (L-infinity, pixel units)."""
    rng = np.random.default_rng(seed)
    n_test = len(model_input["test_labels"])
    rows = np.sort(rng.choice(n_test, size=min(params["n_samples"], n_test), replace=False))
    result = robustness.adversarial_robustness(
        copy.deepcopy(network).cpu(),
        model_input["test_pixels"][rows],
        model_input["test_labels"][rows],
        eps=params["eps"],
        steps=params["pgd_steps"],
        step_size=params["pgd_step_size"],
        pixel_range=tuple(data_schema["pixel_range"]),
        seed=seed,
    )
    return {
        "adversarial_eps": result.eps,
        "adversarial_clean_accuracy": result.clean_accuracy,
        "fgsm_accuracy": result.fgsm_accuracy,
        "pgd_accuracy": result.pgd_accuracy,
        "adversarial_accuracy": result.robust_accuracy,
    }


def collect_reliability_metrics(
    calibration_metrics: dict[str, float],
    conformal_metrics: dict[str, float],
    corruption_report: dict[str, Any],
    adversarial_metrics: dict[str, float],
    selective_metrics: dict[str, float],
) -> dict[str, float]:
    """Return one flat dict of every reliability and autonomy metric (the gate's input)."""
    corruption = {
        f"corruption_accuracy_{name}_{severity}": value
        for name, levels in corruption_report["accuracy"].items()
        for severity, value in enumerate(levels, start=1)
    }
    return {
        **calibration_metrics,
        **conformal_metrics,
        **corruption,
        "mean_corruption_accuracy": corruption_report["mean_corruption_accuracy"],
        "relative_corruption_drop": corruption_report["relative_drop"],
        **adversarial_metrics,
        **selective_metrics,
    }


def build_inference_policy(reliability_metrics: dict[str, float]) -> dict[str, float]:
    """Return what the deployed model applies on top of the network: the temperature and the
    confidence threshold below which it refers the case to a human."""
    return {
        "temperature": reliability_metrics["temperature"],
        "confidence_threshold": reliability_metrics["confidence_threshold"],
    }


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
    result = fairness.group_fairness(
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
    columns = group_columns(data_schema)
    if name in columns:
        groups = model_input["test_groups"].astype(str)
        if len(columns) == 1:
            return groups
        return np.array([group.split(GROUP_SEPARATOR)[columns.index(name)] for group in groups])
    key = f"test_{name}"
    if key not in model_input:
        raise ParameterError(
            f"model_evaluation.fairness.sensitive_features names {name!r}, but model_input has "
            f"no array {key!r} (it has {sorted(model_input)}). Use the group columns of the "
            f"dataset description (dataset.group_columns in conf/base/globals.yml: {columns}) "
            "or carry the column into model_input."
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
            f"{subset}_predictions": training.predict_proba(
                network, pixels, batch_size=len(pixels), device=networks.resolve_device("cpu")
            ).argmax(axis=1),
        }
        for method in params["methods"]:
            result[f"{subset}_{method}"] = transparency.attribute(
                network, pixels, labels, method=method, baseline=params["baseline"],
                n_steps=params["ig_steps"],
                internal_batch_size=params.get("ig_internal_batch_size"),
            )
    return result


def assess_faithfulness(
    network: SmallCNN, attributions: dict[str, np.ndarray], params: dict[str, Any], seed: int
) -> tuple[dict[str, Any], dict[str, float]]:
    """Return the deletion curves of each attribution method on the test sample against a
    random pixel order, and the flat metrics: ``deletion_faithfulness_ratio`` (the method
    named by ``params.faithfulness_method``, checked by the gate) and one per method."""
    curves = {
        method: transparency.deletion_curve(
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
        image, style = image_layout.displayable(attributions[f"{subset}_pixels"][row],
                                                tuple(data_schema["pixel_range"]))
        axis_row[0].imshow(image, **style)
        axis_row[0].set_title(
            f"true {classes[attributions[f'{subset}_labels'][row]]}, "
            f"pred {classes[attributions[f'{subset}_predictions'][row]]}", fontsize=8)
        for axis, method in zip(axis_row[1:], methods):
            values = image_layout.per_pixel(attributions[f"{subset}_{method}"][row])
            limit = float(np.abs(values).max()) or 1.0
            axis.imshow(image, **style)
            axis.imshow(values, cmap="bwr", vmin=-limit, vmax=limit, alpha=0.6)
            axis.set_title(method.replace("_", " "), fontsize=8)
    for axis in axes.ravel():
        axis.axis("off")
    figure.suptitle(
        f"Attributions towards the true class ({subset} images; summed over channels; "
        "red = for, blue = against)"
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
        maps = transparency.class_attribution_map(
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
