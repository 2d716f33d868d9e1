"""Nodes of the monitoring stage."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from tai_project.trust.drift import image_statistics, ks_feature_drift


def make_production_batches(
    model_input: dict[str, np.ndarray], params: dict[str, Any], seed: int
) -> dict[str, np.ndarray]:
    """Return the default production batches: the test split as is (``clean``) and a copy
    with lower contrast and sensor noise (``shifted``), both with their labels."""
    rng = np.random.default_rng(seed)
    clean = model_input["test_pixels"].astype(np.float32)
    contrast = params["shift"]["contrast"]
    shifted = contrast * clean + (1 - contrast) * 128 + rng.normal(
        0, params["shift"]["noise_std"], size=clean.shape
    )
    return {
        "clean_pixels": clean,
        "clean_labels": model_input["test_labels"],
        "shifted_pixels": np.clip(shifted, 0, 255).astype(np.float32),
        "shifted_labels": model_input["test_labels"],
    }


def assess_drift(
    model_input: dict[str, np.ndarray],
    production_batches: dict[str, np.ndarray],
    champion_model: Any,
    deployment_record: dict[str, Any],
    params: dict[str, Any],
    data_schema: dict[str, Any],
) -> dict[str, Any]:
    """Return the drift report: per batch, a KS test per image statistic against the training
    split, the champion's accuracy and mean confidence, and a retrain recommendation."""
    reference = image_statistics(model_input["train_pixels"])
    batches = {}
    for name in _batch_names(production_batches):
        pixels = production_batches[f"{name}_pixels"]
        features = ks_feature_drift(reference, image_statistics(pixels), alpha=params["alpha"])
        scored = champion_model.predict(pixels)
        labels = [data_schema["classes"][i] for i in production_batches[f"{name}_labels"]]
        batches[name] = {
            "n_images": len(pixels),
            "features": [vars(feature) for feature in features],
            "drifted_features": [f.feature for f in features if f.drifted],
            "accuracy": float(np.mean(scored["label"].to_numpy() == np.asarray(labels))),
            "mean_confidence": float(scored["confidence"].mean()),
        }
    retrain = sorted(name for name, batch in batches.items() if batch["drifted_features"])
    return {
        "champion_version": deployment_record["champion"],
        "alpha": params["alpha"],
        "batches": batches,
        "recommendation": "retrain" if retrain else "ok",
        "reasons": [f"batch '{name}' drifted in {batches[name]['drifted_features']}" for name in retrain],
    }


def _batch_names(production_batches: dict[str, np.ndarray]) -> list[str]:
    return sorted(key.removesuffix("_pixels") for key in production_batches if key.endswith("_pixels"))


def plot_drift(
    model_input: dict[str, np.ndarray], production_batches: dict[str, np.ndarray]
) -> Figure:
    """Return histograms of each image statistic: training reference against every batch."""
    reference = image_statistics(model_input["train_pixels"])
    names = _batch_names(production_batches)
    statistics = {name: image_statistics(production_batches[f"{name}_pixels"]) for name in names}
    figure, axes = plt.subplots(1, len(reference), figsize=(3 * len(reference), 3))
    for axis, feature in zip(np.atleast_1d(axes), reference):
        axis.hist(reference[feature], bins=30, density=True, alpha=0.5, label="train (reference)")
        for name in names:
            axis.hist(statistics[name][feature], bins=30, density=True, alpha=0.5, label=name)
        axis.set_title(f"pixel {feature}")
    np.atleast_1d(axes)[0].legend(fontsize="small")
    figure.tight_layout()
    return figure
