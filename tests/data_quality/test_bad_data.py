"""Every kind of bad data stops the data tests with a message naming the file or row and the
expectation that failed (on a copy of the tiny exported data set)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro_datasets.partitions import PartitionedDataset
from PIL import Image

from tai_project.errors import DataValidationError
from tai_project.pipelines.data_engineering.nodes import split_dataset, validate_splits
from tai_project.pipelines.data_understanding.nodes import load_images
from tests.conftest import FAST_PARAMS, TINY_SCHEMA

# the tests' own description and thresholds (never the project's conf/base, which a user
# rewrites for their data)
SCHEMA = TINY_SCHEMA
QUALITY = {"pixel_range": [0, 255], "file_size_bytes": [1, 65536],
           **FAST_PARAMS["data_understanding"]["data_quality"]}
SPLIT_CHECKS = {"min_images_per_class": 1, "min_images_per_group": 1,
                **FAST_PARAMS["data_engineering"]["split_checks"]}


@pytest.fixture
def raw(tmp_path: Path, tiny_raw_data: Path) -> Path:
    """A writable copy of the tiny raw data."""
    return Path(shutil.copytree(tiny_raw_data, tmp_path / "01_raw"))


def _load(raw: Path) -> tuple[dict, pd.DataFrame]:
    """Load the copy through the catalog's own dataset types."""
    images = PartitionedDataset(
        path=str(raw / "images"), dataset="tai_project.datasets.image_file.ImageFileDataset"
    )
    return (images.load() if any((raw / "images").rglob("*.png")) else {},
            pd.read_csv(raw / "metadata.csv"))


def _run(raw: Path) -> str:
    images, metadata = _load(raw)
    with pytest.raises(DataValidationError) as caught:
        load_images(images, metadata, SCHEMA, QUALITY)
    return str(caught.value)


def _edit_metadata(raw: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    metadata = pd.read_csv(raw / "metadata.csv")
    change(metadata).to_csv(raw / "metadata.csv", index=False)


def _first(raw: Path, row: int = 0) -> tuple[str, Path]:
    path = pd.read_csv(raw / "metadata.csv")["path"].iloc[row]
    return path, raw / "images" / path


def test_clean_copy_passes(raw: Path) -> None:
    images, metadata = _load(raw)
    pixels, _, statistics, docs = load_images(images, metadata, SCHEMA, QUALITY)
    assert pixels["pixels"].shape == (len(metadata), 8, 8, 1)  # channels-last
    assert statistics["decode_ok"].all() and docs.count("<iframe") == 3


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("corrupt", ["expect_column_values_to_be_in_set on column 'decode_ok'", "cannot identify"]),
        ("truncated", ["column 'decode_ok'", "runcated"]),
        ("wrong_size", ["expect_column_values_to_be_between on column 'width'", "= 9"]),
        ("rgb", ["column 'mode'", "= 'RGB'", "column 'channels'", "= 3"]),
    ],
)
def test_broken_image_is_named(raw: Path, case: str, expected: list[str]) -> None:
    path, file = _first(raw)
    if case == "corrupt":
        file.write_bytes(b"this is not a png")
    elif case == "truncated":
        file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    elif case == "wrong_size":
        Image.new("L", (9, 8)).save(file)
    else:
        Image.new("RGB", (8, 8)).save(file)
    message = _run(raw)
    assert f"{path}" in message
    for text in expected:
        assert text in message


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("label", np.nan, "expect_column_values_to_not_be_null on column 'label'"),
        ("label", 12, "expect_column_values_to_be_in_set on column 'label'"),
        ("site", "C", "expect_column_values_to_be_in_set on column 'site'"),
    ],
)
def test_bad_metadata_value_names_the_csv_line(raw, column, value, expected) -> None:
    def change(metadata: pd.DataFrame) -> pd.DataFrame:
        metadata[column] = metadata[column].astype(object)
        metadata.loc[5, column] = value
        return metadata

    _edit_metadata(raw, change)
    image_id = pd.read_csv(raw / "metadata.csv")["image_id"].iloc[5]
    message = _run(raw)
    assert expected in message
    assert f"1 offending row(s): metadata.csv line 7 ({image_id})" in message


