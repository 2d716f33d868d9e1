"""The project's expectation suites, defined in code from the data schema and thresholds.

Raw data (data understanding): the metadata table, the per-image statistics table and the
class x group counts. Splits (data engineering): the split assignment, and per-split class
and group counts and shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from great_expectations import expectations as gxe
from PIL import Image

from tai_project.data_description import allowed_groups, group_columns, group_of, group_title

from .validation import TableCheck


def label_text(values: pd.Series) -> pd.Series:
    """Labels as text; floats read from CSV (``3.0``) become their integer spelling (``3``)."""
    return values.map(
        lambda v: v if pd.isna(v) else str(int(v)) if isinstance(v, float) and v.is_integer()
        else str(v)
    )


def raw_data_checks(
    metadata: pd.DataFrame,
    statistics: pd.DataFrame,
    schema: dict[str, Any],
    thresholds: dict[str, Any] | None,
) -> list[TableCheck]:
    """Return the raw-data suites: metadata, image statistics and (when the thresholds give
    ``min_images_per_class_and_group``) the class x group counts.

    ``thresholds`` may give ``pixel_range`` and ``file_size_bytes`` as ``[min, max]``.
    """
    thresholds = thresholds or {}
    groups = group_columns(schema)
    required = ["image_id", "path", "label", *groups]
    present = [column for column in required if column in metadata.columns]
    table = metadata.copy()
    for column in ("label", *groups):
        if column in table:
            table[column] = label_text(table[column])
    ids = (table["image_id"].astype(object).where(table["image_id"].notna(), "blank image_id")
           .astype(str) if "image_id" in table else pd.Series("", table.index))
    line = pd.Series(table.index + 2, index=table.index)  # the header is line 1
    metadata_check = TableCheck(
        "raw_metadata",
        table,
        [
            gxe.ExpectTableColumnsToMatchSet(column_set=required, exact_match=False),
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *[gxe.ExpectColumnValuesToNotBeNull(column=column) for column in present],
            *[
                gxe.ExpectColumnValuesToBeUnique(column=column)
                for column in ("image_id", "path") if column in present
            ],
            *_in_set("label", schema["classes"], present),
            *[check for column in groups
              for check in _in_set(column, schema["groups"][column], present)],
            *_in_set("path", statistics["path"], present),  # every row has an image
        ],
        "metadata.csv line " + line.astype(str) + " (" + ids + ")",
    )
    image_check = TableCheck(
        "raw_image_statistics",
        statistics,
        [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            gxe.ExpectColumnValuesToBeInSet(column="decode_ok", value_set=[True]),
            gxe.ExpectColumnValuesToBeInSet(column="mode", value_set=[schema["image_mode"]]),
            gxe.ExpectColumnValuesToBeInSet(
                column="channels", value_set=[Image.getmodebands(schema["image_mode"])]
            ),
            *_between("height", [schema["image_height"]] * 2),
            *_between("width", [schema["image_width"]] * 2),
            *_between("pixel_min", thresholds.get("pixel_range")),
            *_between("pixel_max", thresholds.get("pixel_range")),
            *_between("file_size", thresholds.get("file_size_bytes")),
            gxe.ExpectColumnValuesToBeInSet(column="nan_pixels", value_set=[0]),
            gxe.ExpectColumnValuesToBeUnique(column="path"),
            *_in_set("path", table.get("path", []), present),  # every image has a row
        ],
        statistics["path"].astype(str)
        + statistics["decode_error"].map(lambda error: f" ({error})" if error else ""),
    )
    checks = [metadata_check, image_check]
    minimum = thresholds.get("min_images_per_class_and_group")
    if minimum is not None and {"label", *groups} <= set(present):
        counts = _counts(table, ["label", *groups],
                         [schema["classes"], *[schema["groups"][column] for column in groups]])
        where = "class " + counts["label"]
        for column in groups:
            where = where + " x " + column + " " + counts[column]
        checks.append(TableCheck(
            "raw_class_group_counts",
            counts,
            [gxe.ExpectColumnValuesToBeBetween(column="n_images", min_value=minimum)],
            where,
        ))
    return checks


def split_checks(
    split_table: pd.DataFrame,
    metadata: pd.DataFrame,
    schema: dict[str, Any],
    splits: Sequence[str],
    thresholds: dict[str, Any],
) -> list[TableCheck]:
    """Return the split suites: no image in two splits (leakage), every image in exactly one
    known split, every class and group present in every split (``min_images_per_class`` /
    ``min_images_per_group``), and each split's class and group shares within
    ``max_class_share_deviation`` / ``max_group_share_deviation`` of the whole data's shares.
    """
    group = "group"
    ids = metadata["image_id"].astype(str)
    texts = metadata.assign(**{c: label_text(metadata[c]) for c in group_columns(schema)})
    joined = split_table.assign(image_id=split_table["image_id"].astype(str)).merge(
        metadata.assign(image_id=ids, label=label_text(metadata["label"]),
                        group=group_of(texts, schema)).loc[:, ["image_id", "label", "group"]],
        on="image_id", how="left",
    )
    assignment = TableCheck(
        "split_assignment",
        joined,
        [
            gxe.ExpectTableRowCountToEqual(value=len(metadata)),
            gxe.ExpectColumnValuesToBeUnique(column="image_id"),  # an image in two splits leaks
            gxe.ExpectColumnValuesToBeInSet(column="split", value_set=list(splits)),
            gxe.ExpectColumnValuesToBeInSet(column="image_id", value_set=sorted(ids)),
        ],
        "split_table row " + joined.index.astype(str) + " (" + joined["image_id"] + " in "
        + joined["split"].astype(str) + ")",
    )
    checks = [assignment]
    levels = (("label", schema["classes"], "class"), (group, allowed_groups(schema), "group"))
    for column, values, key in levels:
        shares = _split_shares(joined, column, values, splits)
        checks.append(TableCheck(
            f"split_{key}_shares",
            shares,
            [
                gxe.ExpectColumnValuesToBeBetween(
                    column="n_images", min_value=thresholds[f"min_images_per_{key}"]
                ),
                gxe.ExpectColumnValuesToBeBetween(
                    column="share_deviation", max_value=thresholds[f"max_{key}_share_deviation"]
                ),
            ],
            "split " + shares["split"] + ", "
            + (group_title(schema) if column == group else column) + " " + shares[column],
        ))
    return checks


def _in_set(column: str, values: Sequence[Any] | pd.Series, present: list[str]) -> list:
    if column not in present:
        return []
    return [gxe.ExpectColumnValuesToBeInSet(
        column=column, value_set=sorted({str(value) for value in values})
    )]


def _between(column: str, bounds: Sequence[float] | None) -> list:
    if bounds is None:
        return []
    low, high = bounds
    return [gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)]


def _counts(table: pd.DataFrame, columns: list[str], levels: list[Sequence[Any]]) -> pd.DataFrame:
    """Counts of every combination of the configured levels (absent ones as 0)."""
    index = pd.MultiIndex.from_product([[str(v) for v in level] for level in levels], names=columns)
    counts = table.groupby(columns).size().reindex(index, fill_value=0)
    return counts.rename("n_images").reset_index()


def _split_shares(
    joined: pd.DataFrame, column: str, values: Sequence[Any], splits: Sequence[str]
) -> pd.DataFrame:
    counts = _counts(joined, ["split", column], [splits, values])
    whole = joined[column].value_counts(normalize=True)
    per_split = counts.groupby("split")["n_images"].transform("sum").clip(lower=1)
    share = counts["n_images"] / per_split
    return counts.assign(
        share=share,
        share_whole=counts[column].map(whole).fillna(0.0),
        share_deviation=(share - counts[column].map(whole).fillna(0.0)).abs(),
    )
