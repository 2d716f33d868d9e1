"""Monitoring: read a production batch, score it with the champion, test it for drift,
measure live trust metrics and recommend ok / warn / retrain."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    build_monitoring_report,
    detect_drift,
    load_production_batch,
    measure_live_metrics,
    monitoring_metrics,
    plot_embedding_drift,
    plot_feature_drift,
    recommend_action,
    render_monitoring_html,
    score_batch,
    score_reference,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(load_production_batch,
                 ["production_batch_images", "production_batch_metadata", "params:batch",
                  "params:data_schema", "model_input"],
                 "production_batch", name="load_production_batch"),
            Node(score_reference, ["champion_model", "deployment_record", "model_input", "params:reference",
                                   "params:seed"],
                 "reference_scores", name="score_reference"),
            Node(score_batch, ["champion_model", "deployment_record", "production_batch",
                               "params:batch"], "batch_scores",
                 name="score_batch"),
            Node(detect_drift, ["reference_scores", "production_batch", "batch_scores",
                                "params:drift", "params:seed"],
                 "drift_tests", name="detect_drift"),
            Node(measure_live_metrics, ["reference_scores", "production_batch", "batch_scores",
                                        "params:live", "params:data_schema", "params:seed"],
                 "live_metrics", name="measure_live_metrics"),
            Node(recommend_action, ["drift_tests", "live_metrics", "params:decision"],
                 "recommendation", name="recommend_action"),
            Node(build_monitoring_report,
                 ["production_batch", "drift_tests", "live_metrics", "recommendation",
                  "deployment_record", "params:batch"],
                 "monitoring_report", name="build_monitoring_report"),
            Node(render_monitoring_html, "monitoring_report", "monitoring_report_html",
                 name="render_monitoring_html"),
            Node(monitoring_metrics, "monitoring_report", "monitoring_mlflow_metrics",
                 name="monitoring_metrics_for_mlflow"),
            Node(plot_feature_drift, ["reference_scores", "production_batch", "params:batch"],
                 "feature_drift_plot", name="plot_feature_drift"),
            Node(plot_embedding_drift,
                 ["reference_scores", "batch_scores", "params:batch", "params:seed"],
                 "embedding_drift_plot", name="plot_embedding_drift"),
        ],
        namespace="monitoring",
        inputs={"model_input", "champion_model", "deployment_record",
                "production_batch_images", "production_batch_metadata"},
        parameters={"params:data_schema", "params:seed"},
    )
