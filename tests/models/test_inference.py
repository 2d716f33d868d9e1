import json

import numpy as np
import pytest
from mlflow.exceptions import MlflowException

from tai_project.models.inference import REFER, ImageClassifierModel
from tai_project.models.network import SmallCNN, save_checkpoint


class _Context:
    def __init__(self, artifacts):
        self.artifacts = artifacts


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    save_checkpoint(SmallCNN(num_classes=3, channels=(4,), groups=2), str(folder / "n.pt"))
    (folder / "labels.json").write_text(json.dumps(["a", "b", "c"]))
    (folder / "policy.json").write_text(json.dumps({
        "temperature": 1.0, "confidence_threshold": 0.99, "image_shape": [8, 8],
        "pixel_range": [0, 255], "max_batch_size": 4}))
    loaded = ImageClassifierModel()
    loaded.load_context(_Context({"network": str(folder / "n.pt"),
                                  "labels": str(folder / "labels.json"),
                                  "policy": str(folder / "policy.json")}))
    return loaded


def test_valid_batch_gets_label_or_referral(model):
    out = model.predict(None, np.full((2, 8, 8), 100, np.float32))
    assert list(out.columns) == ["label", "confidence", "referred", "decision"]
    # an untrained 3-class net is never 99 % sure: every case goes to a human
    assert out["referred"].all() and (out["decision"] == REFER).all()


@pytest.mark.parametrize(("payload", "reason"), [
    (np.zeros((1, 8, 7)), "expected a batch of shape (n, 8, 8), found shape (1, 8, 7)"),
    (np.zeros((0, 8, 8)), "the batch is empty"),
    (np.zeros((5, 8, 8)), "more than max_batch_size=4"),
    (np.full((1, 8, 8), np.nan), "64 pixel value(s) are NaN or infinite"),
    (np.full((1, 8, 8), 300.0), "pixel values must lie in [0, 255]"),
    ([[["x"] * 8] * 8], "not numeric"),
])
def test_bad_payload_is_refused_with_a_reason(model, payload, reason):
    with pytest.raises(MlflowException) as error:
        model.predict(None, payload)
    assert error.value.error_code == "INVALID_PARAMETER_VALUE"
    assert error.value.get_http_status_code() == 400
    assert reason in error.value.message
