"""NpzDataset, TorchModelDataset and VersionedMlflowArtifactDataset through a real catalog."""

import json

import mlflow
import numpy as np
import pytest
import torch
from kedro.io import DataCatalog, DatasetError

from tai_project.datasets.npz import NpzDataset
from tai_project.datasets.torch_model import TorchModelDataset
from tai_project.models.network import SmallCNN


def test_npz_round_trip_stores_strings_without_pickle(tmp_path):
    dataset = NpzDataset(filepath=str(tmp_path / "a.npz"))
    ids = np.array(["x1", "x22"], dtype=object)
    dataset.save({"pixels": np.ones((2, 3), np.uint8), "ids": ids})
    loaded = dataset.load()
    assert loaded["ids"].dtype.kind == "U" and list(loaded["ids"]) == ["x1", "x22"]
    np.testing.assert_array_equal(loaded["pixels"], np.ones((2, 3)))


def test_npz_refuses_python_objects(tmp_path):
    with pytest.raises(DatasetError, match="array .bad. holds Python objects"):
        NpzDataset(filepath=str(tmp_path / "a.npz")).save({"bad": np.array([{}, 1], dtype=object)})


def test_torch_model_round_trip_gives_the_same_outputs(tmp_path):
    torch.manual_seed(0)
    network = SmallCNN(num_classes=3, channels=(4, 8), groups=2, pixel_mean=10.0, pixel_std=2.0)
    dataset = TorchModelDataset(filepath=str(tmp_path / "net.pt"))
    dataset.save(network)
    loaded = dataset.load()
    pixels = torch.rand(5, 8, 8) * 255
    torch.testing.assert_close(loaded(pixels), network.eval()(pixels))
    assert loaded.config == network.config


def test_versioned_tracked_report_keeps_history_and_logs_to_mlflow(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    # an earlier test in this process may have left its experiment active: use our own
    mlflow.set_experiment("versioned_reports")
    config = {
        "report": {
            "type": "tai_project.datasets.mlflow_artifact.VersionedMlflowArtifactDataset",
            "dataset": {"type": "json.JSONDataset", "versioned": True,
                        "filepath": str(tmp_path / "report.json")},
        }
    }
    versions = ["2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z"]
    run_ids = []
    for version, value in zip(versions, [1, 2]):
        catalog = DataCatalog.from_config(config, save_version=version)
        with mlflow.start_run() as run:
            catalog.save("report", {"value": value})
            run_ids.append(run.info.run_id)
    for version, value in zip(versions, [1, 2]):
        path = tmp_path / "report.json" / version / "report.json"
        assert json.loads(path.read_text()) == {"value": value}
    client = mlflow.MlflowClient()
    assert [a.path for a in client.list_artifacts(run_ids[1])] == ["report.json"]
