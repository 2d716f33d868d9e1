"""The data tests inside real Kedro runs: a broken image stops the run; the data docs are
versioned HTML files and MLflow artifacts of the run."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from tai_project.errors import DataValidationError
from tests.conftest import run_kedro


@pytest.mark.slow
def test_corrupt_image_stops_the_run_naming_the_file(project: Path) -> None:
    victim = sorted((project / "data/01_raw/images").rglob("*.png"))[7]
    victim.write_bytes(victim.read_bytes()[:30])
    with pytest.raises(DataValidationError) as caught:
        run_kedro(project, pipeline_names=["data_understanding"])
    relative = victim.relative_to(project / "data/01_raw/images").as_posix()
    assert f"{relative} (" in str(caught.value)
    assert "expect_column_values_to_be_in_set on column 'decode_ok'" in str(caught.value)
    assert not (project / "data/02_intermediate/validated_images.npz").exists()


@pytest.mark.slow
def test_data_docs_are_versioned_and_logged(project: Path) -> None:
    run_kedro(project, pipeline_names=["data_understanding", "data_engineering"])
    for name in ("raw_data_docs", "split_data_docs"):
        [page] = (project / f"data/08_reporting/{name}.html").glob(f"*/{name}.html")
        text = page.read_text()
        assert text.startswith("<!DOCTYPE html>") and "FAILED" not in text
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tai_project")
    [run] = client.search_runs([experiment.experiment_id])
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "data_docs")]
    assert sorted(artifacts) == ["data_docs/raw_data_docs.html", "data_docs/split_data_docs.html"]
    assert run.data.tags["data_version"] == "untracked"  # the fixture project has no DVC
