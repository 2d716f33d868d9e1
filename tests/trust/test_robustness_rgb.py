"""RGB (channels-last) behaviour of the noise profile, the corruptions and the attacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tai_project.models.network import SmallCNN
from tai_project.trust.robustness import (
    acquisition_shift,
    adversarial_robustness,
    contrast,
    fgsm,
    gaussian_blur,
    gaussian_noise,
    noise_sigma,
    pgd,
)

RANGE = (0.0, 255.0)


def test_noise_sigma_is_per_channel_with_a_hand_computed_value() -> None:
    # one impulse of height 90 in the green channel, 3 pixels from every border: the valid
    # convolution with Immerkaer's kernel sees the whole kernel once, sum |k| = 16
    images = np.zeros((2, 8, 8, 3))
    images[0, 3, 4, 1] = 90.0
    expected = np.sqrt(np.pi / 2) / (6 * 6 * 6) * 16 * 90.0
    sigma = noise_sigma(images)
    assert sigma.shape == (2, 3)
    np.testing.assert_allclose(sigma[0], [0.0, expected, 0.0])
    np.testing.assert_allclose(sigma[1], 0.0)
    # a grayscale set in either layout gives the same numbers
    gray = np.random.default_rng(0).uniform(0, 255, (4, 8, 8))
    np.testing.assert_allclose(noise_sigma(gray), noise_sigma(gray[..., None])[:, 0])


def test_gaussian_noise_takes_one_std_per_channel() -> None:
    images = np.full((200, 8, 8, 3), 128.0)
    noisy = gaussian_noise(images, std=np.array([0.0, 5.0, 20.0]),
                           rng=np.random.default_rng(0), pixel_range=RANGE)
    assert noisy.shape == images.shape
    stds = (noisy - images).reshape(-1, 3).std(axis=0)
    assert stds[0] == 0.0
    assert stds[1] == pytest.approx(5.0, rel=0.05) and stds[2] == pytest.approx(20.0, rel=0.05)


def test_blur_works_per_channel_without_mixing_channels() -> None:
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, (3, 10, 10, 3))
    images[..., 2] = 40.0  # a flat channel stays flat
    blurred = gaussian_blur(images, sigma=1.0)
    assert blurred.shape == images.shape
    for channel in range(3):
        np.testing.assert_allclose(blurred[..., channel], gaussian_blur(images[..., channel], sigma=1.0))
    np.testing.assert_allclose(blurred[..., 2], 40.0)


def test_contrast_keeps_each_channels_mean_hand_computed() -> None:
    image = np.zeros((1, 2, 2, 3))
    image[0, :, :, 0] = [[0, 100], [100, 200]]   # mean 100
    image[0, :, :, 1] = 50                         # flat
    reduced = contrast(image, factor=0.5)
    np.testing.assert_allclose(reduced[0, :, :, 0], [[50, 100], [100, 150]])
    np.testing.assert_allclose(reduced[0, :, :, 1], 50)
    assert acquisition_shift(image, factor=1.0, noise_std=0.0, rng=np.random.default_rng(0),
                             pixel_range=RANGE).shape == image.shape


def test_attacks_on_rgb_stay_in_the_eps_ball_and_the_pixel_range() -> None:
    torch.manual_seed(0)
    network = SmallCNN(num_classes=3, channels=(4,), groups=2, in_channels=3,
                       pixel_mean=[120.0, 110.0, 100.0], pixel_std=[60.0, 50.0, 40.0])
    pixels = torch.rand(6, 8, 8, 3) * 255
    pixels[0] = 0.0  # at the range's edge: clipping must bite
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    for adversarial in (
        fgsm(network, pixels, labels, eps=8.0, pixel_range=(0.0, 200.0)),
        pgd(network, pixels, labels, eps=8.0, steps=3, step_size=3.0, pixel_range=(0.0, 200.0),
            generator=torch.Generator().manual_seed(0)),
    ):
        assert adversarial.shape == pixels.shape
        assert adversarial.min() >= 0.0 and adversarial.max() <= 200.0
        assert (adversarial - pixels.clamp(0, 200)).abs().max() <= 8.0 + 1e-4
    result = adversarial_robustness(network, pixels.numpy(), labels.numpy(), eps=8.0, steps=2,
                                    step_size=4.0, pixel_range=RANGE, seed=0)
    assert 0.0 <= result.robust_accuracy <= result.clean_accuracy <= 1.0
