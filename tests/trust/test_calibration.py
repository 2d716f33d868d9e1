"""Calibration metrics against torchmetrics and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import softmax
from torchmetrics.classification import MulticlassCalibrationError

from tai_project.trust.calibration import (
    brier_score,
    expected_calibration_error,
    fit_temperature,
    maximum_calibration_error,
    reliability_bins,
    scale_logits,
)


def _random_predictions(seed: int, n: int = 500, classes: int = 10, scale: float = 3.0):
    rng = np.random.default_rng(seed)
    probabilities = softmax(rng.normal(0, scale, size=(n, classes)), axis=1)
    return probabilities, rng.integers(0, classes, size=n)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n_bins", [5, 15])
def test_ece_equals_torchmetrics_l1(seed: int, n_bins: int) -> None:
    probabilities, labels = _random_predictions(seed)
    reference = MulticlassCalibrationError(num_classes=10, n_bins=n_bins, norm="l1")(
        torch.as_tensor(probabilities), torch.as_tensor(labels)
    )
    ours = expected_calibration_error(probabilities, labels, n_bins=n_bins)
    assert ours == pytest.approx(float(reference), abs=1e-6)


def test_mce_and_ece_by_hand() -> None:
    # two bins: (0, .5] holds none; (.5, 1] holds confidences .6, .8 (right) and .9 (wrong)
    probabilities = np.array([[0.6, 0.4], [0.8, 0.2], [0.1, 0.9]])
    labels = np.array([0, 0, 0])
    bins = reliability_bins(probabilities, labels, n_bins=2)
    assert bins.count.tolist() == [0, 3]
    gap = abs(2 / 3 - (0.6 + 0.8 + 0.9) / 3)  # accuracy 2/3, mean confidence 0.7667
    assert expected_calibration_error(probabilities, labels, n_bins=2) == pytest.approx(gap)
    assert maximum_calibration_error(probabilities, labels, n_bins=2) == pytest.approx(gap)
    # four bins: (.5,.75] holds .6 (right, gap .4); (.75, 1] holds .8 right, .9 wrong (gap .35)
    assert maximum_calibration_error(probabilities, labels, n_bins=4) == pytest.approx(0.4)
    assert expected_calibration_error(probabilities, labels, n_bins=4) == pytest.approx(
        1 / 3 * 0.4 + 2 / 3 * 0.35
    )


def test_brier_score_by_hand() -> None:
    probabilities = np.array([[0.7, 0.2, 0.1], [0.5, 0.5, 0.0]])
    labels = np.array([0, 2])
    # (0.3^2 + 0.2^2 + 0.1^2) = 0.14 ; (0.5^2 + 0.5^2 + 1^2) = 1.5
    assert brier_score(probabilities, labels) == pytest.approx((0.14 + 1.5) / 2)
    assert brier_score(np.eye(3), np.arange(3)) == 0.0


def test_temperature_scaling_recovers_the_true_temperature_and_lowers_ece() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, size=(4000, 5))
    true_temperature = 0.25  # labels drawn from softmax(logits / 0.25): logits are under-confident
    labels = np.array([rng.choice(5, p=p) for p in scale_logits(logits, true_temperature)])
    overconfident = logits / true_temperature * 3  # now 3x too confident
    fitted = fit_temperature(overconfident, labels)
    assert fitted == pytest.approx(3.0, rel=0.1)
    before = expected_calibration_error(scale_logits(overconfident, 1.0), labels, n_bins=15)
    after = expected_calibration_error(scale_logits(overconfident, fitted), labels, n_bins=15)
    assert after < before / 3
    # scaling keeps every prediction
    assert (scale_logits(overconfident, fitted).argmax(1) == overconfident.argmax(1)).all()
