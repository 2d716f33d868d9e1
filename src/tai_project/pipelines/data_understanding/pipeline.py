"""Data understanding: validate the trust requirements and the raw data, profile the data."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    build_representation_table,
    load_images,
    plot_data_profile,
    profile_data,
    screen_metadata,
    validate_trust_requirements,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                validate_trust_requirements,
                "params:trust_requirements",
                "trust_requirements",
                name="validate_trust_requirements",
            ),
            Node(
                screen_metadata,
                ["raw_metadata", "params:data_engineering.forbidden_columns"],
                "screened_metadata",
                name="screen_metadata",
            ),
            Node(
                load_images,
                ["raw_images", "screened_metadata", "params:data_schema", "params:data_quality"],
                ["validated_images", "validated_metadata", "image_statistics", "raw_data_docs"],
                name="load_images",
            ),
            Node(
                profile_data,
                ["validated_images", "validated_metadata", "params:data_schema"],
                "data_profile",
                name="profile_data",
            ),
            Node(
                plot_data_profile,
                ["validated_images", "validated_metadata", "params:data_schema"],
                "data_profile_plot",
                name="plot_data_profile",
            ),
            Node(
                build_representation_table,
                ["validated_metadata", "params:data_schema"],
                "representation_table",
                name="build_representation_table",
            ),
        ],
        namespace="data_understanding",
        inputs={"raw_images", "raw_metadata"},
        outputs={"trust_requirements", "validated_images", "validated_metadata", "data_profile"},
        parameters={"params:trust_requirements", "params:data_schema",
                    "params:data_engineering.forbidden_columns"},
    )
