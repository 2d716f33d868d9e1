import numpy as np
import pytest

from tai_project.trust.drift import IMAGE_STATISTICS, image_statistics, ks_feature_drift


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
