"""Nodes of the retrain loop."""

from __future__ import annotations

from typing import Any

import numpy as np

from tai_project.errors import DataValidationError

_PER_IMAGE = ("pixels", "labels", "groups", "ids")


def merge_production_batch(
    model_input: dict[str, np.ndarray], batch: dict[str, np.ndarray], batch_name: str,
    params: dict[str, Any], seed: int, data_schema: dict[str, Any],
) -> dict[str, np.ndarray]:
    """Return a copy of ``model_input`` whose train split also holds the labelled batch and
    whose test split also holds a seeded ``params.test_fraction`` of it, so the gate measures
    the retrained model on the new conditions too. Validation and calibration are unchanged.
    """
    missing = [key for key in ("labels", "groups") if key not in batch]
    if missing:
        raise DataValidationError(
            f"Production batch {batch_name!r} has no {' / '.join(missing)} column in "
            f"{data_schema['production']}/{batch_name}/metadata.csv; retraining needs a "
            f"labelled batch with its group columns ({', '.join(data_schema['group_columns'])}). "
            "Label the batch, or retrain on another one."
        )
    order = np.random.default_rng(seed).permutation(len(batch["pixels"]))
    n_test = int(round(params["test_fraction"] * len(order)))
    parts = {"test": order[:n_test], "train": order[n_test:]}
    merged = dict(model_input)
    for split, rows in parts.items():
        for key in _PER_IMAGE:
            old, new = model_input[f"{split}_{key}"], batch[key][rows]
            if old.dtype.kind in "iuf":  # numbers keep their dtype; text widens (longer ids)
                new = new.astype(old.dtype)
            merged[f"{split}_{key}"] = np.concatenate([old, new])
    return merged
