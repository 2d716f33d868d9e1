"""Per-channel image statistics of the drift tests."""

from __future__ import annotations

import numpy as np

from tai_project.trust.drift import IMAGE_STATISTICS, image_statistics


def test_rgb_images_get_per_channel_means_and_stds_hand_computed() -> None:
    image = np.zeros((1, 2, 2, 3))
    image[0, ..., 0] = [[0, 10], [20, 30]]
    image[0, ..., 2] = 255
    statistics = image_statistics(image)
    assert statistics["mean_channel0"][0] == 15.0 and statistics["mean_channel1"][0] == 0.0
    assert statistics["mean_channel2"][0] == 255.0
    assert statistics["std_channel0"][0] == np.std([0, 10, 20, 30])
    assert statistics["mean"][0] == (60 + 4 * 255) / 12


def test_grayscale_has_the_same_statistics_in_either_layout() -> None:
    gray = np.random.default_rng(0).uniform(0, 255, (5, 4, 4))
    flat, channels_last = image_statistics(gray), image_statistics(gray[..., None])
    assert set(flat) == set(channels_last) == set(IMAGE_STATISTICS)
    for name in IMAGE_STATISTICS:
        np.testing.assert_array_equal(flat[name], channels_last[name])
