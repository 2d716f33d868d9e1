import numpy as np
import pytest
from scipy.stats import chi2

from tai_project.trust.drift import (
    IMAGE_STATISTICS,
    detect_batch_drift,
    image_statistics,
    ks_feature_drift,
    mmd_permutation_test,
    prediction_drift,
)


def test_image_statistics_hand_computed():
    pixels = np.arange(8, dtype=np.uint8).reshape(2, 2, 2)  # images [0..3] and [4..7]
    stats = image_statistics(pixels)
    assert set(stats) == set(IMAGE_STATISTICS)
    np.testing.assert_allclose(stats["mean"], [1.5, 5.5])
    np.testing.assert_allclose(stats["min"], [0, 4])
    np.testing.assert_allclose(stats["max"], [3, 7])
    np.testing.assert_allclose(stats["std"], [np.std([0, 1, 2, 3])] * 2)


@pytest.fixture
def reference():
    rng = np.random.default_rng(1)
    return image_statistics(rng.integers(0, 256, size=(500, 8, 8)))


def test_same_distribution_is_not_drift(reference):
    rng = np.random.default_rng(2)
    batch = image_statistics(rng.integers(0, 256, size=(300, 8, 8)))
    assert not any(f.drifted for f in ks_feature_drift(reference, batch, alpha=0.01))


def test_lower_contrast_is_drift(reference):
    rng = np.random.default_rng(3)
    batch = image_statistics(0.5 * rng.integers(0, 256, size=(300, 8, 8)) + 64)
    drift = {f.feature: f for f in ks_feature_drift(reference, batch, alpha=0.01)}
    assert drift["std"].drifted and drift["max"].drifted
    assert drift["std"].p_value < 0.01 / len(IMAGE_STATISTICS)


def test_mmd_hand_computed_on_two_points():
    # reference {0}, batch {1}, bandwidth 1: k(0,0)=k(1,1)=1, k(0,1)=exp(-1/2)
    result = mmd_permutation_test(np.array([[0.0]]), np.array([[1.0]]), alpha=0.05,
                                  n_permutations=10, seed=0, bandwidth=1.0)
    assert result.mmd2 == pytest.approx(2 - 2 * np.exp(-0.5))


def test_mmd_matches_the_v_statistic_and_median_bandwidth():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 3)), rng.normal(0.5, 1, size=(20, 3))
    pooled = np.r_[x, y]
    distances = ((pooled[:, None] - pooled[None]) ** 2).sum(-1)
    bandwidth = np.sqrt(np.median(distances[np.triu_indices(50, 1)]))
    k = np.exp(-distances / (2 * bandwidth**2))
    expected = k[:30, :30].mean() + k[30:, 30:].mean() - 2 * k[:30, 30:].mean()
    result = mmd_permutation_test(x, y, alpha=0.05, n_permutations=50, seed=0)
    assert result.bandwidth == pytest.approx(bandwidth)
    assert result.mmd2 == pytest.approx(expected)


def test_mmd_p_value_small_for_shift_and_uniform_ish_without():
    rng = np.random.default_rng(1)
    reference = rng.normal(size=(200, 4))
    shifted = mmd_permutation_test(reference, rng.normal(0.7, 1, (100, 4)), alpha=0.01,
                                   n_permutations=200, seed=0)
    assert shifted.drifted and shifted.p_value == pytest.approx(1 / 201)
    p_values = [mmd_permutation_test(reference, rng.normal(size=(100, 4)), alpha=0.01,
                                     n_permutations=100, seed=s).p_value for s in range(20)]
    assert 0.25 < np.mean(p_values) < 0.75


def test_prediction_drift_equals_pearson_chi_square_by_hand():
    reference = np.array([0] * 30 + [1] * 10)
    batch = np.array([0] * 10 + [1] * 10)
    result = prediction_drift(reference, batch, alpha=0.05)
    table = np.array([[30, 10], [10, 10]])
    expected = np.outer(table.sum(1), table.sum(0)) / table.sum()
    assert result.chi2 == pytest.approx(((table - expected) ** 2 / expected).sum())
    assert result.p_value == pytest.approx(chi2.sf(result.chi2, 1))
    assert result.batch_share == {"0": 0.5, "1": 0.5} and result.dof == 1


def test_batch_drift_splits_alpha_over_three_tests():
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (120, 8, 8))
    drift = detect_batch_drift(
        reference_pixels=pixels[:80], reference_embeddings=rng.normal(size=(80, 2)),
        reference_predictions=rng.integers(0, 3, 80), batch_pixels=pixels[80:],
        batch_embeddings=rng.normal(3, 1, (40, 2)), batch_predictions=rng.integers(0, 3, 40),
        alpha=0.03, n_permutations=199, seed=0)
    assert drift.test_alpha == pytest.approx(0.01)
    assert drift.drifted_tests == ["embedding"] and drift.drifted
