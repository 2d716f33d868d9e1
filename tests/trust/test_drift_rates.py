"""False-alarm rate and power of the three-test drift detector, on arrays (no Kedro runs).

Reference: the training half of the default digits (rendered as the exporter does), scored
by a small CNN trained on it; batches: ``render_production_batch`` over 20 seeds.
"""

import numpy as np
import pytest
import torch

from tai_project.datasets.default_data import render_digits, render_production_batch
from tai_project.models.embedding import penultimate_embeddings
from tai_project.models.network import SmallCNN
from tai_project.models.training import TrainingConfig, predict_proba, train_network
from tai_project.trust.drift import detect_batch_drift

ALPHA, SEEDS, N_IMAGES = 0.05, range(20), 200


@pytest.fixture(scope="module")
def detector():
    pixels, labels, _ = render_digits(seed=20240501, site_b_fraction=0.25, contrast=0.6,
                                      noise_std=12.0, max_images=None)
    train, validation = slice(0, 1200), slice(1200, None)
    network = SmallCNN(num_classes=10, pixel_mean=float(pixels[train].mean()),
                       pixel_std=float(pixels[train].std()))
    config = TrainingConfig(max_epochs=6, batch_size=64, learning_rate=0.01, weight_decay=0.0,
                            early_stopping_patience=3)
    network = train_network(network, (pixels[train], labels[train]),
                            (pixels[validation], labels[validation]), config=config,
                            device=torch.device("cpu"), seed=0).network
    reference = pixels[train][:600]

    def score(batch_pixels):
        probabilities = predict_proba(network, batch_pixels.astype(np.float32), batch_size=1024,
                                      device=torch.device("cpu"))
        return penultimate_embeddings(network, batch_pixels), probabilities.argmax(axis=1)

    reference_embeddings, reference_predictions = score(reference)

    def flags(kind, seed):
        batch, _, _ = render_production_batch(kind, seed=1000 + seed, n_images=N_IMAGES)
        embeddings, predictions = score(batch)
        return detect_batch_drift(
            reference_pixels=reference, reference_embeddings=reference_embeddings,
            reference_predictions=reference_predictions, batch_pixels=batch,
            batch_embeddings=embeddings, batch_predictions=predictions, alpha=ALPHA,
            n_permutations=200, seed=seed,
        ).drifted

    return flags


@pytest.mark.slow
def test_iid_batches_false_alarm_rate_is_at_most_alpha(detector):
    alarms = sum(detector("iid", seed) for seed in SEEDS)
    # alpha * 20 = 1 expected at most; Binomial(20, 0.05) exceeds 3 with probability < 2 %
    assert alarms <= 3, f"{alarms} false alarms in {len(SEEDS)} iid batches at alpha {ALPHA}"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["site_shift", "noise_drift", "label_shift"])
def test_each_shifted_batch_is_flagged_with_power_at_least_0_9(detector, kind):
    flagged = sum(detector(kind, seed) for seed in SEEDS)
    assert flagged >= 18, f"{kind}: flagged {flagged} of {len(SEEDS)}"
