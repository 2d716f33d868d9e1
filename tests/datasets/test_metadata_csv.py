"""An empty metadata.csv is named plainly (issue 16, finding 9), in a real session."""

from __future__ import annotations

import pytest

from tai_project.datasets.metadata_csv import MetadataCSVDataset
from tai_project.errors import DataValidationError
from tests.conftest import run_kedro


def test_a_metadata_file_loads_as_a_table(tiny_raw_data):
    table = MetadataCSVDataset(filepath=str(tiny_raw_data / "metadata.csv")).load()
    assert {"image_id", "path", "label"} <= set(table.columns) and len(table) == 400
    assert table.attrs["source"] == str(tiny_raw_data / "metadata.csv")


def test_an_empty_metadata_file_is_named_in_a_run(project):
    metadata = project / "data" / "01_raw" / "metadata.csv"
    metadata.write_text("")
    with pytest.raises(DataValidationError) as caught:
        run_kedro(project, pipeline_names=["data_understanding"])
    message = str(caught.value)
    assert f"The raw metadata {metadata} is empty; expected a CSV with a header line" in message
    assert not (project / "data" / "02_intermediate").exists()
