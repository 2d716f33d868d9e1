"""Nodes of the data engineering stage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tai_project import image_layout
from tai_project.data_description import group_of, kept_columns
from tai_project.errors import DataValidationError
from tai_project.lazy import lazy_module
from tai_project.minimisation import refuse_forbidden_columns

if TYPE_CHECKING:
    from matplotlib.figure import Figure

data_checks = lazy_module("tai_project.data_quality")
data_statistics = lazy_module("tai_project.data_quality.statistics")
model_selection = lazy_module("sklearn.model_selection")
plt = lazy_module("matplotlib.pyplot")
robustness = lazy_module("tai_project.trust.robustness")
suites = lazy_module("tai_project.data_quality.suites")
transparency = lazy_module("tai_project.trust.transparency")

SPLITS = ("train", "validation", "calibration", "test")
PRODUCTION_SPLIT = "production"
"""The slice set aside before the split, for monitoring (``monitoring.batch: holdout``)."""


def minimise_metadata(
    metadata: pd.DataFrame, keep_columns: list[str], forbidden_columns: list[str],
    data_schema: dict[str, Any],
) -> pd.DataFrame:
    """Return only the metadata columns the pipeline needs (data minimisation): ``image_id``,
    ``label``, the group columns of the dataset description, and any further column listed
    in ``keep_columns``.

    A column named in ``forbidden_columns`` (direct identifiers such as a patient name)
    stops the run already in ``data_understanding.screen_metadata``, before anything is
    written; it is refused here too, for validated metadata persisted by an older run.
    """
    where = data_schema["metadata"]
    refuse_forbidden_columns(metadata.columns, forbidden_columns,
                             where=f"The validated metadata (from {where})")
    keep = kept_columns(data_schema, keep_columns)
    missing = [column for column in keep if column not in metadata.columns]
    if missing:
        raise DataValidationError(
            f"{where} has no column(s) {missing}; it has {list(metadata.columns)}. Expected "
            "image_id, label, the group columns of the dataset description "
            "(dataset.group_columns in conf/base/globals.yml) and data_engineering.keep_columns."
        )
    return metadata.loc[:, keep].copy()


def split_dataset(  # noqa: PLR0913 - a Kedro node takes its inputs by position
    metadata: pd.DataFrame, split: dict[str, float], data_schema: dict[str, Any], seed: int,
    production_holdout: float = 0.0,
) -> pd.DataFrame:
    """Return ``image_id, split`` with a split per image, stratified by label x group.

    First a ``production_holdout`` fraction of the images is set aside as split
    ``production`` (the default production batch of monitoring, disjoint from the rest);
    ``split`` gives the fractions of the remaining images in train / validation /
    calibration / test.
    """
    if set(split) != set(SPLITS) or not np.isclose(sum(split.values()), 1.0):
        raise DataValidationError(
            f"data_engineering.split must give fractions for exactly {list(SPLITS)} summing "
            f"to 1; got {split}."
        )
    if not 0.0 <= production_holdout < 1.0:
        raise DataValidationError(
            f"data_engineering.production_holdout (dataset.production_holdout in "
            f"conf/base/globals.yml) is {production_holdout}; expected a fraction in [0, 1)."
        )
    strata = metadata["label"].astype(str) + "|" + group_of(metadata, data_schema)
    remaining = metadata.index.to_numpy()
    assignment = pd.Series(index=metadata.index, dtype=object)
    if production_holdout > 0:
        remaining, taken = model_selection.train_test_split(
            remaining, test_size=production_holdout, stratify=strata[remaining],
            random_state=seed,
        )
        assignment[taken] = PRODUCTION_SPLIT
    left = 1.0
    for name in reversed(SPLITS[1:]):
        remaining, taken = model_selection.train_test_split(
            remaining,
            test_size=split[name] / left,
            stratify=strata[remaining],
            random_state=seed,
        )
        assignment[taken] = name
        left -= split[name]
    assignment[remaining] = "train"
    return pd.DataFrame({"image_id": metadata["image_id"].astype(str), "split": assignment})


def validate_splits(
    proposed_split: pd.DataFrame,
    metadata: pd.DataFrame,
    data_schema: dict[str, Any],
    split_checks: dict[str, Any],
) -> tuple[pd.DataFrame, str]:
    """Return the split table once the Great Expectations split suites pass, and their data
    docs (HTML): no image in two splits, every class and group in every split, shares
    within the ``split_checks`` tolerances. Otherwise raise ``DataValidationError``.
    """
    splits = _splits_of(proposed_split)
    validations = data_checks.validate_tables(
        suites.split_checks(proposed_split, metadata, data_schema, splits, split_checks)
    )
    problems = data_checks.failure_messages(validations)
    if problems:
        raise DataValidationError(
            f"The split failed {len(problems)} Great Expectations expectation(s); nothing "
            "was trained:\n" + "\n".join(f"  - {problem}" for problem in problems)
            + "\nFix the split fractions (data_engineering.split) or the thresholds "
            "(data_engineering.split_checks), or add data to the rare classes and groups."
        )
    docs = data_checks.render_data_docs(validations, title="Split validation (data_engineering)")
    return proposed_split.copy(), docs


def _splits_of(split_table: pd.DataFrame) -> tuple[str, ...]:
    """The model splits, and the production slice when one was set aside."""
    held_out = (split_table["split"] == PRODUCTION_SPLIT).any()
    return (*SPLITS, PRODUCTION_SPLIT) if held_out else SPLITS


def build_model_input(
    images: dict[str, np.ndarray],
    metadata: pd.DataFrame,
    split_table: pd.DataFrame,
    data_schema: dict[str, Any],
) -> dict[str, np.ndarray]:
    """Return arrays per split (``<split>_pixels`` channels-last, ``_labels``, ``_groups``,
    ``_ids``; the ``production`` slice too when one was set aside) and the training-split
    per-channel pixel mean and standard deviation, shape ``(channels,)`` (normalisation from
    train only).

    Labels become class indices in the order of ``data_schema.classes``.
    """
    class_index = {str(label): index for index, label in enumerate(data_schema["classes"])}
    labels = metadata["label"].astype(str).map(class_index)
    groups = group_of(metadata, data_schema).to_numpy()
    by_id = dict(zip(images["image_id"], range(len(images["image_id"]))))
    arrays: dict[str, np.ndarray] = {}
    for name in _splits_of(split_table):
        rows = np.flatnonzero(split_table["split"].to_numpy() == name)
        image_rows = [by_id[image_id] for image_id in split_table["image_id"].iloc[rows]]
        arrays[f"{name}_pixels"] = images["pixels"][image_rows]
        arrays[f"{name}_labels"] = labels.to_numpy()[rows].astype(np.int64)
        arrays[f"{name}_groups"] = groups[rows]
        arrays[f"{name}_ids"] = split_table["image_id"].to_numpy()[rows].astype(str)
    arrays["pixel_mean"], arrays["pixel_std"] = data_statistics.channel_moments(arrays["train_pixels"])
    return arrays


def profile_noise(model_input: dict[str, np.ndarray]) -> dict[str, Any]:
    """Return the noise profile of the training split: Immerkaer's per-image, per-channel
    noise estimate summarised overall (``reference_sigma`` = median over images and
    channels), per channel (``reference_sigma_by_channel``, medians) and per group (median,
    p10, p90 of each image's channel mean)."""
    by_channel = robustness.noise_sigma(model_input["train_pixels"]).reshape(
        len(model_input["train_pixels"]), -1)
    sigma = by_channel.mean(axis=1)
    groups = model_input["train_groups"]
    return {
        "method": "immerkaer_1996",
        "reference_sigma": float(np.median(by_channel)),
        "reference_sigma_by_channel": np.median(by_channel, axis=0).tolist(),
        "by_group": {
            str(group): {
                "n_images": int(np.sum(groups == group)),
                **dict(zip(("p10", "median", "p90"),
                           np.percentile(sigma[groups == group], [10, 50, 90]).tolist())),
            }
            for group in np.unique(groups)
        },
    }


def make_perturbed_sets(
    model_input: dict[str, np.ndarray],
    noise_profile: dict[str, Any],
    perturbations: dict[str, Any],
    data_schema: dict[str, Any],
    seed: int,
) -> dict[str, np.ndarray]:
    """Return corrupted copies of the test split, ``<corruption>_<severity>`` (float32
    channels-last pixels, severity 1 = mildest), and their ``labels``.

    The corruption set is the keys of ``perturbations.severities`` (any subset of
    ``gaussian_noise``, ``gaussian_blur``, ``contrast``, ``acquisition_shift``; a key whose
    severities are null or empty is left out). Gaussian-noise
    std is a multiple of the training noise profile, per channel
    (``reference_sigma_by_channel``); blur sigma, contrast factor and the acquisition
    shift's (contrast factor, noise std) are given directly.
    """
    rng = np.random.default_rng(seed)
    pixels, pixel_range = model_input["test_pixels"], tuple(data_schema["pixel_range"])
    severities = {name: levels for name, levels in perturbations["severities"].items() if levels}
    reference_sigma = noise_profile.get("reference_sigma_by_channel",
                                        noise_profile["reference_sigma"])
    corrupt = {
        "gaussian_noise": lambda level: robustness.gaussian_noise(
            pixels, std=level * np.asarray(reference_sigma), rng=rng, pixel_range=pixel_range
        ),
        "gaussian_blur": lambda level: robustness.gaussian_blur(pixels, sigma=level),
        "contrast": lambda level: robustness.contrast(pixels, factor=level),
        "acquisition_shift": lambda level: robustness.acquisition_shift(
            pixels, factor=level[0], noise_std=level[1], rng=rng, pixel_range=pixel_range
        ),
    }
    unknown = sorted(set(severities) - set(corrupt))
    if unknown:
        raise DataValidationError(
            f"data_engineering.perturbations.severities names unknown corruption(s) {unknown}; "
            f"the known ones are {sorted(corrupt)}."
        )
    perturbed = {
        f"{name}_{index}": corrupt[name](level).astype(np.float32)
        for name, levels in severities.items()
        for index, level in enumerate(levels, start=1)
    }
    return {**perturbed, "labels": model_input["test_labels"]}
def extract_prototypes(
    model_input: dict[str, np.ndarray], params: dict[str, Any], seed: int
) -> dict[str, np.ndarray]:
    """Return ``params.per_class`` prototypes (medoids in pixel space) per class of the
    training split: ``pixels``, ``labels``, ``ids`` (training image ids), ``groups`` and
    ``cluster_sizes`` (how many training images each one stands for)."""
    prototypes = transparency.class_prototypes(
        model_input["train_pixels"], model_input["train_labels"],
        k=params["per_class"], random_state=seed,
    )
    return {
        "pixels": prototypes.pixels,
        "labels": prototypes.labels,
        "ids": model_input["train_ids"][prototypes.indices],
        "groups": model_input["train_groups"][prototypes.indices],
        "cluster_sizes": prototypes.cluster_sizes,
    }


def plot_prototypes(prototypes: dict[str, np.ndarray], data_schema: dict[str, Any]) -> Figure:
    """Return a grid of the prototypes (RGB in colour, one channel in gray): one row per class,
    titled with group and cluster size."""
    classes = np.unique(prototypes["labels"])
    per_class = max(int(np.sum(prototypes["labels"] == c)) for c in classes)
    figure, axes = plt.subplots(
        len(classes), per_class, figsize=(1.4 * per_class, 1.4 * len(classes)), squeeze=False
    )
    for axis in axes.ravel():
        axis.axis("off")
    for row, label in enumerate(classes):
        for column, index in enumerate(np.flatnonzero(prototypes["labels"] == label)):
            axis = axes[row, column]
            image, style = image_layout.displayable(prototypes["pixels"][index],
                                                    tuple(data_schema["pixel_range"]))
            axis.imshow(image, **style)
            axis.set_title(
                f"{data_schema['classes'][label]}: {prototypes['groups'][index]}, "
                f"n={prototypes['cluster_sizes'][index]}",
                fontsize=7,
            )
    figure.suptitle("Class prototypes (training medoids)")
    figure.tight_layout()
    return figure
