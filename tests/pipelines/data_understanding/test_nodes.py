"""Bad raw data stops the run with a message that names the file or row and the rule."""

import shutil

import numpy as np
import pandas as pd
import pytest
from kedro_datasets.partitions import PartitionedDataset
from PIL import Image

from tai_project.datasets.default_data import export_digits
from tai_project.errors import DataValidationError, RequirementsError
from tai_project.pipelines.data_understanding.nodes import (
    load_images,
    plot_data_profile,
    profile_data,
    validate_trust_requirements,
)

SCHEMA = {"classes": list(range(10)), "group_column": "site", "groups": ["A", "B"],
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
    return load_images(images, pd.read_csv(raw / "metadata.csv"), SCHEMA)


def _first(raw):
    return pd.read_csv(raw / "metadata.csv").iloc[0]


def test_clean_data_loads_in_metadata_order(raw):
    images, metadata = _load(raw)
    assert images["pixels"].shape == (40, 8, 8) and images["pixels"].dtype == np.uint8
    assert list(images["image_id"]) == list(metadata["image_id"])
    first = metadata.iloc[0]
    expected = np.asarray(Image.open(raw / "images" / first["path"]))
    np.testing.assert_array_equal(images["pixels"][0], expected)
    assert metadata["label"].map(type).eq(str).all()


def test_corrupt_png_is_named(raw):
    path = _first(raw)["path"]
    (raw / "images" / path).write_bytes(b"not a png at all")
    with pytest.raises(DataValidationError, match=rf"cannot be decoded as PNG: {path} "):
        _load(raw)


def test_truncated_png_is_named(raw):
    target = raw / "images" / _first(raw)["path"]
    target.write_bytes(target.read_bytes()[:40])
    with pytest.raises(DataValidationError, match=rf"cannot be decoded.*{target.name}"):
        _load(raw)


def test_wrong_size_is_named(raw):
    path = _first(raw)["path"]
    Image.new("L", (9, 8)).save(raw / "images" / path)
    with pytest.raises(DataValidationError, match=rf"not 8x8 .*: {path} \(8x9\)"):
        _load(raw)


def test_rgb_image_is_named(raw):
    path = _first(raw)["path"]
    Image.new("RGB", (8, 8)).save(raw / "images" / path)
    with pytest.raises(DataValidationError, match=rf"not in mode 'L'.*: {path} \(mode RGB\)"):
        _load(raw)


def test_unknown_label_names_the_line_and_value(raw):
    metadata = pd.read_csv(raw / "metadata.csv")
    metadata.loc[3, "label"] = 12
    metadata.to_csv(raw / "metadata.csv", index=False)
    with pytest.raises(DataValidationError, match=r"'label' outside the configured .*: 5: 12\n"):
        _load(raw)


def test_unknown_site_is_named(raw):
    metadata = pd.read_csv(raw / "metadata.csv")
    metadata.loc[0, "site"] = "C"
    metadata.to_csv(raw / "metadata.csv", index=False)
    with pytest.raises(DataValidationError, match=r"'site' outside .*\['A', 'B'\].*: 2: 'C'"):
        _load(raw)


def test_nan_in_metadata_names_the_line(raw):
    metadata = pd.read_csv(raw / "metadata.csv")
    metadata.loc[6, "label"] = np.nan
    metadata.to_csv(raw / "metadata.csv", index=False)
    with pytest.raises(DataValidationError, match=r"1 row\(s\) with an empty/NaN 'label' .*: 8"):
        _load(raw)


def test_row_without_image_and_image_without_row(raw):
    path = _first(raw)["path"]
    (raw / "images" / path).rename(raw / "images" / "orphan.png")
    with pytest.raises(DataValidationError) as error:
        _load(raw)
    assert f"image file does not exist (metadata.csv 'path'): {path}" in str(error.value)
    assert "image file(s) with no metadata.csv row: orphan.png" in str(error.value)


def test_duplicate_image_id_is_named(raw):
    metadata = pd.read_csv(raw / "metadata.csv")
    metadata.loc[1, "image_id"] = metadata.loc[0, "image_id"]
    metadata.to_csv(raw / "metadata.csv", index=False)
    duplicate = metadata.loc[0, "image_id"]
    with pytest.raises(DataValidationError, match=rf"duplicate image_id value\(s\): {duplicate}"):
        _load(raw)


def test_empty_metadata_is_refused(raw):
    pd.read_csv(raw / "metadata.csv").iloc[:0].to_csv(raw / "metadata.csv", index=False)
    with pytest.raises(DataValidationError, match="no rows"):
        _load(raw)


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
