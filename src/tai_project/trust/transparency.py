"""Transparency: class prototypes, Captum attributions and a deletion-curve faithfulness score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import InputXGradient, IntegratedGradients, Saliency
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances
from torch import nn

ATTRIBUTION_METHODS = ("integrated_gradients", "saliency", "input_x_gradient")


@dataclass(frozen=True)
class Prototypes:
    """Per-class prototype images: actual training images, ``k`` per class at most."""

    pixels: np.ndarray
    labels: np.ndarray
    indices: np.ndarray
    """Row of each prototype in the array it was drawn from."""
    cluster_sizes: np.ndarray
    """How many images of its class each prototype stands for."""


def class_prototypes(
    pixels: np.ndarray, labels: np.ndarray, *, k: int, random_state: int
) -> Prototypes:
    """Return ``k`` medoids per class in pixel space (model-independent).

    Each class is clustered with scikit-learn's ``KMeans`` (``k`` clusters); a cluster's
    prototype is its medoid, the member with the smallest summed Euclidean distance to the
    other members (Kaufman & Rousseeuw 1990), so a prototype is always a real image. This
    is the k-means-then-medoid approximation of k-medoids; the paper's case study uses such
    prototypes as the global explanation of each class.
    """
    flat = np.asarray(pixels).reshape(len(pixels), -1)  # float64 one class at a time
    chosen, chosen_labels, sizes = [], [], []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        members_flat = flat[rows].astype(np.float64)
        n_clusters = min(k, len(rows))
        clusters = KMeans(n_clusters=n_clusters, n_init=4, random_state=random_state).fit_predict(
            members_flat
        )
        for cluster in range(n_clusters):
            members = rows[clusters == cluster]
            distances = pairwise_distances(members_flat[clusters == cluster])
            medoid = members[distances.sum(axis=1).argmin()]
            chosen.append(medoid)
            chosen_labels.append(label)
            sizes.append(len(members))
    indices = np.asarray(chosen, dtype=np.int64)
    return Prototypes(
        pixels=np.asarray(pixels)[indices],
        labels=np.asarray(chosen_labels),
        indices=indices,
        cluster_sizes=np.asarray(sizes, dtype=np.int64),
    )


def attribute(
    network: nn.Module,
    pixels: np.ndarray,
    targets: np.ndarray,
    *,
    method: str,
    baseline: float,
    n_steps: int,
    internal_batch_size: int | None = None,
) -> np.ndarray:
    """Return Captum attributions of the ``targets`` logits to each input value, same shape
    as ``pixels`` (channels-last: one attribution per pixel and channel; sum over the last
    axis for one value per pixel).

    ``method``: ``integrated_gradients`` (Sundararajan et al. 2017; straight path from a
    constant ``baseline`` image, ``n_steps`` Gauss-Legendre steps), ``saliency`` (absolute
    input gradient, Simonyan et al. 2013) or ``input_x_gradient`` (Shrikumar et al. 2016).
    Pixels are in the network's raw input units. ``internal_batch_size`` (Captum's) caps how
    many of the ``len(pixels) * n_steps`` path points go through the network at once, so
    the memory of Integrated Gradients stays bounded (None = all at once).
    """
    network = network.eval()
    inputs = torch.as_tensor(np.asarray(pixels, dtype=np.float32)).requires_grad_()
    target = torch.as_tensor(np.asarray(targets, dtype=np.int64))
    if method == "integrated_gradients":
        result = IntegratedGradients(network).attribute(
            inputs, baselines=float(baseline), target=target, n_steps=n_steps,
            internal_batch_size=internal_batch_size,
        )
    elif method == "saliency":
        result = Saliency(network).attribute(inputs, target=target)
    elif method == "input_x_gradient":
        result = InputXGradient(network).attribute(inputs, target=target)
    else:
        raise ValueError(f"unknown attribution method {method!r}; use one of {ATTRIBUTION_METHODS}")
    return result.detach().numpy()


@dataclass(frozen=True)
class DeletionCurve:
    """Mean drop of the true-class probability as the top pixels are deleted."""

    fractions: tuple[float, ...]
    attribution_drop: tuple[float, ...]
    random_drop: tuple[float, ...]
    attribution_area: float
    random_area: float
    ratio: float
    """``attribution_area / random_area``: above 1, the attribution finds the pixels the
    model relies on faster than chance; NaN when deleting at random does not lower the
    probability at all."""


def deletion_curve(
    network: nn.Module,
    pixels: np.ndarray,
    targets: np.ndarray,
    attributions: np.ndarray,
    *,
    fractions: Sequence[float],
    baseline: float,
    n_random: int,
    random_state: int,
) -> DeletionCurve:
    """Return the deletion curve of ``attributions`` and of a random pixel order.

    For each fraction ``f``, the ``round(f * n_pixels)`` pixels with the highest attribution
    (summed over the channels of channels-last ``(n, height, width, channels)`` pixels) are
    set to ``baseline`` in every channel and the drop ``p(target | x) - p(target | x_deleted)``
    is averaged over the images (the deletion metric of Petsiuk et al. 2018, RISE; Samek et
    al. 2017 call it pixel flipping). The random baseline averages ``n_random`` random
    orders per image. Areas are trapezoids over ``fractions``.
    """
    pixels = np.asarray(pixels, dtype=np.float32)
    scores, flat = _per_pixel(np.asarray(attributions)), _per_pixel_planes(pixels)
    order = np.argsort(-scores.reshape(len(pixels), -1), axis=1, kind="stable")
    rng = np.random.default_rng(random_state)
    random_orders = [rng.permuted(np.tile(np.arange(flat.shape[1]), (len(flat), 1)), axis=1)
                     for _ in range(n_random)]
    original = _target_probability(network, flat, targets, pixels.shape)
    attribution_drop, random_drop = [], []
    for fraction in fractions:
        count = round(fraction * flat.shape[1])
        common = {"count": count, "baseline": baseline, "targets": targets, "shape": pixels.shape}
        attribution_drop.append(
            float(np.mean(original - _deleted_probability(network, flat, order=order, **common)))
        )
        random_drop.append(float(np.mean([
            np.mean(original - _deleted_probability(network, flat, order=random_order, **common))
            for random_order in random_orders
        ])))
    x = np.asarray(fractions, dtype=np.float64)
    attribution_area = float(np.trapezoid(attribution_drop, x))
    random_area = float(np.trapezoid(random_drop, x))
    return DeletionCurve(
        fractions=tuple(float(f) for f in fractions),
        attribution_drop=tuple(attribution_drop),
        random_drop=tuple(random_drop),
        attribution_area=attribution_area,
        random_area=random_area,
        ratio=attribution_area / random_area if random_area > 0 else float("nan"),
    )


def _deleted_probability(
    network: nn.Module,
    flat: np.ndarray,
    *,
    order: np.ndarray,
    count: int,
    baseline: float,
    targets: np.ndarray,
    shape: tuple[int, ...],
) -> np.ndarray:
    deleted = flat.copy()
    np.put_along_axis(deleted, order[:, :count, np.newaxis], baseline, axis=1)
    return _target_probability(network, deleted, targets, shape)


@torch.no_grad()
def _target_probability(
    network: nn.Module, flat: np.ndarray, targets: np.ndarray, shape: tuple[int, ...]
) -> np.ndarray:
    logits = network.eval()(torch.as_tensor(flat.reshape(shape)))
    probabilities = torch.softmax(logits, dim=1).numpy()
    return probabilities[np.arange(len(flat)), np.asarray(targets)]


def _per_pixel(attributions: np.ndarray) -> np.ndarray:
    """``(n, height, width, channels)`` -> summed over channels; ``(n, height, width)`` as is."""
    return attributions.sum(axis=-1) if attributions.ndim == 4 else attributions  # noqa: PLR2004


def _per_pixel_planes(pixels: np.ndarray) -> np.ndarray:
    """Return pixels as ``(n, height * width, channels)`` (one channel for 3-D input)."""
    planes = pixels[..., np.newaxis] if pixels.ndim == 3 else pixels  # noqa: PLR2004
    return planes.reshape(len(planes), -1, planes.shape[-1])


def class_attribution_map(
    attributions: np.ndarray, labels: np.ndarray, *, n_classes: int
) -> np.ndarray:
    """Return the mean absolute attribution per class, shape ``(n_classes, height, width)``,
    of the attributions summed over the channels of channels-last input; NaN for a class
    without images (a global view, as in Captum's tutorials)."""
    magnitude = np.abs(_per_pixel(np.asarray(attributions, dtype=np.float64)))
    result = np.full((n_classes, *magnitude.shape[1:]), np.nan)
    for label in range(n_classes):
        if np.any(labels == label):
            result[label] = magnitude[labels == label].mean(axis=0)
    return result
