import numpy as np
import pandas as pd

from tai_project.pipelines.monitoring.nodes import assess_drift, make_production_batches, plot_drift

PARAMS = {"shift": {"contrast": 0.5, "noise_std": 15.0}}


class _AlwaysZero:
    """Stands in for the champion's pyfunc output format only: label 0, confidence 0.9."""

    def predict(self, pixels):
        return pd.DataFrame({"label": [0] * len(pixels), "confidence": [0.9] * len(pixels)})


def _model_input():
    rng = np.random.default_rng(0)
    return {
        "train_pixels": rng.integers(0, 256, (400, 8, 8)).astype(np.uint8),
        "test_pixels": rng.integers(0, 256, (200, 8, 8)).astype(np.uint8),
        "test_labels": np.r_[np.zeros(150, int), np.ones(50, int)],
    }


def test_shifted_batch_drifts_clean_batch_does_not():
    model_input = _model_input()
    batches = make_production_batches(model_input, PARAMS, seed=0)
    np.testing.assert_array_equal(batches["clean_pixels"], model_input["test_pixels"])
    report = assess_drift(model_input, batches, _AlwaysZero(), {"champion": "4"},
                          {"alpha": 0.01}, {"classes": [0, 1]})
    assert report["batches"]["clean"]["drifted_features"] == []
    assert "std" in report["batches"]["shifted"]["drifted_features"]
    assert report["recommendation"] == "retrain" and "shifted" in report["reasons"][0]
    assert report["batches"]["clean"]["accuracy"] == 0.75
    assert report["champion_version"] == "4"
    assert plot_drift(model_input, batches).axes
