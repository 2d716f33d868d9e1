"""Prototypes, Captum attributions and the deletion-curve faithfulness score."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients

from tai_project.datasets.default_data import render_digits
from tai_project.models.network import SmallCNN
from tai_project.models.training import TrainingConfig, train_network
from tai_project.trust.transparency import (
    attribute,
    class_attribution_map,
    class_prototypes,
    deletion_curve,
)


@pytest.fixture(scope="module")
def digits():
    pixels, labels, _ = render_digits(
        seed=3, site_b_fraction=0.0, contrast=1.0, noise_std=0.0, max_images=700
    )
    return pixels, labels.astype(np.int64)


@pytest.fixture(scope="module")
def trained(digits):
    """A small CNN trained for a few epochs on 600 digits (about 2 s on one core)."""
    pixels, labels = digits
    network = SmallCNN(num_classes=10, channels=(8, 16), groups=4,
                       pixel_mean=float(pixels[:600].mean()), pixel_std=float(pixels[:600].std()))
    config = TrainingConfig(max_epochs=6, batch_size=64, learning_rate=0.005, weight_decay=0.0,
                            early_stopping_patience=6)
    result = train_network(network, (pixels[:600], labels[:600]), (pixels[600:], labels[600:]),
                           config=config, device=torch.device("cpu"), seed=0)
    assert result.history[-1]["val_accuracy"] > 0.8  # a model worth explaining
    return result.network


def test_prototypes_are_training_images_of_their_class(digits):
    pixels, labels = digits
    prototypes = class_prototypes(pixels, labels, k=3, random_state=0)
    assert len(prototypes.labels) == 30
    np.testing.assert_array_equal(pixels[prototypes.indices], prototypes.pixels)
    np.testing.assert_array_equal(labels[prototypes.indices], prototypes.labels)
    for label in range(10):
        assert np.sum(prototypes.labels == label) == 3
        assert prototypes.cluster_sizes[prototypes.labels == label].sum() == np.sum(labels == label)


def test_prototype_is_the_medoid_of_a_single_cluster():
    """k = 1: the prototype minimises the summed distance to the other class members."""
    pixels = np.array([[[0, 0]], [[1, 0]], [[2, 0]], [[9, 0]]], dtype=np.uint8)
    prototypes = class_prototypes(pixels, np.zeros(4, dtype=int), k=1, random_state=0)
    # summed distances: 0 -> 12, 1 -> 10, 2 -> 10, 9 -> 24; argmin keeps the first
    assert prototypes.indices.tolist() == [1]


def test_integrated_gradients_completeness(trained, digits):
    """Sum of IG attributions is within 1 % of f(x) - f(baseline) (Sundararajan et al. 2017)."""
    pixels = torch.as_tensor(digits[0][600:605], dtype=torch.float32)
    targets = torch.as_tensor(digits[1][600:605])
    attributions = attribute(trained, pixels.numpy(), targets.numpy(),
                             method="integrated_gradients", baseline=0.0, n_steps=300)
    with torch.no_grad():
        logits = trained(pixels)
        baseline_logits = trained(torch.zeros_like(pixels))
    difference = (logits - baseline_logits)[torch.arange(5), targets].numpy()
    np.testing.assert_allclose(attributions.reshape(5, -1).sum(axis=1), difference, rtol=0.01)
    # the same integral through Captum's own convergence delta
    _, delta = IntegratedGradients(trained).attribute(
        pixels, baselines=0.0, target=targets, n_steps=300, return_convergence_delta=True
    )
    assert np.all(np.abs(delta.numpy()) <= 0.01 * np.abs(difference))


def test_integrated_gradients_deletion_curve_falls_faster_than_random(trained, digits):
    pixels, labels = digits[0][600:], digits[1][600:]
    attributions = attribute(trained, pixels, labels, method="integrated_gradients",
                             baseline=0.0, n_steps=32)
    curve = deletion_curve(trained, pixels, labels, attributions,
                           fractions=[0.0, 0.05, 0.1, 0.2, 0.3, 0.5], baseline=0.0,
                           n_random=3, random_state=0)
    assert curve.attribution_drop[0] == pytest.approx(0.0, abs=1e-6)
    assert all(a > r for a, r in zip(curve.attribution_drop[1:], curve.random_drop[1:]))
    assert curve.ratio == pytest.approx(curve.attribution_area / curve.random_area)
    assert curve.ratio > 1.0


def test_deletion_curve_by_hand():
    """A linear 'network' on 4 pixels: deleting pixels by weight lowers the probability in
    the order the weights say; the hand-computed drop matches."""

    class Linear(torch.nn.Module):
        def forward(self, x):
            score = (x.reshape(len(x), -1) * torch.tensor([4.0, 3.0, 2.0, 1.0])).sum(1)
            return torch.stack([score, torch.zeros_like(score)], dim=1)

    pixels = np.ones((1, 2, 2), dtype=np.float32)
    attributions = np.array([[[4.0, 3.0], [2.0, 1.0]]])
    curve = deletion_curve(Linear(), pixels, np.array([0]), attributions,
                           fractions=[0.0, 0.5, 1.0], baseline=0.0, n_random=1, random_state=0)
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731 - p(class 0) for logits (z, 0)
    assert curve.attribution_drop == pytest.approx(
        (0.0, sigmoid(10) - sigmoid(3), sigmoid(10) - sigmoid(0)))
    assert curve.attribution_drop[-1] == pytest.approx(curve.random_drop[-1])


@pytest.mark.parametrize("method", ["integrated_gradients", "saliency", "input_x_gradient"])
def test_attributions_have_the_input_shape(trained, digits, method):
    result = attribute(trained, digits[0][:4], digits[1][:4], method=method, baseline=0.0,
                       n_steps=8)
    assert result.shape == (4, 8, 8)
    assert np.isfinite(result).all()


def test_class_attribution_map_is_the_mean_absolute_value():
    attributions = np.array([[[1.0, -2.0]], [[-3.0, 0.0]], [[5.0, 5.0]]])
    result = class_attribution_map(attributions, np.array([0, 0, 1]), n_classes=3)
    np.testing.assert_allclose(result[0], [[2.0, 1.0]])
    np.testing.assert_allclose(result[1], [[5.0, 5.0]])
    assert np.isnan(result[2]).all()


def test_integrated_gradients_in_internal_batches_equals_all_at_once(trained, digits):
    pixels, labels = digits[0][:20], digits[1][:20]
    whole = attribute(trained, pixels, labels, method="integrated_gradients", baseline=0.0,
                      n_steps=16)
    batched = attribute(trained, pixels, labels, method="integrated_gradients", baseline=0.0,
                        n_steps=16, internal_batch_size=50)
    np.testing.assert_allclose(batched, whole, rtol=1e-4, atol=1e-6)
