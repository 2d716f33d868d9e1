"""Data understanding on RGB images (the scans example): decoding, mode checks, plots."""

import numpy as np
import pandas as pd
import pytest
from kedro_datasets.partitions import PartitionedDataset
from PIL import Image

from tai_project.datasets.example_scans import CLASSES, export_scans
from tai_project.errors import DataValidationError, ParameterError
from tai_project.pipelines.data_understanding.nodes import load_images, plot_data_profile

SCHEMA = {"classes": list(CLASSES), "group_columns": ["scanner"],
          "groups": {"scanner": ["handheld", "s100", "s200"]}, "image_height": 16, "image_width": 16,
          "image_mode": "RGB", "pixel_range": [0, 255], "images": "images",
          "metadata": "metadata.csv", "production": "production"}
THRESHOLDS = {"min_images_per_class_and_group": 0, "pixel_range": [0, 255]}


@pytest.fixture
def raw(tmp_path):
    export_scans(tmp_path / "raw", n_images=30, size=16)
    return tmp_path / "raw"


def _load(raw, schema=SCHEMA):
    images = PartitionedDataset(path=str(raw / "images"),
                                dataset="tai_project.datasets.image_file.ImageFileDataset").load()
    return load_images(images, pd.read_csv(raw / "metadata.csv"), schema, THRESHOLDS)


def test_rgb_images_load_channels_last_in_colour(raw):
    images, metadata, statistics, _ = _load(raw)
    assert images["pixels"].shape == (30, 16, 16, 3) and images["pixels"].dtype == np.uint8
    first = metadata.iloc[0]
    np.testing.assert_array_equal(images["pixels"][0],
                                  np.asarray(Image.open(raw / "images" / first["path"])))
    assert set(statistics["mode"]) == {"RGB"} and set(statistics["channels"]) == {3}
    assert plot_data_profile(images, metadata, SCHEMA).axes


def test_a_grayscale_file_in_an_rgb_set_is_named(raw):
    path = pd.read_csv(raw / "metadata.csv")["path"][0]
    Image.new("L", (16, 16)).save(raw / "images" / path)
    with pytest.raises(DataValidationError) as error:
        _load(raw)
    assert path.removesuffix(".png") in str(error.value) and "mode" in str(error.value)


def test_an_unsupported_image_mode_names_the_key(raw):
    with pytest.raises(ParameterError, match=r"data_schema.image_mode is 'RGBA'"):
        _load(raw, {**SCHEMA, "image_mode": "RGBA"})
