"""Data minimisation: only the listed columns pass; a direct identifier stops the run."""

from __future__ import annotations

import pandas as pd
import pytest

from tai_project.errors import DataValidationError
from tai_project.pipelines.data_engineering.nodes import minimise_metadata

METADATA = pd.DataFrame(
    {"image_id": ["a", "b"], "path": ["0/a.png", "1/b.png"], "label": ["0", "1"],
     "site": ["A", "B"], "scanner": ["x", "y"]}
)
FORBIDDEN = ["patient_name", "date_of_birth"]


SCHEMA = {"group_columns": ["site"], "metadata": "data/raw/metadata.csv"}


def test_keeps_only_the_listed_columns_and_leaves_the_input_alone() -> None:
    before = METADATA.copy()
    minimal = minimise_metadata(METADATA, ["image_id", "label", "site"], FORBIDDEN, SCHEMA)
    assert list(minimal.columns) == ["image_id", "label", "site"]
    pd.testing.assert_frame_equal(METADATA, before)


@pytest.mark.parametrize(("group_columns", "extra", "kept"), [
    (["site"], [], ["image_id", "label", "site"]),
    (["scanner"], [], ["image_id", "label", "scanner"]),
    (["scanner", "site"], [], ["image_id", "label", "scanner", "site"]),
    (["scanner"], ["path"], ["image_id", "label", "scanner", "path"]),
])
def test_kept_columns_derive_from_the_group_columns(group_columns, extra, kept) -> None:
    """image_id, label and the description's group columns always pass, plus those listed."""
    schema = {**SCHEMA, "group_columns": group_columns}
    assert list(minimise_metadata(METADATA, extra, FORBIDDEN, schema).columns) == kept


def test_a_missing_group_column_names_the_configured_file() -> None:
    schema = {**SCHEMA, "group_columns": ["hospital"]}
    with pytest.raises(DataValidationError, match=r"data/raw/metadata.csv has no column\(s\) \['hospital'\]"):
        minimise_metadata(METADATA, [], FORBIDDEN, schema)


@pytest.mark.parametrize("column", ["patient_name", "Patient Name", "DATE-OF-BIRTH"])
def test_a_forbidden_column_is_named_even_when_not_kept(column: str) -> None:
    metadata = METADATA.assign(**{column: ["x", "y"]})
    with pytest.raises(DataValidationError, match=rf"\['{column}'\].*forbidden_columns"):
        minimise_metadata(metadata, ["image_id", "label", "site"], FORBIDDEN, SCHEMA)
