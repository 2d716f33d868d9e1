"""Plots of RGB images: shown in colour, attributions summed over the channels."""

import numpy as np

from tai_project.pipelines.data_engineering.nodes import plot_prototypes
from tai_project.pipelines.model_evaluation.nodes import (
    plot_class_attribution_maps,
    plot_test_attributions,
)

SCHEMA = {"classes": ["circle", "square"], "pixel_range": [0, 255]}


def test_prototypes_are_shown_in_colour():
    rng = np.random.default_rng(0)
    prototypes = {"pixels": rng.integers(0, 256, (4, 6, 6, 3), dtype=np.uint8),
                  "labels": np.array([0, 0, 1, 1]), "groups": np.array(["a", "b", "a", "b"]),
                  "cluster_sizes": np.array([3, 2, 4, 1])}
    figure = plot_prototypes(prototypes, SCHEMA)
    shown = figure.axes[0].images[0].get_array()
    assert shown.shape == (6, 6, 3)
    np.testing.assert_allclose(shown, prototypes["pixels"][0] / 255)


def test_attribution_grid_overlays_the_channel_sum_on_the_colour_image():
    rng = np.random.default_rng(1)
    attributions = {"test_pixels": rng.uniform(0, 255, (3, 5, 5, 3)).astype(np.float32),
                    "test_labels": np.array([0, 1, 0]), "test_predictions": np.array([0, 0, 0]),
                    "test_saliency": rng.normal(size=(3, 5, 5, 3))}
    params = {"methods": ["saliency"], "grid_images": 2}
    figure = plot_test_attributions(attributions, params, SCHEMA)
    image, overlay = figure.axes[1].images
    row = int(np.flatnonzero(attributions["test_predictions"] != attributions["test_labels"])[0])
    assert image.get_array().shape == (5, 5, 3)
    np.testing.assert_allclose(overlay.get_array(), attributions["test_saliency"][row].sum(axis=-1))
    maps = plot_class_attribution_maps(attributions, params, SCHEMA)
    assert maps.axes[0].images[0].get_array().shape == (5, 5)
