import numpy as np
import pytest
import torch

from tai_project.models.network import SmallCNN, resolve_device
from tai_project.models.training import TrainingConfig, predict_proba, train_network


def _toy(n=120, seed=0):
    """Two linearly separable classes: bright top half vs bright bottom half."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    pixels = rng.integers(0, 40, size=(n, 8, 8))
    for i, label in enumerate(labels):
        pixels[i, :4] += 200 * (label == 0)
        pixels[i, 4:] += 200 * (label == 1)
    return pixels.astype(np.uint8), labels.astype(np.int64)


CONFIG = TrainingConfig(max_epochs=8, batch_size=16, learning_rate=0.01, weight_decay=0.0,
                        early_stopping_patience=3)


def _train(seed=0, config=CONFIG):
    pixels, labels = _toy()
    torch.manual_seed(123)
    network = SmallCNN(num_classes=2, channels=(4, 8), groups=2, pixel_mean=pixels.mean(),
                       pixel_std=pixels.std())
    return train_network(network, (pixels[:80], labels[:80]), (pixels[80:], labels[80:]),
                         config=config, device=torch.device("cpu"), seed=seed)


def test_training_learns_and_records_history():
    result = _train()
    assert result.history[-1]["val_accuracy"] >= 0.95
    assert 1 <= result.best_epoch <= len(result.history) <= CONFIG.max_epochs
    assert set(result.history[0]) == {"epoch", "train_loss", "val_loss", "val_accuracy"}


def test_same_seed_same_weights():
    first, second = _train(seed=5), _train(seed=5)
    for a, b in zip(first.network.state_dict().values(), second.network.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_early_stopping_stops_after_patience():
    config = TrainingConfig(max_epochs=50, batch_size=16, learning_rate=0.05, weight_decay=0.0,
                            early_stopping_patience=2)
    result = _train(config=config)
    assert len(result.history) - result.best_epoch <= config.early_stopping_patience
    assert len(result.history) < config.max_epochs


def test_predict_proba_rows_are_distributions():
    pixels, _ = _toy(10)
    probabilities = predict_proba(_train().network, pixels, batch_size=4,
                                  device=torch.device("cpu"))
    assert probabilities.shape == (10, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(("requested", "expected"), [("cpu", "cpu"), ("cuda:1", "cuda")])
def test_resolve_device_explicit(requested, expected):
    assert resolve_device(requested).type == expected


def test_resolve_device_auto_uses_cuda_when_available():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
