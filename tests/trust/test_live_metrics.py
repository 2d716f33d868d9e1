import numpy as np
import pytest

from tai_project.trust.calibration import expected_calibration_error
from tai_project.trust.live_metrics import (
    ece_estimate,
    live_metrics,
    proportion_estimate,
    top_label_ece,
)


def test_clopper_pearson_by_hand():
    # 0 of 10: the exact upper bound solves (1 - p)^10 = 0.025
    estimate = proportion_estimate(0, 10, confidence_level=0.95)
    assert estimate.value == 0 and estimate.low == 0
    assert estimate.high == pytest.approx(1 - 0.025 ** (1 / 10))


def test_top_label_ece_equals_the_calibration_module():
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(5) * 0.5, size=300)
    labels = rng.integers(0, 5, 300)
    correct = probabilities.argmax(1) == labels
    assert top_label_ece(probabilities.max(1), correct, n_bins=15) == pytest.approx(
        expected_calibration_error(probabilities, labels, n_bins=15))


def test_ece_interval_holds_the_value():
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.5, 1, 200)
    estimate = ece_estimate(confidence, rng.random(200) < confidence, n_bins=10,
                            confidence_level=0.9, n_boot=100, seed=0)
    assert estimate.low <= estimate.value <= estimate.high


def test_labelled_and_unlabelled_metrics_by_hand():
    confidence = np.array([0.9, 0.8, 0.6, 0.95])
    referred = np.array([False, False, True, False])
    unlabelled = live_metrics(confidence=confidence, referred=referred, n_bins=10,
                              confidence_level=0.95, n_boot=10, seed=0)
    assert unlabelled.abstention_rate.value == 0.25 and unlabelled.accuracy is None
    assert unlabelled.confidence_quantiles["q50"] == pytest.approx(0.85)
    labelled = live_metrics(confidence=confidence, referred=referred,
                            correct=np.array([True, False, True, True]),
                            groups=np.array(["A", "A", "B", "B"]), n_bins=10,
                            confidence_level=0.95, n_boot=10, seed=0)
    assert labelled.accuracy.value == 0.75 and labelled.worst_group == "A"
    assert labelled.worst_group_accuracy.value == 0.5
