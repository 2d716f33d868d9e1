"""Data engineering: minimise the metadata, split it, build the model input arrays."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    build_model_input,
    extract_prototypes,
    minimise_metadata,
    plot_prototypes,
    split_dataset,
)


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
                "split_table",
                name="split_dataset",
            ),
            Node(
                build_model_input,
                ["validated_images", "minimal_metadata", "split_table", "params:data_schema"],
                "model_input",
                name="build_model_input",
            ),
            Node(
                extract_prototypes,
                ["model_input", "params:prototypes", "params:seed"],
                "prototypes",
                name="extract_prototypes",
            ),
            Node(
                plot_prototypes,
                ["prototypes", "params:data_schema"],
                "prototypes_plot",
                name="plot_prototypes",
            ),
        ],
        namespace="data_engineering",
        inputs={"validated_images", "validated_metadata"},
        outputs={"model_input", "split_table", "prototypes"},
        parameters={"params:data_schema", "params:seed"},
    )
