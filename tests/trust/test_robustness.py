"""Corruptions, the noise profile, and the known properties of FGSM and PGD."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from tai_project.datasets.default_data import render_digits
from tai_project.models.network import SmallCNN
from tai_project.models.training import TrainingConfig, train_network
from tai_project.trust.robustness import (
    acquisition_shift,
    adversarial_robustness,
    contrast,
    fgsm,
    gaussian_blur,
    gaussian_noise,
    noise_sigma,
    pgd,
    summarise_corruptions,
)

RANGE = (0.0, 255.0)


@pytest.fixture(scope="module")
def trained_digits() -> tuple[nn.Module, np.ndarray, np.ndarray]:
    """A SmallCNN trained for a few epochs on 1,000 digits; 300 held-out digits to attack."""
    digits = load_digits()
    pixels = (digits.images / 16 * 255).astype(np.float32)
    labels = digits.target.astype(np.int64)
    network = SmallCNN(num_classes=10, channels=(16, 32), groups=4,
                       pixel_mean=float(pixels[:1000].mean()), pixel_std=float(pixels[:1000].std()))
    config = TrainingConfig(max_epochs=6, batch_size=64, learning_rate=0.003, weight_decay=0.0,
                            early_stopping_patience=6)
    result = train_network(network, (pixels[:1000], labels[:1000]),
                           (pixels[1000:1200], labels[1000:1200]),
                           config=config, device=torch.device("cpu"), seed=0)
    return result.network, pixels[1200:1500], labels[1200:1500]


def test_fgsm_on_a_linear_model_moves_by_exactly_eps_times_the_gradient_sign() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x = torch.rand(8, 4, 4) * 100 + 50  # far from the clip bounds
    y = torch.randint(0, 3, (8,))
    x_req = x.clone().requires_grad_(True)
    nn.functional.cross_entropy(model(x_req), y).backward()
    adversarial = fgsm(model, x, y, eps=3.0, pixel_range=RANGE)
    assert torch.allclose(adversarial - x, 3.0 * x_req.grad.sign(), atol=1e-5)
    assert (adversarial - x).abs().max() == pytest.approx(3.0, abs=1e-5)


def test_pgd_stays_in_the_eps_ball_and_the_pixel_range(trained_digits) -> None:
    model, pixels, labels = trained_digits
    x, y = torch.as_tensor(pixels[:50]), torch.as_tensor(labels[:50])
    adversarial = pgd(model, x, y, eps=10.0, steps=5, step_size=4.0, pixel_range=RANGE,
                      generator=torch.Generator().manual_seed(0))
    assert (adversarial - x).abs().max() <= 10.0 + 1e-4
    assert adversarial.min() >= 0.0
    assert adversarial.max() <= 255.0


def test_robust_accuracy_ordering_on_the_trained_model(trained_digits) -> None:
    model, pixels, labels = trained_digits
    result = adversarial_robustness(model, pixels, labels, eps=16.0, steps=10, step_size=4.0,
                                    pixel_range=RANGE, seed=0)
    assert result.clean_accuracy > 0.85
    assert result.fgsm_accuracy <= result.clean_accuracy
    assert result.pgd_accuracy <= result.fgsm_accuracy
    assert result.robust_accuracy <= min(result.fgsm_accuracy, result.pgd_accuracy)
    none = adversarial_robustness(model, pixels, labels, eps=0.0, steps=3, step_size=1.0,
                                  pixel_range=RANGE, seed=0)
    assert none.robust_accuracy == none.clean_accuracy == result.clean_accuracy


def test_corruptions_by_their_definitions() -> None:
    rng = np.random.default_rng(0)
    images = rng.uniform(50, 200, size=(20, 8, 8))
    reduced = contrast(images, factor=0.5)
    assert reduced.mean(axis=(1, 2)) == pytest.approx(images.mean(axis=(1, 2)))
    assert reduced.std(axis=(1, 2)) == pytest.approx(0.5 * images.std(axis=(1, 2)))
    flat = np.full((1, 8, 8), 77.0)
    assert gaussian_blur(flat, sigma=1.0) == pytest.approx(flat)  # a flat image stays flat
    assert gaussian_blur(images, sigma=1.0).std() < images.std()
    noisy = gaussian_noise(np.full((200, 8, 8), 128.0), std=10.0, rng=rng, pixel_range=RANGE)
    assert noisy.std() == pytest.approx(10.0, rel=0.05)
    assert gaussian_noise(images, std=1e4, rng=rng, pixel_range=RANGE).max() <= 255.0


def test_site_shift_is_the_default_data_shift() -> None:
    clean, _, _ = render_digits(seed=1, site_b_fraction=0.0, contrast=0.6, noise_std=0.0,
                                max_images=50)
    shifted_data, _, _ = render_digits(seed=1, site_b_fraction=1.0, contrast=0.6, noise_std=0.0,
                                       max_images=50)
    ours = acquisition_shift(clean, factor=0.6, noise_std=0.0, rng=np.random.default_rng(0),
                      pixel_range=RANGE)
    assert np.abs(ours - shifted_data).max() <= 1.0  # the exported images are rounded to uint8


def test_noise_sigma_estimates_the_noise_of_flat_images() -> None:
    rng = np.random.default_rng(0)
    images = 100 + rng.normal(0, 5.0, size=(10, 128, 128))
    assert noise_sigma(images) == pytest.approx(np.full(10, 5.0), rel=0.05)


def test_corruption_summary_by_hand() -> None:
    summary = summarise_corruptions(0.9, {"noise": [0.9, 0.6], "blur": [0.8, 0.7]})
    assert summary.mean_corruption_accuracy == pytest.approx(0.75)
    assert summary.relative_drop == pytest.approx(0.15 / 0.9)
