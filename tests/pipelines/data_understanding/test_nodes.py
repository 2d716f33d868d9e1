"""Data understanding nodes on real exported images (bad-data cases: tests/data_quality/)."""

import shutil

import numpy as np
import pandas as pd
import pytest
from kedro_datasets.partitions import PartitionedDataset
from PIL import Image

from tai_project.datasets.default_data import export_digits
from tai_project.errors import RequirementsError
from tai_project.pipelines.data_understanding.nodes import (
    load_images,
    plot_data_profile,
    profile_data,
    validate_trust_requirements,
)

SCHEMA = {"classes": list(range(10)), "group_columns": ["site"], "groups": {"site": ["A", "B"]},
          "images": "data/01_raw/images", "metadata": "data/01_raw/metadata.csv",
          "image_height": 8, "image_width": 8, "image_mode": "L"}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("pristine")
    export_digits(root, max_images=40)
    return root


@pytest.fixture
def raw(tmp_path, pristine):
    shutil.copytree(pristine, tmp_path / "raw")
    return tmp_path / "raw"


def _load(raw):
    images = PartitionedDataset(path=str(raw / "images"), dataset="pillow.ImageDataset").load()
    pixels, metadata, _statistics, _docs = load_images(
        images, pd.read_csv(raw / "metadata.csv"), SCHEMA
    )
    return pixels, metadata


def _first(raw):
    return pd.read_csv(raw / "metadata.csv").iloc[0]


def test_clean_data_loads_in_metadata_order(raw):
    images, metadata = _load(raw)
    assert images["pixels"].shape == (40, 8, 8, 1) and images["pixels"].dtype == np.uint8
    assert list(images["image_id"]) == list(metadata["image_id"])
    first = metadata.iloc[0]
    expected = np.asarray(Image.open(raw / "images" / first["path"]))[..., None]  # channels-last
    np.testing.assert_array_equal(images["pixels"][0], expected)
    assert metadata["label"].map(type).eq(str).all()


def test_profile_counts_and_shares(raw):
    images, metadata = _load(raw)
    profile = profile_data(images, metadata, SCHEMA)
    counts = profile["counts_by_class_and_group"]
    assert sum(sum(row.values()) for row in counts.values()) == 40 == profile["n_images"]
    share_b = (metadata["site"] == "B").mean()
    assert profile["group_shares"]["B"] == pytest.approx(share_b)
    assert profile["group_share"] == pytest.approx(min(share_b, 1 - share_b))
    assert profile["pixel_mean_by_group"]["A"] == pytest.approx(
        images["pixels"][(metadata["site"] == "A").to_numpy()].mean())
    assert plot_data_profile(images, metadata, SCHEMA).axes


def test_requirements_node_names_a_bad_key():
    with pytest.raises(RequirementsError, match=r"trust_requirements\.reliability\.min_acc: unknown"):
        validate_trust_requirements({"reliability": {"min_acc": 0.9}})
