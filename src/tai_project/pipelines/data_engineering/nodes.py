"""Nodes of the data engineering stage."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from tai_project.data_quality import failure_messages, render_data_docs, validate_tables
from tai_project.data_quality.suites import split_checks as _split_checks
from tai_project.errors import DataValidationError

SPLITS = ("train", "validation", "calibration", "test")


def minimise_metadata(metadata: pd.DataFrame, keep_columns: list[str]) -> pd.DataFrame:
    """Return only the metadata columns listed in ``keep_columns`` (data minimisation)."""
    missing = [column for column in keep_columns if column not in metadata.columns]
    if missing:
        raise DataValidationError(
            f"data_engineering.keep_columns names column(s) {missing} that metadata.csv "
            f"does not have; it has {list(metadata.columns)}."
        )
    return metadata.loc[:, keep_columns].copy()


def split_dataset(
    metadata: pd.DataFrame, split: dict[str, float], data_schema: dict[str, Any], seed: int
) -> pd.DataFrame:
    """Return ``image_id, split`` with a split per image, stratified by label x group.

    ``split`` gives the fraction of each of train / validation / calibration / test.
    """
    if set(split) != set(SPLITS) or not np.isclose(sum(split.values()), 1.0):
        raise DataValidationError(
            f"data_engineering.split must give fractions for exactly {list(SPLITS)} summing "
            f"to 1; got {split}."
        )
    strata = metadata["label"].astype(str) + "|" + metadata[data_schema["group_column"]].astype(str)
    remaining = metadata.index.to_numpy()
    assignment = pd.Series(index=metadata.index, dtype=object)
    left = 1.0
    for name in reversed(SPLITS[1:]):
        remaining, taken = train_test_split(
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
    validations = validate_tables(
        _split_checks(proposed_split, metadata, data_schema, SPLITS, split_checks)
    )
    problems = failure_messages(validations)
    if problems:
        raise DataValidationError(
            f"The split failed {len(problems)} Great Expectations expectation(s); nothing "
            "was trained:\n" + "\n".join(f"  - {problem}" for problem in problems)
            + "\nFix the split fractions (data_engineering.split) or the thresholds "
            "(data_engineering.split_checks), or add data to the rare classes and groups."
        )
    docs = render_data_docs(validations, title="Split validation (data_engineering)")
    return proposed_split.copy(), docs


def build_model_input(
    images: dict[str, np.ndarray],
    metadata: pd.DataFrame,
    split_table: pd.DataFrame,
    data_schema: dict[str, Any],
) -> dict[str, np.ndarray]:
    """Return arrays per split (``<split>_pixels``, ``_labels``, ``_groups``, ``_ids``) and the
    training-split pixel mean and standard deviation (normalisation from train only).

    Labels become class indices in the order of ``data_schema.classes``.
    """
    class_index = {str(label): index for index, label in enumerate(data_schema["classes"])}
    labels = metadata["label"].astype(str).map(class_index)
    groups = metadata[data_schema["group_column"]].astype(str).to_numpy()
    by_id = dict(zip(images["image_id"], range(len(images["image_id"]))))
    arrays: dict[str, np.ndarray] = {}
    for name in SPLITS:
        rows = np.flatnonzero(split_table["split"].to_numpy() == name)
        image_rows = [by_id[image_id] for image_id in split_table["image_id"].iloc[rows]]
        arrays[f"{name}_pixels"] = images["pixels"][image_rows]
        arrays[f"{name}_labels"] = labels.to_numpy()[rows].astype(np.int64)
        arrays[f"{name}_groups"] = groups[rows]
        arrays[f"{name}_ids"] = split_table["image_id"].to_numpy()[rows].astype(str)
    train = arrays["train_pixels"].astype(np.float64)
    arrays["pixel_mean"], arrays["pixel_std"] = np.array(train.mean()), np.array(train.std())
    return arrays
