import numpy as np

from tai_project.pipelines.model_engineering.nodes import (
    history_to_metrics,
    plot_training_history,
    train_classifier,
)

HISTORY = [
    {"epoch": 1, "train_loss": 1.0, "val_loss": 0.9, "val_accuracy": 0.5},
    {"epoch": 2, "train_loss": 0.5, "val_loss": 0.6, "val_accuracy": 0.8},
]
PARAMS = {
    "device": "cpu",
    "network": {"channels": [4, 8], "groups": 2},
    "training": {"max_epochs": 2, "batch_size": 16, "learning_rate": 0.01,
                 "weight_decay": 0.0, "early_stopping_patience": 2},
}


def test_history_becomes_one_mlflow_step_per_epoch():
    metrics = history_to_metrics(HISTORY)
    assert metrics["val_loss"] == [{"value": 0.9, "step": 1}, {"value": 0.6, "step": 2}]
    assert set(metrics) == {"train_loss", "val_loss", "val_accuracy"}
    assert plot_training_history(HISTORY).axes


def test_train_classifier_stores_train_statistics_in_the_network():
    rng = np.random.default_rng(0)
    model_input = {
        "train_pixels": rng.integers(0, 256, (64, 8, 8)).astype(np.uint8),
        "train_labels": rng.integers(0, 3, 64),
        "validation_pixels": rng.integers(0, 256, (16, 8, 8)).astype(np.uint8),
        "validation_labels": rng.integers(0, 3, 16),
        "pixel_mean": np.array(101.5), "pixel_std": np.array(20.0),
    }
    schema = {"classes": [0, 1, 2], "image_mode": "L"}
    network, history, budget = train_classifier(model_input, PARAMS, schema, seed=3)
    assert budget["epsilon"] == float("inf")  # no privacy section: non-private training
    assert network.config["pixel_mean"] == [101.5] and network.config["num_classes"] == 3
    assert [row["epoch"] for row in history] == [1, 2]
