"""Model evaluation: measure the trust metrics on the test split and check the requirements."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    attack_membership,
    check_trust_gate,
    compute_performance_metrics,
    compute_privacy_metrics,
    metrics_for_mlflow,
    plot_confusion_matrix,
    plot_membership_roc,
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
                ["params:trust_requirements", "data_profile", "performance_metrics",
                 "privacy_metrics"],
                "gate_report",
                name="check_trust_gate",
            ),
            # privacy (PR): membership-inference attack and the DP budget spent
            Node(attack_membership,
                 ["trained_network", "model_input", "params:membership_inference",
                  "params:inference", "params:seed"],
                 "membership_attack", name="attack_membership"),
            Node(compute_privacy_metrics, ["membership_attack", "privacy_budget"],
                 "privacy_metrics", name="compute_privacy_metrics"),
            Node(metrics_for_mlflow, "privacy_metrics", "privacy_mlflow_metrics",
                 name="privacy_metrics_for_mlflow"),
            Node(plot_membership_roc, "membership_attack", "membership_roc_plot",
                 name="plot_membership_roc"),
        ],
        namespace="model_evaluation",
        inputs={"trained_network", "model_input", "data_profile", "privacy_budget"},
        outputs={"gate_report", "performance_metrics", "privacy_metrics"},
        parameters={"params:data_schema", "params:trust_requirements", "params:seed"},
    )
