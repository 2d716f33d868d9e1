"""Model engineering: train the network, record its history."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    history_to_metrics,
    plot_training_history,
    privacy_budget_to_metrics,
    train_classifier,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                train_classifier,
                ["model_input", "params:training_setup", "params:data_schema", "params:seed"],
                ["trained_network", "training_history", "privacy_budget"],
                name="train_classifier",
            ),
            Node(privacy_budget_to_metrics, "privacy_budget", "privacy_budget_metrics",
                 name="privacy_budget_to_metrics"),
            Node(history_to_metrics, "training_history", "training_metrics",
                 name="history_to_metrics"),
            Node(plot_training_history, "training_history", "training_history_plot",
                 name="plot_training_history"),
        ],
        namespace="model_engineering",
        inputs={"model_input"},
        outputs={"trained_network", "training_history", "privacy_budget"},
        parameters={"params:data_schema", "params:seed"},
    )
