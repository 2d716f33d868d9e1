"""Values of the data-quality library: statistics, counts, shares, messages, data docs."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from great_expectations import expectations as gxe
from PIL import Image

from tai_project.data_quality import TableCheck, failure_messages, render_data_docs, validate_tables
from tai_project.data_quality.statistics import image_statistics
from tai_project.data_quality.suites import label_text, split_checks

SCHEMA = {"classes": [0, 1], "group_columns": ["site"], "groups": {"site": ["A", "B"]}}


def _png(array: np.ndarray, mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


def test_image_statistics_match_numpy() -> None:
    array = np.arange(64, dtype=np.uint8).reshape(8, 8) * 3
    encoded = _png(array)
    table, pixels = image_statistics({"a.png": lambda: encoded, "b.png": lambda: b"junk"})
    good = table.set_index("path").loc["a.png"]
    assert good["file_size"] == len(encoded)
    assert (good["height"], good["width"], good["channels"], good["mode"]) == (8, 8, 1, "L")
    assert good["pixel_min"] == 0 and good["pixel_max"] == 189
    assert good["pixel_mean"] == pytest.approx(array.mean())
    assert good["nan_pixels"] == 0 and bool(good["decode_ok"])
    np.testing.assert_array_equal(pixels["a.png"], array[..., None])  # channels-last
    bad = table.set_index("path").loc["b.png"]
    assert not bad["decode_ok"] and bad["decode_error"].startswith("UnidentifiedImageError")
    assert "b.png" not in pixels


def test_image_statistics_decode_rgb_channels_last() -> None:
    array = np.zeros((6, 5, 3), dtype=np.uint8)
    array[..., 0], array[..., 2] = 200, 50
    table, pixels = image_statistics({"c.png": lambda: _png(array, "RGB")})
    row = table.iloc[0]
    assert (row["height"], row["width"], row["channels"], row["mode"]) == (6, 5, 3, "RGB")
    assert pixels["c.png"].shape == (6, 5, 3)
    np.testing.assert_array_equal(pixels["c.png"][0, 0], [200, 0, 50])
    assert row["pixel_mean"] == pytest.approx(250 / 3)


def test_label_text_spells_float_labels_as_integers() -> None:
    assert label_text(pd.Series([3.0, "x", 2])).tolist() == ["3", "x", "2"]
    assert pd.isna(label_text(pd.Series([np.nan])).iloc[0])


def test_split_shares_by_hand() -> None:
    # whole data: class 0 is 6/10; train gets 4 of class 0 out of 5 -> share 0.8, deviation 0.2
    metadata = pd.DataFrame({
        "image_id": [f"i{k}" for k in range(10)],
        "label": [0] * 6 + [1] * 4,
        "site": ["A", "B"] * 5,
    })
    split = pd.DataFrame({"image_id": metadata["image_id"],
                          "split": ["train"] * 4 + ["test"] * 2 + ["train"] + ["test"] * 3})
    checks = split_checks(split, metadata, SCHEMA, ["train", "test"],
                          {"min_images_per_class": 1, "min_images_per_group": 1,
                           "max_class_share_deviation": 0.19, "max_group_share_deviation": 1.0})
    shares = checks[1].table.set_index(["split", "label"])
    assert shares.loc[("train", "0"), "n_images"] == 4
    assert shares.loc[("train", "0"), "share"] == pytest.approx(0.8)
    assert shares.loc[("train", "0"), "share_whole"] == pytest.approx(0.6)
    assert shares.loc[("train", "0"), "share_deviation"] == pytest.approx(0.2)
    messages = failure_messages(validate_tables(checks))
    assert len(messages) == 1
    expected = "[split_class_shares] expect_column_values_to_be_between on column 'share_deviation'"
    assert expected in messages[0]
    assert "4 offending row(s): split train, label 0 = 0.2" in messages[0]


def test_messages_cut_long_lists_and_count_all_rows() -> None:
    table = pd.DataFrame({"x": list(range(10))})
    [validation] = validate_tables([TableCheck(
        "numbers", table, [gxe.ExpectColumnValuesToBeBetween(column="x", max_value=2)],
        "row " + table.index.astype(str),
    )])
    [message] = failure_messages([validation])
    assert "7 offending row(s): row 3 = 3; row 4 = 4; row 5 = 5; row 6 = 6; row 7 = 7" in message
    assert message.endswith("... and 2 more")
    assert validation.result.results[0].result["unexpected_count"] == 7


def test_data_docs_are_one_html_page_per_suite() -> None:
    table = pd.DataFrame({"x": [1, 2]})
    validations = validate_tables([
        TableCheck("first", table, [gxe.ExpectColumnValuesToBeUnique(column="x")]),
        TableCheck("second", table, [gxe.ExpectColumnValuesToBeInSet(column="x", value_set=[1])]),
    ])
    page = render_data_docs(validations, title="Docs")
    assert page.startswith("<!DOCTYPE html>") and page.count("<iframe") == 2
    assert "first: passed" in page and "second: FAILED" in page
