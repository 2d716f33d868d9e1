"""Model evaluation: measure the trust metrics on the test split and check the requirements."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    check_trust_gate,
    compute_performance_metrics,
    metrics_for_mlflow,
    plot_confusion_matrix,
    predict_test_split,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(predict_test_split, ["trained_network", "model_input", "params:inference"],
                 "test_predictions", name="predict_test_split"),
            Node(compute_performance_metrics, ["test_predictions", "params:data_schema"],
                 "performance_metrics", name="compute_performance_metrics"),
            Node(plot_confusion_matrix, ["test_predictions", "params:data_schema"],
                 "confusion_matrix_plot", name="plot_confusion_matrix"),
            Node(metrics_for_mlflow, "performance_metrics", "performance_mlflow_metrics",
                 name="metrics_for_mlflow"),
            Node(
                check_trust_gate,
                # the requirements as written now, then every metric set the gate checks
                ["params:trust_requirements", "data_profile", "performance_metrics"],
                "gate_report",
                name="check_trust_gate",
            ),
        ],
        namespace="model_evaluation",
        inputs={"trained_network", "model_input", "data_profile"},
        outputs={"gate_report", "performance_metrics"},
        parameters={"params:data_schema", "params:trust_requirements"},
    )
