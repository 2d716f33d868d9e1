import numpy as np
import pytest

from tai_project.errors import EvidenceError, TrustGateError
from tai_project.evidence import measure_evidence
from tai_project.models.network import SmallCNN
from tai_project.pipelines.deployment.nodes import enforce_trust_gate, prepare_release
from tests.conftest import shipped_requirements


def _report(accuracy_status):
    return {"passed": accuracy_status != "fail", "checks": [
        {"principle": "reliability", "requirement": "min_accuracy", "metric": "accuracy",
         "measured": 0.91, "threshold": 0.95, "status": accuracy_status},
        {"principle": "fairness", "requirement": "max_accuracy_gap", "metric": "accuracy_gap",
         "measured": 0.01, "threshold": 0.08, "status": "pass"},
    ]}


STATE = {"registered_model_name": "tai_classifier", "challenger": "3", "champion": "2"}
CARD = {"gate": {"verdict": "failed"}}


def test_failed_gate_raises_listing_failures_and_the_untouched_champion():
    with pytest.raises(TrustGateError) as error:
        enforce_trust_gate(_report("fail"), STATE, CARD)
    message = str(error.value)
    assert "reliability.min_accuracy: measured 0.9100, required >= 0.95" in message
    assert "max_accuracy_gap" not in message
    assert "version 3 of 'tai_classifier'" in message
    assert "'champion' still points to version 2" in message
    assert "To proceed" in message


def test_passed_gate_returns_the_record():
    record = enforce_trust_gate(_report("pass"), {**STATE, "champion": "3"},
                                {"gate": {"verdict": "passed"}})
    assert record == {"gate_passed": True, **STATE, "champion": "3", "model_card_verdict": "passed"}


def test_pending_approval_passes_without_promoting(caplog):
    state = {**STATE, "registered_version": "3", "approval": "pending"}
    record = enforce_trust_gate(_report("pass"), state, {"gate": {"verdict": "passed"}})
    assert record["champion"] == "2" and record["approval"] == "pending"
    assert "make approve VERSION=3" in caplog.text


def test_regression_failure_names_the_bound_and_the_rollback():
    report = {"passed": False, "checks": [
        {"principle": "non_regression", "requirement": "accuracy vs champion v2",
         "metric": "accuracy", "measured": 0.90, "threshold": 0.95, "status": "fail"}]}
    with pytest.raises(TrustGateError) as error:
        enforce_trust_gate(report, STATE, CARD)
    expected = "non_regression.accuracy vs champion v2: measured 0.9000, the worst allowed is 0.9500"
    assert expected in str(error.value)
    assert "make rollback" in str(error.value)


SCHEMA = {"classes": [0, 1], "image_height": 8, "image_width": 8, "image_mode": "L", "pixel_range": [0, 255]}
RELEASE = {"input_example_size": 2, "tagged_metrics": ["accuracy"],
           "human_approval_required": True, "max_batch_size": 10}
REQUIREMENTS = shipped_requirements(**{"reliability.min_accuracy": 0.95})


def test_release_carries_verdict_tags_and_example():
    network = SmallCNN(num_classes=2, channels=(4,), groups=2)
    model_input = {"test_pixels": np.zeros((5, 8, 8), np.uint8)}
    evidence = measure_evidence(network, model_input, REQUIREMENTS)
    release = prepare_release(
        network, {**_report("fail"), "measured": {"accuracy": 0.91, "worst_group_accuracy": 0.8},
                  "evidence": evidence},
        model_input, SCHEMA, RELEASE,
        None, {"data_version": "abc.dir", "git_commit": "deadbeef", "git_dirty": "false"},
        REQUIREMENTS,
    )
    assert release.gate_passed is False and release.human_approval_required is True
    assert release.tags == {"failed_requirements": "min_accuracy", "accuracy": "0.9100",
                            "data_version": "abc.dir", "git_commit": "deadbeef", "git_dirty": "false",
                            "input_schema": '{"image_height": 8, "image_width": 8, "image_mode": '
                                            '"L", "classes": ["0", "1"]}'}
    assert release.failures == ["reliability.min_accuracy: measured 0.9100, required >= 0.95"]
    assert release.input_limits == {"image_shape": [8, 8, 1], "pixel_range": [0, 255], "max_batch_size": 10}
    assert release.input_example.shape == (2, 8, 8) and release.input_example.dtype == np.float32
    assert release.labels == [0, 1]
    assert release.evidence == {k: evidence[k] for k in ("data_sha256", "requirements_sha256")}
    assert release.decision().action == "reject"


@pytest.mark.parametrize("changed", ["network", "model_input", "requirements"])
def test_release_of_anything_the_gate_did_not_measure_is_refused(changed):
    network = SmallCNN(num_classes=2, channels=(4,), groups=2)
    model_input = {"test_pixels": np.zeros((5, 8, 8), np.uint8)}
    report = {**_report("pass"), "measured": {"accuracy": 0.99},
              "evidence": measure_evidence(network, model_input, REQUIREMENTS)}
    inputs = {"network": network, "model_input": model_input, "requirements": REQUIREMENTS}
    inputs[changed] = {
        "network": SmallCNN(num_classes=2, channels=(4,), groups=2),
        "model_input": {"test_pixels": np.ones((5, 8, 8), np.uint8)},
        "requirements": shipped_requirements(**{"reliability.min_accuracy": 0.5}),
    }[changed]
    key = {"network": "network_sha256", "model_input": "data_sha256",
           "requirements": "requirements_sha256"}[changed]
    with pytest.raises(EvidenceError) as error:
        prepare_release(inputs["network"], report, inputs["model_input"], SCHEMA, RELEASE, None,
                        None, inputs["requirements"])
    message = str(error.value)
    assert f"  - {key}: the " in message and message.count("SHA-256") == 1
    assert "Nothing was registered and 'champion' is unchanged" in message
    assert "kedro run --pipeline model_evaluation" in message
