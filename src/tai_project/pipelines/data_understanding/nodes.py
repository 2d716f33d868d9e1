"""Nodes of the data understanding stage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image

from tai_project.errors import DataValidationError
from tai_project.trust.requirements import parse_requirements

_SHOW = 5  # offending files or rows quoted in an error message


def validate_trust_requirements(trust_requirements: dict[str, Any]) -> dict[str, Any]:
    """Return the requirements after schema validation; a bad key raises ``RequirementsError``."""
    return parse_requirements(trust_requirements).model_dump()


def load_images(
    raw_images: dict[str, Callable[[], Image.Image]],
    raw_metadata: pd.DataFrame,
    data_schema: dict[str, Any],
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Return the decoded images (``pixels``, ``image_id``, in metadata order) and the metadata
    with ``label`` as text (``"3"``), the spelling ``data_schema.classes`` is compared in.

    Raises ``DataValidationError`` listing every broken rule: missing columns, NaN,
    duplicate ids, unknown labels or groups, rows without images, images without rows,
    files that do not decode, wrong size or mode.
    """
    problems = _metadata_problems(raw_metadata, data_schema)
    if not problems:
        paths = raw_metadata["path"].astype(str)
        problems += _listed(
            "row(s) whose image file does not exist (metadata.csv 'path')",
            sorted(set(paths) - set(raw_images)),
        )
        problems += _listed(
            "image file(s) with no metadata.csv row", sorted(set(raw_images) - set(paths))
        )
    if problems:
        _raise(problems)
    pixels, decode_problems = _decode(raw_images, list(paths), data_schema)
    if decode_problems:
        _raise(decode_problems)
    images = {"pixels": pixels, "image_id": raw_metadata["image_id"].astype(str).to_numpy()}
    metadata = raw_metadata.assign(label=_as_text(raw_metadata["label"]))
    return images, metadata.reset_index(drop=True)


def _metadata_problems(metadata: pd.DataFrame, schema: dict[str, Any]) -> list[str]:
    required = ["image_id", "path", "label", schema["group_column"]]
    missing = [column for column in required if column not in metadata.columns]
    if missing:
        return [f"metadata.csv lacks column(s) {missing}; found {list(metadata.columns)}"]
    if metadata.empty:
        return ["metadata.csv has no rows: there is no data to train on"]
    csv_line = metadata.index.to_series() + 2  # header is line 1
    problems = []
    for column in required:
        problems += _listed(
            f"row(s) with an empty/NaN '{column}' (metadata.csv line)",
            csv_line[metadata[column].isna()].tolist(),
        )
    problems += _listed(
        "duplicate image_id value(s)",
        sorted(metadata.loc[metadata["image_id"].duplicated(), "image_id"].astype(str)),
    )
    for column, allowed in (("label", schema["classes"]), (schema["group_column"], schema["groups"])):
        valid = {str(value) for value in allowed}
        values = metadata[column].dropna()
        unknown = values[~_as_text(values).isin(valid)]
        problems += _listed(
            f"row(s) with a '{column}' outside the configured {sorted(valid)} "
            f"(parameters.yml data_schema) as 'line: value'",
            [f"{csv_line[i]}: {value!r}" for i, value in unknown.items()],
        )
    return problems


def _as_text(values: pd.Series) -> pd.Series:
    """Labels read as floats (``3.0``) compare equal to their integer spelling (``3``)."""
    return values.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))


def _decode(
    raw_images: dict[str, Callable[[], Image.Image]], paths: list[str], schema: dict[str, Any]
) -> tuple[np.ndarray, list[str]]:
    height, width, mode = schema["image_height"], schema["image_width"], schema["image_mode"]
    pixels = np.zeros((len(paths), height, width), dtype=np.uint8)
    undecodable, wrong_size, wrong_mode = [], [], []
    for index, path in enumerate(paths):
        try:
            image = raw_images[path]()
        except Exception as exc:  # noqa: BLE001 - PIL raises many types for broken files
            undecodable.append(f"{path} ({type(exc).__name__}: {exc})")
            continue
        if image.mode != mode:
            wrong_mode.append(f"{path} (mode {image.mode})")
        elif image.size != (width, height):
            wrong_size.append(f"{path} ({image.size[1]}x{image.size[0]})")
        else:
            pixels[index] = np.asarray(image)
    problems = _listed("image file(s) that cannot be decoded as PNG", undecodable)
    problems += _listed(f"image(s) not in mode '{mode}' (data_schema.image_mode)", wrong_mode)
    problems += _listed(
        f"image(s) not {height}x{width} (data_schema.image_height x image_width)", wrong_size
    )
    return pixels, problems


