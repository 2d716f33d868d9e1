import numpy as np
import pandas as pd
import pytest
from kedro_datasets.partitions import PartitionedDataset
from PIL import Image

from tai_project.datasets.default_data import export_production_batches
from tai_project.errors import DataValidationError, ParameterError
from tai_project.pipelines.monitoring.nodes import (
    detect_drift,
    load_production_batch,
    recommend_action,
    render_monitoring_html,
)
from tai_project.pipelines.retrain.nodes import merge_production_batch

SCHEMA = {"classes": list(range(10)), "group_columns": ["site"], "image_height": 8,
          "image_width": 8, "image_mode": "L", "production": "data/01_production"}


@pytest.fixture
def batches(tmp_path):
    export_production_batches(tmp_path, n_images=12, batches=("iid", "iid_unlabelled"))
    return tmp_path


def _load(root, name):
    images = PartitionedDataset(path=str(root), dataset="tai_project.datasets.image_file.ImageFileDataset",
                                filename_suffix=".png").load()
    metadata = PartitionedDataset(path=str(root), dataset="pandas.CSVDataset",
                                  filename_suffix=".csv").load()
    return load_production_batch(images, metadata, name, SCHEMA, {})


def test_labelled_and_unlabelled_batches_load(batches):
    labelled = _load(batches, "iid")
    table = pd.read_csv(batches / "iid" / "metadata.csv")
    assert labelled["pixels"].shape == (12, 8, 8, 1) and labelled["pixels"].dtype == np.uint8
    np.testing.assert_array_equal(labelled["labels"], table["label"])
    decoded = np.asarray(Image.open(batches / "iid" / "images" / table["path"][3]))
    np.testing.assert_array_equal(labelled["pixels"][3], decoded[..., None])  # channels-last
    unlabelled = _load(batches, "iid_unlabelled")
    assert "labels" not in unlabelled and len(unlabelled["groups"]) == 12


def test_missing_batch_names_the_available_ones(batches):
    with pytest.raises(DataValidationError, match=r"'noise' not found.*\['iid', 'iid_unlabelled'\]"):
        _load(batches, "noise")


def test_corrupt_image_names_the_file(batches):
    (batches / "iid" / "images" / "iid_00004.png").write_bytes(b"not a png")
    with pytest.raises(DataValidationError, match=r"iid/images/iid_00004.png is not a readable"):
        _load(batches, "iid")


def test_wrong_shape_names_the_file_and_the_expected_size(batches):
    Image.new("L", (9, 8)).save(batches / "iid" / "images" / "iid_00002.png")
    with pytest.raises(DataValidationError,
                       match=r"'iid': .*iid_00002.png is 8x9xL \(HxWxmode\); expected 8x8xL"):
        _load(batches, "iid")


def test_empty_batch_errors(batches):
    (batches / "iid" / "metadata.csv").write_text("image_id,path,label,site\n")
    with pytest.raises(DataValidationError, match="'iid' is empty"):
        _load(batches, "iid")


def test_unknown_label_errors(batches):
    table = pd.read_csv(batches / "iid" / "metadata.csv")
    table.loc[0, "label"] = 11
    table.to_csv(batches / "iid" / "metadata.csv", index=False)
    with pytest.raises(DataValidationError, match=r"labels \['11'\]"):
        _load(batches, "iid")


def _estimate(value, low, high):
    return {"value": value, "low": low, "high": high, "n": 200}


def _live(labelled, accuracy, abstention):
    batch = {"accuracy": accuracy, "ece": None, "worst_group": None,
             "abstention_rate": abstention}
    holdout = {"accuracy": _estimate(0.97, 0.95, 0.98), "ece": None, "worst_group": None,
               "abstention_rate": _estimate(0.1, 0.08, 0.12)}
    return {"labelled": labelled, "batch": batch, "holdout": holdout}


PARAMS = {"max_accuracy_drop": 0.05, "max_worst_group_accuracy_drop": 0.1,
          "max_ece_increase": 0.1, "max_abstention_increase": 0.15}
NO_DRIFT = {"drifted": False, "drifted_tests": [], "alpha": 0.01}
DRIFT = {"drifted": True, "drifted_tests": ["embedding"], "alpha": 0.01}


def test_decision_rules():
    fine, same_rate = _estimate(0.96, 0.93, 0.98), _estimate(0.1, 0.06, 0.15)
    assert recommend_action(NO_DRIFT, _live(True, fine, same_rate), PARAMS)["decision"] == "ok"
    assert recommend_action(DRIFT, _live(True, fine, same_rate), PARAMS)["decision"] == "warn"
    # upper bound 0.92 < 0.97 - 0.05: evidence of a drop -> retrain
    dropped = recommend_action(NO_DRIFT, _live(True, _estimate(0.88, 0.83, 0.919), same_rate),
                               PARAMS)
    assert dropped["decision"] == "retrain" and dropped["reasons"][0].startswith("accuracy 0.880")
    # point estimate below, but the interval reaches the margin: not enough evidence
    unsure = _live(True, _estimate(0.90, 0.85, 0.93), same_rate)
    assert recommend_action(NO_DRIFT, unsure, PARAMS)["decision"] == "ok"
    # no labels: more referrals only warn
    referring = recommend_action(NO_DRIFT, _live(False, None, _estimate(0.4, 0.3, 0.5)), PARAMS)
    assert referring["decision"] == "warn" and "no labels" in referring["reasons"][-1]


def test_too_few_permutations_is_a_parameter_error():
    with pytest.raises(ParameterError, match="n_permutations >= 300"):
        detect_drift({}, {}, {}, {"alpha": 0.01, "n_permutations": 100}, 0)


def test_report_html_shows_decision_and_escapes_reasons():
    report = {"batch": "b", "n_images": 2, "champion_version": "3", "decision": "warn",
              "reasons": ["<drift>"],
              "drift": {"alpha": 0.01, "test_alpha": 0.0033, "features": [],
                        "embedding": {"mmd2": 0.1, "p_value": 0.002, "drifted": True},
                        "predictions": {"chi2": 1.0, "p_value": 0.5, "drifted": False}},
              "live_metrics": _live(False, None, _estimate(0.1, 0.05, 0.2))}
    page = render_monitoring_html(report)
    assert "<b>WARN</b>" in page and "&lt;drift&gt;" in page and "n/a (no labels)" in page


def test_merge_adds_the_batch_to_train_and_test_without_touching_the_input():
    model_input = {f"{split}_{key}": value for split in ("train", "test") for key, value in (
        ("pixels", np.zeros((4, 8, 8), np.uint8)), ("labels", np.zeros(4, int)),
        ("groups", np.array(["A"] * 4)), ("ids", np.array(["x"] * 4)))}
    batch = {"pixels": np.ones((10, 8, 8), np.uint8), "labels": np.arange(10),
             "groups": np.array(["B"] * 10), "ids": np.array([f"b{i}" for i in range(10)])}
    merged = merge_production_batch(model_input, batch, "b", {"test_fraction": 0.3}, seed=0,
                                    data_schema=SCHEMA)
    assert len(merged["train_pixels"]) == 4 + 7 and len(merged["test_labels"]) == 4 + 3
    assert sorted(np.r_[merged["train_ids"][4:], merged["test_ids"][4:]]) == sorted(batch["ids"])
    assert len(model_input["train_pixels"]) == 4
    with pytest.raises(DataValidationError, match="no labels column"):
        merge_production_batch(model_input, {"pixels": batch["pixels"], "groups": batch["groups"]},
                               "b", {"test_fraction": 0.3}, seed=0, data_schema=SCHEMA)
