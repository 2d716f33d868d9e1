"""RGB (channels-last) attributions, deletion curves, class maps and prototypes."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tai_project.models.network import SmallCNN
from tai_project.trust.transparency import (
    attribute,
    class_attribution_map,
    class_prototypes,
    deletion_curve,
)


class RedCorner(nn.Module):
    """Logit of class 1 = red value of pixel (0, 0) / 255; class 0 = 0: only that pixel and
    channel matter."""

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        red = pixels[:, 0, 0, 0] / 255.0 * 10
        return torch.stack([torch.zeros_like(red), red], dim=1)


def test_attributions_keep_the_channels_last_shape_and_find_the_channel() -> None:
    pixels = np.full((2, 4, 4, 3), 200.0, dtype=np.float32)
    for method in ("integrated_gradients", "saliency", "input_x_gradient"):
        result = attribute(RedCorner(), pixels, np.array([1, 1]), method=method, baseline=0.0,
                           n_steps=8)
        assert result.shape == (2, 4, 4, 3)
        assert np.count_nonzero(result[0]) == 1 and result[0, 0, 0, 0] > 0
    # Integrated Gradients is complete: its sum is f(x) - f(baseline) = 200 / 255 * 10
    ig = attribute(RedCorner(), pixels, np.array([1, 1]), method="integrated_gradients",
                   baseline=0.0, n_steps=16)
    np.testing.assert_allclose(ig.reshape(2, -1).sum(axis=1), 200 / 255 * 10, rtol=1e-4)


def test_deletion_removes_every_channel_of_the_top_pixel() -> None:
    pixels = np.full((3, 4, 4, 3), 200.0, dtype=np.float32)
    attributions = np.zeros_like(pixels)
    attributions[:, 0, 0, 0] = 1.0  # red of pixel (0, 0): summed over channels it ranks first
    curve = deletion_curve(RedCorner(), pixels, np.array([1, 1, 1]), attributions,
                           fractions=[0.0, 1 / 16], baseline=0.0, n_random=2, random_state=0)
    probability = 1 / (1 + np.exp(-200 / 255 * 10))  # softmax of (0, red) for class 1
    assert curve.attribution_drop[0] == 0.0
    np.testing.assert_allclose(curve.attribution_drop[1], probability - 0.5, rtol=1e-5)


def test_class_map_sums_channels_before_the_magnitude() -> None:
    attributions = np.zeros((2, 2, 2, 3))
    attributions[0, 0, 0] = [1.0, -3.0, 0.5]   # summed: -1.5
    attributions[1, 0, 0] = [2.0, 0.0, 0.0]    # summed: 2
    maps = class_attribution_map(attributions, np.array([0, 0]), n_classes=2)
    assert maps.shape == (2, 2, 2)
    assert maps[0, 0, 0] == (1.5 + 2.0) / 2 and maps[0, 1, 1] == 0.0
    assert np.isnan(maps[1]).all()


def test_prototypes_of_rgb_images_are_real_rgb_images() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (30, 5, 5, 3), dtype=np.uint8)
    labels = np.repeat([0, 1, 2], 10)
    prototypes = class_prototypes(pixels, labels, k=2, random_state=0)
    assert prototypes.pixels.shape == (6, 5, 5, 3)
    np.testing.assert_array_equal(prototypes.pixels, pixels[prototypes.indices])


def test_small_cnn_attributions_on_rgb() -> None:
    torch.manual_seed(0)
    network = SmallCNN(num_classes=2, channels=(4,), groups=2, in_channels=3)
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 6, 6, 3)).astype(np.float32)
    result = attribute(network, pixels, np.array([0, 1]), method="saliency", baseline=0.0,
                       n_steps=4)
    assert result.shape == pixels.shape
