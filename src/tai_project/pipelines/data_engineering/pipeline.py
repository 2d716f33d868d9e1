"""Data engineering: minimise the metadata, split it, build the model input arrays."""

from kedro.pipeline import Node, Pipeline

from .nodes import build_model_input, minimise_metadata, split_dataset, validate_splits


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                minimise_metadata,
                ["validated_metadata", "params:keep_columns"],
                "minimal_metadata",
                name="minimise_metadata",
            ),
            Node(
                split_dataset,
                ["minimal_metadata", "params:split", "params:data_schema", "params:seed"],
                "proposed_split",
                name="split_dataset",
            ),
            Node(
                validate_splits,
                ["proposed_split", "minimal_metadata", "params:data_schema",
                 "params:split_checks"],
                ["split_table", "split_data_docs"],
                name="validate_splits",
            ),
            Node(
                build_model_input,
                ["validated_images", "minimal_metadata", "split_table", "params:data_schema"],
                "model_input",
                name="build_model_input",
            ),
        ],
        namespace="data_engineering",
        inputs={"validated_images", "validated_metadata"},
        outputs={"model_input", "split_table"},
        parameters={"params:data_schema", "params:seed"},
    )