def _listed(what: str, items: list[Any]) -> list[str]:
    if not items:
        return []
    shown = ", ".join(str(item) for item in items[:_SHOW])
    more = f" ... and {len(items) - _SHOW} more" if len(items) > _SHOW else ""
    return [f"{len(items)} {what}: {shown}{more}"]


def _raise(problems: list[str]) -> None:
    raise DataValidationError(
        "The raw data (data/01_raw) failed validation; nothing was trained:\n"
        + "\n".join(f"  - {problem}" for problem in problems)
        + "\nFix or remove the files and rows named above (or the data_schema in "
        "conf/base/parameters.yml), then run again."
    )


def profile_data(
    images: dict[str, np.ndarray], metadata: pd.DataFrame, data_schema: dict[str, Any]
) -> dict[str, Any]:
    """Return the data profile: counts per class x group, group shares, pixel statistics.

    ``group_share`` is the share of the smallest group (the ``min_group_share`` requirement);
    ``representation_ratio`` is the smallest group's count over the largest's.
    """
    group = metadata[data_schema["group_column"]].astype(str)
    counts = pd.crosstab(_as_text(metadata["label"]), group)
    shares = group.value_counts(normalize=True)
    pixels = images["pixels"].astype(np.float64)
    return {
        "n_images": len(metadata),
        "counts_by_class_and_group": {
            label: {g: int(n) for g, n in row.items()} for label, row in counts.iterrows()
        },
        "group_shares": {g: float(s) for g, s in shares.items()},
        "group_share": float(shares.min()),
        "representation_ratio": float(group.value_counts().min() / group.value_counts().max()),
        "pixel_mean_by_group": {g: float(pixels[(group == g).to_numpy()].mean()) for g in shares.index},
        "pixel_std_by_group": {g: float(pixels[(group == g).to_numpy()].std()) for g in shares.index},
    }


def plot_data_profile(
    images: dict[str, np.ndarray], metadata: pd.DataFrame, data_schema: dict[str, Any]
) -> Figure:
    """Return a figure: images per class stacked by group, and pixel histograms per group."""
    group = metadata[data_schema["group_column"]].astype(str)
    counts = pd.crosstab(_as_text(metadata["label"]), group)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    counts.plot.bar(stacked=True, ax=left)
    left.set(title="Images per class and group", xlabel="class", ylabel="images")
    for name in counts.columns:
        right.hist(images["pixels"][(group == name).to_numpy()].ravel(), bins=32,
                   alpha=0.5, density=True, label=f"{data_schema['group_column']}={name}")
    right.set(title="Pixel intensity by group", xlabel="pixel value", ylabel="density")
    right.legend()
    figure.tight_layout()
    return figure


def build_representation_table(metadata: pd.DataFrame, data_schema: dict[str, Any]) -> pd.DataFrame:
    """Return group representation per class: one row per class x group with the count, the
    group's share of the class and of the whole data set; class ``all`` is the total.

    A class where a group's share is far below its overall share is where a model is most
    likely to fail that group (the ``min_group_share`` requirement checks the overall share).
    """
    group = metadata[data_schema["group_column"]].astype(str).rename("group")
    counts = pd.crosstab(_as_text(metadata["label"]).rename("class"), group)
    counts.loc["all"] = counts.sum()
    table = counts.stack().rename("count").reset_index()
    table["share_of_class"] = table["count"] / table.groupby("class")["count"].transform("sum")
    table["share_of_data"] = table["count"] / len(metadata)
    return table
