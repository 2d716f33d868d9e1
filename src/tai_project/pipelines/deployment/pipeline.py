"""Deployment: register every evaluated model with its model card; only a model that passed
the gate (and, when required, a human approval) becomes champion."""

from kedro.pipeline import Node, Pipeline

from .nodes import build_model_card, enforce_trust_gate, prepare_release


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                prepare_release,
                ["trained_network", "gate_report", "model_input",
                 "params:data_schema", "params:release", "inference_policy", "run_lineage",
                 "params:trust_requirements"],
                "model_registry",
                name="prepare_release",
            ),
            Node(
                build_model_card,
                ["model_card_content", "gate_report", "model_registry", "run_lineage",
                 "data_profile", "privacy_budget", "training_history",
                 "params:model_engineering", "report_images",
                 "params:model_evaluation.fairness.sensitive_features"],
                ["model_card_html", "model_card_json", "model_card_md"],
                name="build_model_card",
            ),
            Node(enforce_trust_gate, ["gate_report", "model_registry", "model_card_json"],
                 "deployment_record", name="enforce_trust_gate"),
        ],
        namespace="deployment",
        inputs={"trained_network", "gate_report", "model_input",
                "inference_policy", "data_profile", "privacy_budget", "training_history"},
        outputs={"model_registry", "deployment_record"},
        parameters={"params:data_schema", "params:model_engineering",
                    "params:trust_requirements",
                    "params:model_evaluation.fairness.sensitive_features"},
    )
