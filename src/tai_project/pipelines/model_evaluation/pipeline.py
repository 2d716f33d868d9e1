"""Model evaluation: measure the trust metrics on the test split and check the requirements."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    attack_membership,
    build_inference_policy,
    calibrate_confidence,
    check_trust_gate,
    collect_reliability_metrics,
    compute_conformal_metrics,
    compute_performance_metrics,
    compute_privacy_metrics,
    compute_selective_metrics,
    evaluate_adversarial_robustness,
    evaluate_corruption_robustness,
    metrics_for_mlflow,
    plot_confusion_matrix,
    plot_corruption_robustness,
    plot_membership_roc,
    plot_reliability_diagram,
    plot_risk_coverage,
    predict_evaluation_logits,
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
            *_reliability_nodes(),
            Node(
                check_trust_gate,
                # the requirements as written now, then every metric set the gate checks
                ["params:trust_requirements", "data_profile", "performance_metrics",
                 "privacy_metrics", "reliability_metrics"],
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
        inputs={"trained_network", "model_input", "data_profile", "privacy_budget",
                "perturbed_sets"},
        outputs={"gate_report", "performance_metrics", "privacy_metrics",
                 "reliability_metrics", "inference_policy"},
        parameters={"params:data_schema", "params:trust_requirements", "params:seed"},
    )


def _reliability_nodes() -> list[Node]:
    """Reliability (calibration, conformal sets, corruption and adversarial robustness) and
    autonomy & control (selective prediction, the referral threshold of the deployed model)."""
    return [
        Node(predict_evaluation_logits, ["trained_network", "model_input", "params:inference"],
             "evaluation_logits", name="predict_evaluation_logits"),
        Node(calibrate_confidence, ["evaluation_logits", "params:calibration"],
             ["calibration_metrics", "calibrated_probabilities"], name="calibrate_confidence"),
        Node(plot_reliability_diagram,
             ["evaluation_logits", "calibration_metrics", "params:calibration"],
             "reliability_diagram_plot", name="plot_reliability_diagram"),
        Node(compute_conformal_metrics,
             ["calibrated_probabilities", "params:conformal", "params:seed"],
             "conformal_metrics", name="compute_conformal_metrics"),
        Node(compute_selective_metrics, ["calibrated_probabilities", "params:selective"],
             "selective_metrics", name="compute_selective_metrics"),
        Node(plot_risk_coverage, ["calibrated_probabilities", "selective_metrics"],
             "risk_coverage_plot", name="plot_risk_coverage"),
        Node(evaluate_corruption_robustness,
             ["trained_network", "perturbed_sets", "performance_metrics", "params:inference"],
             "corruption_report", name="evaluate_corruption_robustness"),
        Node(plot_corruption_robustness, "corruption_report", "corruption_robustness_plot",
             name="plot_corruption_robustness"),
        Node(evaluate_adversarial_robustness,
             ["trained_network", "model_input", "params:adversarial", "params:data_schema",
              "params:seed"],
             "adversarial_metrics", name="evaluate_adversarial_robustness"),
        Node(collect_reliability_metrics,
             ["calibration_metrics", "conformal_metrics", "corruption_report",
              "adversarial_metrics", "selective_metrics"],
             "reliability_metrics", name="collect_reliability_metrics"),
        Node(metrics_for_mlflow, "reliability_metrics", "reliability_mlflow_metrics",
             name="reliability_metrics_for_mlflow"),
        Node(build_inference_policy, "reliability_metrics", "inference_policy",
             name="build_inference_policy"),
    ]
