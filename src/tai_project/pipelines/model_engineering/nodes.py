"""Nodes of the model engineering stage."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np

from tai_project.errors import ParameterError
from tai_project.image_layout import image_channels
from tai_project.lazy import lazy_module
from tai_project.pipelines.tracking import as_metric_history

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from tai_project.models.network import SmallCNN

fairness = lazy_module("tai_project.trust.fairness")
networks = lazy_module("tai_project.models.network")
plt = lazy_module("matplotlib.pyplot")
private_training = lazy_module("tai_project.models.private_training")
training = lazy_module("tai_project.models.training")

FAIRNESS_MITIGATIONS = ("none", "reweight_groups")


def train_classifier(
    model_input: dict[str, np.ndarray],
    params: dict[str, Any],
    data_schema: dict[str, Any],
    seed: int,
) -> tuple[SmallCNN, list[dict[str, float]], dict[str, Any]]:
    """Return the trained network (``params.network.architecture``: ``small_cnn`` or
    ``resnet18``; input channels from ``data_schema.image_mode``; best validation epoch),
    its per-epoch history and the
    privacy budget spent: DP-SGD when ``params.privacy.enabled`` (epsilon per epoch in the
    history), else the non-private loop and an infinite epsilon.

    ``params.fairness_mitigation``: ``none``, or ``reweight_groups`` to weight each image's
    loss so that every group (``data_schema.group_columns``) counts equally, in training and
    in the validation loss early stopping watches (non-private training only).
    """
    mitigation = params.get("fairness_mitigation", "none")
    training.seed_everything(seed)
    network = networks.network_from_parameters(
        params["network"],
        num_classes=len(data_schema["classes"]),
        in_channels=image_channels(data_schema),
        pixel_mean=np.asarray(model_input["pixel_mean"], dtype=np.float64).tolist(),
        pixel_std=np.asarray(model_input["pixel_std"], dtype=np.float64).tolist(),
    )
    train = (model_input["train_pixels"], model_input["train_labels"])
    validation = (model_input["validation_pixels"], model_input["validation_labels"])
    device = networks.resolve_device(params["device"])
    privacy = dict(params.get("privacy") or {"enabled": False})
    if privacy.pop("enabled"):
        if mitigation != "none":
            raise ParameterError(
                f"model_engineering.training_setup.fairness_mitigation is {mitigation!r} but "
                "privacy.enabled is true: loss reweighting is not supported with DP-SGD yet. "
                "Set fairness_mitigation: none, or privacy.enabled: false."
            )
        private = private_training.train_private_network(
            network, train, validation, config=private_training.PrivacyConfig(**privacy),
            device=device, seed=seed,
        )
        return private.training.network, private.training.history, asdict(private.budget)
    result = training.train_network(
        network,
        train,
        validation,
        config=training.TrainingConfig(**params["training"]),
        device=device,
        seed=seed,
        sample_weight=_mitigation_weights(model_input, "train", mitigation),
        validation_weight=_mitigation_weights(model_input, "validation", mitigation),
    )
    return result.network, result.history, asdict(private_training.PrivacyBudget.non_private())


def privacy_budget_to_metrics(privacy_budget: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Return the numeric fields of the privacy budget (epsilon, delta, noise multiplier,
    sample rate, steps) in kedro-mlflow's metric shape."""
    return as_metric_history(privacy_budget)


def _mitigation_weights(
    model_input: dict[str, np.ndarray], split: str, mitigation: str
) -> np.ndarray | None:
    if mitigation not in FAIRNESS_MITIGATIONS:
        raise ParameterError(
            f"model_engineering.training_setup.fairness_mitigation is {mitigation!r} in "
            f"conf/base/parameters/model_engineering.yml; expected one of {FAIRNESS_MITIGATIONS}."
        )
    if mitigation == "reweight_groups":
        return fairness.group_balanced_weights(model_input[f"{split}_groups"])
    return None


def history_to_metrics(history: list[dict[str, float]]) -> dict[str, list[dict[str, float]]]:
    """Return the history as MLflow metric histories (one step per epoch)."""
    names = [key for key in history[0] if key != "epoch"] if history else []
    return {
        name: [as_metric_history({name: row[name]}, step=int(row["epoch"]))[name] for row in history]
        for name in names
    }


def plot_training_history(history: list[dict[str, float]]) -> Figure:
    """Return loss curves (train, validation) and validation accuracy per epoch."""
    epochs = [row["epoch"] for row in history]
    figure, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.5))
    loss_ax.plot(epochs, [row["train_loss"] for row in history], label="train")
    loss_ax.plot(epochs, [row["val_loss"] for row in history], label="validation")
    loss_ax.set(title="Cross-entropy loss", xlabel="epoch")
    loss_ax.legend()
    acc_ax.plot(epochs, [row["val_accuracy"] for row in history])
    acc_ax.set(title="Validation accuracy", xlabel="epoch")
    figure.tight_layout()
    return figure