def test_duplicate_image_id(raw: Path) -> None:
    metadata = pd.read_csv(raw / "metadata.csv")
    copied = metadata["image_id"].where(metadata.index != 3, metadata.loc[2, "image_id"])
    _edit_metadata(raw, lambda m: m.assign(image_id=copied))
    message = _run(raw)
    assert "expect_column_values_to_be_unique on column 'image_id'" in message
    assert f"metadata.csv line 4 ({metadata.loc[2, 'image_id']})" in message


def test_image_without_row_and_row_without_image(raw: Path) -> None:
    orphan, _ = _first(raw, 0)
    _, missing_file = _first(raw, 1)
    _edit_metadata(raw, lambda m: m.drop(index=0))
    missing_file.unlink()
    message = _run(raw)
    # the image with no row, named by its file
    assert "[raw_image_statistics] expect_column_values_to_be_in_set on column 'path'" in message
    assert f"1 offending row(s): {orphan} = '{orphan}'" in message
    # the row with no image, named by its metadata.csv line
    assert "[raw_metadata] expect_column_values_to_be_in_set on column 'path'" in message
    assert "metadata.csv line 2 (" in message  # after dropping row 0, row 1 is line 2


def test_empty_dataset(raw: Path) -> None:
    _edit_metadata(raw, lambda m: m.iloc[0:0])
    shutil.rmtree(raw / "images")
    message = _run(raw)
    assert "[raw_metadata] expect_table_row_count_to_be_between on table" in message
    assert "[raw_image_statistics] expect_table_row_count_to_be_between on table" in message
    assert "observed 0" in message


def test_class_by_site_cell_below_minimum(raw: Path) -> None:
    metadata = pd.read_csv(raw / "metadata.csv")
    cell = metadata[(metadata["label"] == 3) & (metadata["site"] == "B")]
    for path in cell["path"].iloc[1:]:
        (raw / "images" / path).unlink()
    _edit_metadata(raw, lambda m: m.drop(index=cell.index[1:]))
    message = _run(raw)
    assert "[raw_class_group_counts] expect_column_values_to_be_between on column 'n_images'" in (
        message
    )
    assert "1 offending row(s): class 3 x site B = 1" in message


def test_leakage_between_splits_is_named(raw: Path) -> None:
    _, metadata = _load(raw)
    metadata = metadata.assign(label=metadata["label"].astype(str))
    split = split_dataset(metadata, {"train": 0.6, "validation": 0.15, "calibration": 0.1,
                                     "test": 0.15}, SCHEMA, seed=1)
    assert validate_splits(split, metadata, SCHEMA, SPLIT_CHECKS)[0].equals(split)
    leaked = split["image_id"].iloc[0]
    in_test = split[split["split"] == "test"].index[0]
    bad = split.assign(image_id=split["image_id"].where(split.index != in_test, leaked))
    with pytest.raises(DataValidationError) as caught:
        validate_splits(bad, metadata, SCHEMA, SPLIT_CHECKS)
    message = str(caught.value)
    assert "[split_assignment] expect_column_values_to_be_unique on column 'image_id'" in message
    assert f"({leaked} in {split['split'].iloc[0]})" in message and f"({leaked} in test)" in message


def test_blank_image_id_is_named_by_its_csv_line(raw: Path) -> None:
    """Issue 16, finding 9: it was reported as ``nan = nan``, with no line."""
    def change(metadata: pd.DataFrame) -> pd.DataFrame:
        metadata["image_id"] = metadata["image_id"].astype(object)
        metadata.loc[5, "image_id"] = np.nan
        return metadata

    _edit_metadata(raw, change)
    message = _run(raw)
    assert "expect_column_values_to_not_be_null on column 'image_id'" in message
    assert "1 offending row(s): metadata.csv line 7 (blank image_id)" in message
