"""Selective prediction: threshold choice, abstention and the risk-coverage curve."""

from __future__ import annotations

import numpy as np
import pytest

from tai_project.trust.selective import (
    apply_threshold,
    choose_confidence_threshold,
    risk_coverage_curve,
)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("target", [0.8, 0.9, 0.97])
def test_threshold_reaches_the_target_on_its_own_split(seed: int, target: float) -> None:
    rng = np.random.default_rng(seed)
    confidence = np.round(rng.uniform(0.1, 1.0, size=400), 2)  # rounded: many ties
    correct = rng.random(400) < confidence
    threshold = choose_confidence_threshold(confidence, correct, target_accuracy=target)
    result = apply_threshold(confidence, correct, threshold=threshold)
    assert result.selective_accuracy >= target
    # the lowest such threshold: one step lower no longer reaches the target
    lower = confidence[confidence < threshold]
    if len(lower):
        below = apply_threshold(confidence, correct, threshold=lower.max())
        assert below.selective_accuracy < target


def test_threshold_zero_abstains_never_and_unreachable_target_refers_all() -> None:
    confidence = np.array([0.2, 0.6, 0.9, 0.95])
    correct = np.array([False, True, False, True])
    assert apply_threshold(confidence, correct, threshold=0.0).abstention_rate == 0.0
    assert apply_threshold(confidence, correct, threshold=0.0).selective_accuracy == 0.5
    threshold = choose_confidence_threshold(confidence, np.zeros(4, bool), target_accuracy=0.5)
    result = apply_threshold(confidence, correct, threshold=threshold)
    assert result.abstention_rate == 1.0
    assert np.isnan(result.selective_accuracy)


def test_threshold_and_risk_coverage_by_hand() -> None:
    confidence = np.array([0.2, 0.6, 0.9, 0.95])
    correct = np.array([False, True, False, True])
    # accepted sets by threshold: {.95} acc 1; {.95,.9} acc .5; {.95,.9,.6} acc .67; all .5
    assert choose_confidence_threshold(confidence, correct, target_accuracy=0.6) == 0.6
    assert choose_confidence_threshold(confidence, correct, target_accuracy=0.9) == 0.95
    curve = risk_coverage_curve(confidence, correct)
    assert curve.coverage.tolist() == [0.25, 0.5, 0.75, 1.0]
    assert curve.risk == pytest.approx([0.0, 0.5, 1 / 3, 0.5])
    assert curve.aurc == pytest.approx((0.0 + 0.5 + 1 / 3 + 0.5) / 4)
