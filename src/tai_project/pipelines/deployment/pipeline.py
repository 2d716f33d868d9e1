"""Deployment: register every evaluated model; only a model that passed the gate is champion."""

from kedro.pipeline import Node, Pipeline

from .nodes import enforce_trust_gate, prepare_release


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                prepare_release,
                ["trained_network", "gate_report", "performance_metrics", "model_input",
                 "params:data_schema", "params:release", "inference_policy"],
                "model_registry",
                name="prepare_release",
            ),
            Node(enforce_trust_gate, ["gate_report", "model_registry"], "deployment_record",
                 name="enforce_trust_gate"),
        ],
        namespace="deployment",
        inputs={"trained_network", "gate_report", "performance_metrics", "model_input",
                "inference_policy"},
        outputs={"model_registry", "deployment_record"},
        parameters={"params:data_schema"},
    )
