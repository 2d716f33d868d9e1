"""Monitoring: score production batches with the champion and test them for drift."""

from kedro.pipeline import Node, Pipeline

from .nodes import assess_drift, make_production_batches, plot_drift


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(make_production_batches, ["model_input", "params:production", "params:seed"],
                 "production_batches", name="make_production_batches"),
            Node(
                assess_drift,
                ["model_input", "production_batches", "champion_model", "deployment_record",
                 "params:drift", "params:data_schema"],
                "drift_report",
                name="assess_drift",
            ),
            Node(plot_drift, ["model_input", "production_batches"], "drift_plot",
                 name="plot_drift"),
        ],
        namespace="monitoring",
        inputs={"model_input", "champion_model", "deployment_record"},
        parameters={"params:data_schema", "params:seed"},
    )
