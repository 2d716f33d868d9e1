"""Nodes of the data understanding stage."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from PIL import Image

from tai_project.data_description import group_of, group_title
from tai_project.errors import DataValidationError
from tai_project.image_layout import image_channels
from tai_project.lazy import lazy_module
from tai_project.minimisation import refuse_forbidden_columns
from tai_project.trust.requirements import parse_requirements

data_statistics = lazy_module("tai_project.data_quality.statistics")

if TYPE_CHECKING:
    from matplotlib.figure import Figure

data_checks = lazy_module("tai_project.data_quality")
plt = lazy_module("matplotlib.pyplot")
suites = lazy_module("tai_project.data_quality.suites")


def validate_trust_requirements(trust_requirements: dict[str, Any]) -> dict[str, Any]:
    """Return the requirements after schema validation; a bad key raises ``RequirementsError``."""
    return parse_requirements(trust_requirements).model_dump()


def screen_metadata(raw_metadata: pd.DataFrame, forbidden_columns: list[str]) -> pd.DataFrame:
    """Return the raw metadata unchanged when it has none of ``forbidden_columns`` (direct
    identifiers such as a patient name) and has a header; otherwise raise
    ``DataValidationError`` naming the file (``attrs["source"]``, set by ``MetadataCSVDataset``).

    The first node to read the raw metadata, so no dataset, data docs or MLflow artifact can
    hold an identifier (data minimisation, before anything is written).
    """
    source = raw_metadata.attrs.get("source", "metadata.csv (catalog entry raw_metadata)")
    if raw_metadata.columns.empty:
        raise DataValidationError(
            f"The raw metadata {source} is empty; expected a CSV with a header line (image_id, "
            "path, label and the group column) and one row per image. Restore it (`dvc "
            "checkout`) or write it for your images."
        )
    refuse_forbidden_columns(raw_metadata.columns, forbidden_columns,
                             where=f"The raw metadata {source}")
    return raw_metadata


def load_images(
    raw_images: dict[str, Callable[[], bytes | Image.Image]],
    raw_metadata: pd.DataFrame,
    data_schema: dict[str, Any],
    data_quality: dict[str, Any] | None = None,
) -> tuple[dict[str, np.ndarray], pd.DataFrame, pd.DataFrame, str]:
    """Return the decoded images (``pixels``: uint8, channels-last ``(n, height, width,
    channels)``; ``image_id``, in metadata order), the metadata
    with ``label`` as text (``"3"``, the spelling ``data_schema.classes`` is compared in), the
    per-image statistics table and the Great Expectations data docs (HTML).

    The Great Expectations suites on the metadata, the image statistics and the class x
    group counts (``data_quality`` thresholds) must all pass; otherwise
    ``DataValidationError`` lists every failed expectation with its column, the observed
    value and the offending files or rows. An ``image_mode`` other than L or RGB raises
    ``ParameterError`` before any file is read.
    """
    image_channels(data_schema)
    statistics, pixels_by_path = data_statistics.image_statistics(raw_images)
    validations = data_checks.validate_tables(
        suites.raw_data_checks(raw_metadata, statistics, data_schema, data_quality)
    )
    problems = data_checks.failure_messages(validations)
    if problems:
        _raise(problems, data_schema)
    paths = raw_metadata["path"].astype(str).tolist()
    pixels = np.empty((len(paths), *pixels_by_path[paths[0]].shape), dtype=np.uint8)
    uses = Counter(paths)
    for row, path in enumerate(paths):  # move, not copy: the decoded set is held once
        pixels[row] = pixels_by_path[path]
        uses[path] -= 1
        if not uses[path]:
            del pixels_by_path[path]
    images = {"pixels": pixels, "image_id": raw_metadata["image_id"].astype(str).to_numpy()}
    metadata = raw_metadata.assign(label=suites.label_text(raw_metadata["label"]))
    docs = data_checks.render_data_docs(
        validations, title=f"Raw data validation ({data_schema['metadata']}, {data_schema['images']})")
    return images, metadata.reset_index(drop=True), statistics, docs


def _raise(problems: list[str], data_schema: dict[str, Any]) -> None:
    raise DataValidationError(
        f"The raw data ({data_schema['metadata']}, {data_schema['images']}) failed "
        f"{len(problems)} Great Expectations expectation(s); nothing was trained:\n"
        + "\n".join(f"  - {problem}" for problem in problems)
        + "\nFix or remove the files and rows named above (or the dataset description, "
        "`dataset:` in conf/base/globals.yml, or the data_understanding.data_quality "
        "thresholds), then run again."
    )


def profile_data(
    images: dict[str, np.ndarray], metadata: pd.DataFrame, data_schema: dict[str, Any]
) -> dict[str, Any]:
    """Return the data profile: counts per class x group, group shares, pixel statistics.

    ``group_share`` is the share of the smallest group (the ``min_group_share`` requirement);
    ``representation_ratio`` is the smallest group's count over the largest's.
    """
    group = group_of(metadata, data_schema)
    counts = pd.crosstab(suites.label_text(metadata["label"]), group)
    shares = group.value_counts(normalize=True)
    moments = {g: data_statistics.pixel_moments(images["pixels"][(group == g).to_numpy()])
               for g in shares.index}
    return {
        "n_images": len(metadata),
        "counts_by_class_and_group": {
            label: {g: int(n) for g, n in row.items()} for label, row in counts.iterrows()
        },
        "group_shares": {g: float(s) for g, s in shares.items()},
        "group_share": float(shares.min()),
        "representation_ratio": float(group.value_counts().min() / group.value_counts().max()),
        "pixel_mean_by_group": {g: mean for g, (mean, _) in moments.items()},
        "pixel_std_by_group": {g: std for g, (_, std) in moments.items()},
    }


def plot_data_profile(
    images: dict[str, np.ndarray], metadata: pd.DataFrame, data_schema: dict[str, Any]
) -> Figure:
    """Return a figure: images per class stacked by group, and pixel histograms per group."""
    group = group_of(metadata, data_schema)
    counts = pd.crosstab(suites.label_text(metadata["label"]), group)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    counts.plot.bar(stacked=True, ax=left)
    left.set(title="Images per class and group", xlabel="class", ylabel="images")
    for name in counts.columns:
        right.hist(images["pixels"][(group == name).to_numpy()].ravel(), bins=32,
                   alpha=0.5, density=True, label=f"{group_title(data_schema)}={name}")
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
    group = group_of(metadata, data_schema).rename("group")
    counts = pd.crosstab(suites.label_text(metadata["label"]).rename("class"), group)
    counts.loc["all"] = counts.sum()
    table = counts.stack().rename("count").reset_index()
    table["share_of_class"] = table["count"] / table.groupby("class")["count"].transform("sum")
    table["share_of_data"] = table["count"] / len(metadata)
    return table
