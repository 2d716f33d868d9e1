"""Data engineering: minimise the metadata, split it, build the model input arrays, profile
the training noise and make the perturbed test sets."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    build_model_input,
    extract_prototypes,
    make_perturbed_sets,
    minimise_metadata,
    plot_prototypes,
    profile_noise,
    split_dataset,
    validate_splits,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                minimise_metadata,
                ["validated_metadata", "params:keep_columns", "params:forbidden_columns",
                 "params:data_schema"],
                "minimal_metadata",
                name="minimise_metadata",
            ),
            Node(
                split_dataset,
                ["minimal_metadata", "params:split", "params:data_schema", "params:seed",
                 "params:production_holdout"],
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
            Node(profile_noise, "model_input", "noise_profile", name="profile_noise"),
            Node(
                make_perturbed_sets,
                ["model_input", "noise_profile", "params:perturbations", "params:data_schema",
                 "params:seed"],
                "perturbed_sets",
                name="make_perturbed_sets",
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
        outputs={"model_input", "split_table", "perturbed_sets", "prototypes"},
        parameters={"params:data_schema", "params:seed"},
    )
