import numpy as np
import pytest

from tai_project.errors import TrustGateError
from tai_project.models.network import SmallCNN
from tai_project.pipelines.deployment.nodes import enforce_trust_gate, prepare_release


def _report(accuracy_status):
    return {"passed": accuracy_status != "fail", "checks": [
        {"principle": "reliability", "requirement": "min_accuracy", "metric": "accuracy",
         "measured": 0.91, "threshold": 0.95, "status": accuracy_status},
        {"principle": "fairness", "requirement": "max_accuracy_gap", "metric": "accuracy_gap",
         "measured": 0.01, "threshold": 0.08, "status": "pass"},
    ]}


STATE = {"registered_model_name": "tai_classifier", "challenger": "3", "champion": "2"}


def test_failed_gate_raises_listing_failures_and_the_untouched_champion():
    with pytest.raises(TrustGateError) as error:
        enforce_trust_gate(_report("fail"), STATE)
    message = str(error.value)
    assert "reliability.min_accuracy: measured 0.9100, required >= 0.95" in message
    assert "max_accuracy_gap" not in message
    assert "version 3 of 'tai_classifier'" in message
    assert "'champion' still points to version 2" in message
    assert "To proceed" in message


def test_passed_gate_returns_the_record():
    record = enforce_trust_gate(_report("pass"), {**STATE, "champion": "3"})
    assert record == {"gate_passed": True, **STATE, "champion": "3"}


def test_release_carries_verdict_tags_and_example():
    network = SmallCNN(num_classes=2, channels=(4,), groups=2)
    model_input = {"test_pixels": np.zeros((5, 8, 8), np.uint8)}
    release = prepare_release(
        network, _report("fail"), {"accuracy": 0.91, "worst_group_accuracy": 0.8},
        model_input, {"classes": [0, 1]},
        {"input_example_size": 2, "tagged_metrics": ["accuracy"]},
    )
    assert release.gate_passed is False
    assert release.tags == {"failed_requirements": "min_accuracy", "accuracy": "0.9100"}
    assert release.input_example.shape == (2, 8, 8) and release.input_example.dtype == np.float32
    assert release.labels == [0, 1]
