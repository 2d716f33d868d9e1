import numpy as np
import pandas as pd
import pytest

from tai_project.errors import DataValidationError
from tai_project.pipelines.data_engineering.nodes import (
    SPLITS,
    build_model_input,
    split_dataset,
)

SCHEMA = {"classes": [0, 1, 2], "group_columns": ["site"]}
FRACTIONS = {"train": 0.6, "validation": 0.15, "calibration": 0.1, "test": 0.15}


@pytest.fixture
def metadata():
    rng = np.random.default_rng(0)
    n = 600
    return pd.DataFrame({
        "image_id": [f"img{i}" for i in range(n)],
        "path": [f"x/img{i}.png" for i in range(n)],
        "label": rng.choice(["0", "1", "2"], n),
        "site": rng.choice(["A", "B"], n, p=[0.75, 0.25]),
    })


def test_split_fractions_disjoint_and_stratified(metadata):
    table = split_dataset(metadata, FRACTIONS, SCHEMA, seed=1)
    assert table["image_id"].is_unique and len(table) == len(metadata)
    shares = table["split"].value_counts(normalize=True)
    for name, fraction in FRACTIONS.items():
        assert shares[name] == pytest.approx(fraction, abs=0.01)
    joined = table.join(metadata[["label", "site"]])
    whole = (metadata["label"] + metadata["site"]).value_counts(normalize=True)
    for name in SPLITS:
        part = joined[joined["split"] == name]
        in_split = (part["label"] + part["site"]).value_counts(normalize=True)
        assert (in_split - whole).abs().max() < 0.03, name


def test_split_is_seeded(metadata):
    first = split_dataset(metadata, FRACTIONS, SCHEMA, seed=1)
    assert first.equals(split_dataset(metadata, FRACTIONS, SCHEMA, seed=1))
    assert not first.equals(split_dataset(metadata, FRACTIONS, SCHEMA, seed=2))


def test_split_fractions_must_sum_to_one(metadata):
    with pytest.raises(DataValidationError, match="data_engineering.split"):
        split_dataset(metadata, {**FRACTIONS, "train": 0.7}, SCHEMA, seed=1)


def test_model_input_aligns_pixels_labels_and_uses_train_statistics(metadata):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(len(metadata), 8, 8, 1), dtype=np.uint8)
    images = {"pixels": pixels, "image_id": metadata["image_id"].to_numpy()[::-1].copy()}
    images["pixels"] = pixels[::-1].copy()  # image order differs from metadata order
    table = split_dataset(metadata, FRACTIONS, SCHEMA, seed=1)
    arrays = build_model_input(images, metadata, table, SCHEMA)
    index = {image_id: i for i, image_id in enumerate(metadata["image_id"])}
    for name in SPLITS:
        rows = [index[i] for i in arrays[f"{name}_ids"]]
        np.testing.assert_array_equal(arrays[f"{name}_pixels"], pixels[rows])
        np.testing.assert_array_equal(arrays[f"{name}_labels"], metadata["label"].astype(int)[rows])
        np.testing.assert_array_equal(arrays[f"{name}_groups"], metadata["site"].to_numpy()[rows])
    assert arrays["pixel_mean"].shape == (1,)  # one per channel
    assert float(arrays["pixel_mean"][0]) == pytest.approx(arrays["train_pixels"].mean())
    assert float(arrays["pixel_std"][0]) == pytest.approx(arrays["train_pixels"].std())
