"""Model evaluation: measure the trust metrics on the test split and check the requirements."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    assess_faithfulness,
    check_trust_gate,
    compute_fairness_metrics,
    compute_performance_metrics,
    explain_predictions,
    metrics_for_mlflow,
    plot_class_attribution_maps,
    plot_confusion_matrix,
    plot_deletion_curves,
    plot_group_fairness,
    plot_prototype_attributions,
    plot_test_attributions,
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
                 "fairness_metrics", "transparency_metrics"],
                "gate_report",
                name="check_trust_gate",
            ),
            # fairness (FN)
            Node(compute_fairness_metrics,
                 ["test_predictions", "model_input", "params:fairness", "params:data_schema",
                  "params:seed"],
                 ["fairness_report", "fairness_metrics"], name="compute_fairness_metrics"),
            Node(plot_group_fairness, "fairness_report", "fairness_plot",
                 name="plot_group_fairness"),
            Node(metrics_for_mlflow, "fairness_metrics", "fairness_mlflow_metrics",
                 name="fairness_metrics_for_mlflow"),
            # transparency (TR)
            Node(explain_predictions,
                 ["trained_network", "model_input", "prototypes", "params:transparency",
                  "params:seed"],
                 "attributions", name="explain_predictions"),
            Node(assess_faithfulness,
                 ["trained_network", "attributions", "params:transparency", "params:seed"],
                 ["transparency_report", "transparency_metrics"], name="assess_faithfulness"),
            Node(plot_prototype_attributions,
                 ["attributions", "params:transparency", "params:data_schema"],
                 "prototype_attribution_plot", name="plot_prototype_attributions"),
            Node(plot_test_attributions,
                 ["attributions", "params:transparency", "params:data_schema"],
                 "test_attribution_plot", name="plot_test_attributions"),
            Node(plot_class_attribution_maps,
                 ["attributions", "params:transparency", "params:data_schema"],
                 "class_attribution_plot", name="plot_class_attribution_maps"),
            Node(plot_deletion_curves, "transparency_report", "deletion_curve_plot",
                 name="plot_deletion_curves"),
            Node(metrics_for_mlflow, "transparency_metrics", "transparency_mlflow_metrics",
                 name="transparency_metrics_for_mlflow"),
        ],
        namespace="model_evaluation",
        inputs={"trained_network", "model_input", "data_profile", "prototypes"},
        outputs={"gate_report", "performance_metrics"},
        parameters={"params:data_schema", "params:trust_requirements", "params:seed"},
    )
