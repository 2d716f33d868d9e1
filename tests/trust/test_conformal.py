"""Split-conformal prediction sets: coverage on exchangeable data, and their mechanics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from tai_project.trust.conformal import (
    conformal_quantile,
    conformity_scores,
    evaluate_conformal,
    prediction_sets,
)


def _exchangeable(seed: int, n: int, classes: int = 6):
    """A noisy classifier: labels drawn from softmax(z), predictions softmax(z + noise)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, size=(n, classes))
    cumulative = np.cumsum(softmax(logits, axis=1), axis=1)
    labels = (rng.random((n, 1)) < cumulative).argmax(axis=1)  # one draw from each softmax
    return softmax(logits + rng.normal(0, 1, size=logits.shape), axis=1), labels


@pytest.mark.parametrize("method", ["lac", "aps"])
@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2])
def test_coverage_holds_over_seeds(method: str, alpha: float) -> None:
    coverages = []
    for seed in range(5):
        probabilities, labels = _exchangeable(seed, n=10_000)
        # 5,000 + 5,000: the coverage's sampling std is about 0.006, well inside the 0.02
        result = evaluate_conformal(
            (probabilities[:5000], labels[:5000]), (probabilities[5000:], labels[5000:]),
            alpha=alpha, method=method, seed=seed,
        )
        assert result.coverage >= 1 - alpha - 0.02, (seed, result)
        coverages.append(result.coverage)
    assert np.mean(coverages) == pytest.approx(1 - alpha, abs=0.02)  # not trivially conservative


def test_scores_by_hand() -> None:
    probabilities = np.array([[0.5, 0.3, 0.2]])
    assert conformity_scores(probabilities, method="lac")[0] == pytest.approx([0.5, 0.7, 0.8])
    assert conformity_scores(probabilities, method="aps")[0] == pytest.approx([0.5, 0.8, 1.0])
    sets = prediction_sets(probabilities, threshold=0.8, method="aps")
    assert sets.tolist() == [[True, True, False]]


def test_quantile_is_the_finite_sample_order_statistic() -> None:
    probabilities = np.tile([[0.9, 0.1]], (9, 1))
    probabilities[:, 0] = np.linspace(0.1, 0.9, 9)
    probabilities[:, 1] = 1 - probabilities[:, 0]
    labels = np.zeros(9, dtype=int)  # LAC scores 0.9, 0.8, ..., 0.1
    # n = 9, alpha = 0.2: rank ceil(10 * 0.8) = 8 -> the 8th smallest score, 0.8
    assert conformal_quantile(probabilities, labels, alpha=0.2, method="lac") == pytest.approx(0.8)
    # alpha too small for n = 9: every class
    assert conformal_quantile(probabilities, labels, alpha=0.05, method="lac") == float("inf")
