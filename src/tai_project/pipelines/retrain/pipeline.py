"""Retrain: the labelled production batch joins the data, then model engineering, model
evaluation (the gate) and deployment run as in the default run: the retrained model becomes
champion only if it passes the gate."""

from kedro.pipeline import Node, Pipeline

from tai_project.pipelines import deployment, model_engineering, model_evaluation
from tai_project.pipelines.monitoring.nodes import load_production_batch

from .nodes import merge_production_batch


def create_pipeline(**kwargs) -> Pipeline:
    prepare = Pipeline(
        [
            Node(load_production_batch,
                 ["production_batch_images", "production_batch_metadata",
                  "params:monitoring.batch", "params:data_schema", "model_input"],
                 "production_batch", name="load_production_batch"),
            Node(merge_production_batch,
                 ["model_input", "production_batch", "params:monitoring.batch",
                  "params:merge", "params:seed", "params:data_schema"],
                 "retrain_model_input", name="merge_production_batch"),
        ],
        namespace="retrain",
        inputs={"model_input", "production_batch_images", "production_batch_metadata"},
        parameters={"params:monitoring.batch", "params:data_schema", "params:seed"},
    )
    stages = (model_engineering.create_pipeline() + model_evaluation.create_pipeline()
              + deployment.create_pipeline())
    return prepare + Pipeline(stages, inputs={"model_input": "retrain.retrain_model_input"})
