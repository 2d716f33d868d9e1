"""Robustness: image noise profile, common corruptions, and FGSM / PGD adversarial attacks.

Pixels are floats in the units of the training images (0-255 for 8-bit images), channels-last
``(n, height, width, channels)`` (single-channel ``(n, height, width)`` works too); the
networks of this project standardise their own input, so attacks work in pixel units too and
clip every channel to ``pixel_range``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import gaussian_filter
from scipy.signal import convolve2d
from torch import nn

_IMMERKAER_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)


def noise_sigma(pixels: np.ndarray) -> np.ndarray:
    """Return a per-image, per-channel Gaussian-noise standard deviation estimate: shape
    ``(n, channels)`` for channels-last ``(n, height, width, channels)`` pixels, ``(n,)`` for
    single-channel ``(n, height, width)`` ones.

    Immerkaer 1996, "Fast Noise Variance Estimation": ``sqrt(pi/2) / (6 (W-2)(H-2)) *
    sum |I * N|`` with ``N`` the difference of two Laplacians, computed on each channel
    separately. On very small images the estimate also contains edge energy, so compare it
    between data sets, not with a true sigma.
    """
    array = np.asarray(pixels)
    planes = array[..., np.newaxis] if array.ndim == 3 else array  # noqa: PLR2004
    height, width = planes.shape[1:3]
    scale = np.sqrt(np.pi / 2) / (6 * (width - 2) * (height - 2))
    sigma = np.array([  # one image plane at a time in float64: no float copy of the whole set
        [scale * np.abs(convolve2d(np.asarray(image[..., channel], dtype=np.float64),
                                   _IMMERKAER_KERNEL, mode="valid")).sum()
         for channel in range(planes.shape[-1])]
        for image in planes
    ]).reshape(len(planes), planes.shape[-1])
    return sigma[:, 0] if array.ndim == 3 else sigma  # noqa: PLR2004


def gaussian_noise(
    pixels: np.ndarray, *, std: float | np.ndarray, rng: np.random.Generator,
    pixel_range: tuple[float, float],
) -> np.ndarray:
    """Return ``clip(x + N(0, std))`` (Hendrycks & Dietterich 2019, "gaussian_noise"); ``std``
    is one number or one per channel (the last axis of channels-last pixels)."""
    noisy = np.asarray(pixels, dtype=np.float64) + rng.normal(0.0, std, size=np.shape(pixels))
    return np.clip(noisy, *pixel_range)


def gaussian_blur(pixels: np.ndarray, *, sigma: float) -> np.ndarray:
    """Return each image blurred by a Gaussian of ``sigma`` pixels, each channel on its own
    (scipy.ndimage, reflect borders; Hendrycks & Dietterich 2019, "gaussian_blur"); pixels
    ``(n, height, width)`` or channels-last ``(n, height, width, channels)``."""
    images = np.asarray(pixels, dtype=np.float64)
    spatial = (0, sigma, sigma) + (0,) * (images.ndim - 3)
    return gaussian_filter(images, sigma=spatial)


def contrast(pixels: np.ndarray, *, factor: float) -> np.ndarray:
    """Return ``mean + factor * (x - mean)`` per image and channel (the mean over height and
    width): contrast reduced for ``factor < 1`` (Hendrycks & Dietterich 2019, "contrast")."""
    images = np.asarray(pixels, dtype=np.float64)
    mean = images.mean(axis=(1, 2), keepdims=True)
    return mean + factor * (images - mean)


def acquisition_shift(
    pixels: np.ndarray,
    *,
    factor: float,
    noise_std: float,
    rng: np.random.Generator,
    pixel_range: tuple[float, float],
) -> np.ndarray:
    """Return a simulated acquisition shift (another device or site): ``factor * x + (1 -
    factor) * mid + N(0, noise_std)``, clipped, with ``mid`` the middle of ``pixel_range``
    (lower contrast plus sensor noise; the shift of the default data's minority group, see
    ``tai_project.datasets.default_data``). Works on any channel layout."""
    mid = (pixel_range[0] + pixel_range[1]) / 2
    images = np.asarray(pixels, dtype=np.float64)
    shifted = factor * images + (1 - factor) * mid + rng.normal(0.0, noise_std, size=images.shape)
    return np.clip(shifted, *pixel_range)


@dataclass(frozen=True)
class CorruptionSummary:
    """Accuracy per corruption and severity, their mean, and the drop against clean data."""

    clean_accuracy: float
    accuracy: dict[str, list[float]]
    mean_corruption_accuracy: float
    relative_drop: float


def summarise_corruptions(
    clean_accuracy: float, accuracy: dict[str, list[float]]
) -> CorruptionSummary:
    """Return the mean corruption accuracy (mean over every corruption and severity) and the
    relative drop ``(clean - mean) / clean`` (Hendrycks & Dietterich 2019 report error rates;
    these are the same quantities written as accuracies)."""
    values = [value for levels in accuracy.values() for value in levels]
    mean = float(np.mean(values))
    drop = (clean_accuracy - mean) / clean_accuracy if clean_accuracy > 0 else float("nan")
    return CorruptionSummary(
        clean_accuracy=float(clean_accuracy),
        accuracy={name: [float(v) for v in levels] for name, levels in accuracy.items()},
        mean_corruption_accuracy=mean,
        relative_drop=float(drop),
    )


def fgsm(
    model: nn.Module,
    pixels: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float,
    pixel_range: tuple[float, float],
) -> torch.Tensor:
    """Return FGSM adversarial inputs ``clip(x + eps * sign(grad_x CE(model(x), y)))``
    (Goodfellow et al. 2015, L-infinity, untargeted)."""
    return _clip(pixels + eps * _loss_gradient(model, pixels, labels).sign(), pixel_range)


def pgd(
    model: nn.Module,
    pixels: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float,
    steps: int,
    step_size: float,
    pixel_range: tuple[float, float],
    generator: torch.Generator,
) -> torch.Tensor:
    """Return PGD adversarial inputs (Madry et al. 2018, L-infinity, untargeted): a uniform
    random start in the eps-ball, then ``steps`` signed-gradient steps of ``step_size``,
    each projected back onto the eps-ball around ``x`` and the valid pixel range."""
    pixels = pixels.float()
    noise = torch.rand(pixels.shape, generator=generator) * 2 * eps - eps
    adversarial = _clip(pixels + noise, pixel_range)
    for _ in range(steps):
        step = step_size * _loss_gradient(model, adversarial, labels).sign()
        adversarial = torch.clamp(adversarial + step, pixels - eps, pixels + eps)
        adversarial = _clip(adversarial, pixel_range)
    return adversarial


def _loss_gradient(model: nn.Module, pixels: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    inputs = pixels.detach().float().requires_grad_(True)
    loss = nn.functional.cross_entropy(model(inputs), labels)
    (gradient,) = torch.autograd.grad(loss, inputs)
    return gradient.detach()


def _clip(pixels: torch.Tensor, pixel_range: tuple[float, float]) -> torch.Tensor:
    return torch.clamp(pixels, pixel_range[0], pixel_range[1]).detach()


@dataclass(frozen=True)
class AdversarialResult:
    """Accuracy on clean inputs, under FGSM, under PGD, and under the worse of the two per
    input (``robust_accuracy``: correct under both attacks)."""

    eps: float
    clean_accuracy: float
    fgsm_accuracy: float
    pgd_accuracy: float
    robust_accuracy: float


def adversarial_robustness(
    model: nn.Module,
    pixels: np.ndarray,
    labels: np.ndarray,
    *,
    eps: float,
    steps: int,
    step_size: float,
    pixel_range: tuple[float, float],
    seed: int,
) -> AdversarialResult:
    """Return clean, FGSM, PGD and worst-case robust accuracy at L-infinity radius ``eps``."""
    model = model.eval()
    x = torch.as_tensor(np.asarray(pixels), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    x_fgsm = fgsm(model, x, y, eps=eps, pixel_range=pixel_range)
    x_pgd = pgd(model, x, y, eps=eps, steps=steps, step_size=step_size, pixel_range=pixel_range,
                generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        correct = {name: model(inputs).argmax(dim=1) == y
                   for name, inputs in (("clean", x), ("fgsm", x_fgsm), ("pgd", x_pgd))}
    return AdversarialResult(
        eps=float(eps),
        clean_accuracy=float(correct["clean"].float().mean()),
        fgsm_accuracy=float(correct["fgsm"].float().mean()),
        pgd_accuracy=float(correct["pgd"].float().mean()),
        robust_accuracy=float((correct["fgsm"] & correct["pgd"]).float().mean()),
    )
