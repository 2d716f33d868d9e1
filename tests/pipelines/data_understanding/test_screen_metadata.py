"""Data minimisation before anything is written (issue 16, finding 6): a forbidden column in
the raw metadata stops the run before any dataset, data docs or MLflow artifact holds it."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from tai_project.errors import DataValidationError
from tai_project.pipelines.data_understanding.nodes import screen_metadata

IDENTIFIER = "Jane Doe"


def test_screen_metadata_passes_clean_metadata_unchanged():
    metadata = pd.DataFrame({"image_id": ["a"], "label": [1], "site": ["A"]})
    assert screen_metadata(metadata, ["patient_name"]) is metadata


@pytest.mark.parametrize("column", ["patient_name", "Patient Name", "PATIENT-NAME"])
def test_screen_metadata_names_the_forbidden_column_and_the_file(column):
    metadata = pd.DataFrame({"image_id": ["a"], column: [IDENTIFIER]})
    with pytest.raises(DataValidationError, match=rf"metadata\.csv .*has column\(s\) \['{column}'\]"):
        screen_metadata(metadata, ["patient_name"])


def test_a_run_with_a_patient_name_column_writes_it_nowhere(project):
    path = project / "data" / "01_raw" / "metadata.csv"
    metadata = pd.read_csv(path)
    metadata.insert(1, "patient_name", IDENTIFIER)
    metadata.to_csv(path, index=False)
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "COLUMNS": "2000"}
    result = subprocess.run([sys.executable, "-m", "kedro", "run"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=600, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "DataValidationError" in output
    assert f"The raw metadata {path} has column(s) ['patient_name']" in output
    written = [file for layer in sorted((project / "data").glob("0[2-8]_*"))
               for file in layer.rglob("*") if file.is_file()]
    written += [file for file in (project / "mlartifacts").rglob("*") if file.is_file()]
    written += [project / "mlflow.db"]
    assert not [file for file in written if IDENTIFIER.encode() in file.read_bytes()]
    assert not (project / "data" / "02_intermediate" / "validated_metadata.parquet").exists()
