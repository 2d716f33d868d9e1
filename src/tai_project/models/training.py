"""Seeded training with early stopping, and batched prediction (plain torch)."""

from __future__ import annotations

import copy
import logging
import random
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global random generators with one ``seed``."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - seeds third-party code that uses the global state
    torch.manual_seed(seed)


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation settings; every field comes from ``parameters/model_engineering.yml``."""

    max_epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    early_stopping_patience: int


@dataclass
class TrainingResult:
    """The network at its best validation epoch and the per-epoch history."""

    network: nn.Module
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)


def train_network(
    network: nn.Module,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    *,
    config: TrainingConfig,
    device: torch.device,
    seed: int,
    sample_weight: np.ndarray | None = None,
    validation_weight: np.ndarray | None = None,
) -> TrainingResult:
    """Train with Adam and cross-entropy; stop when validation loss has not improved for
    ``early_stopping_patience`` epochs and return the network from its best epoch.

    ``sample_weight`` (one per training image, default all 1) scales each image's loss in
    the batch mean: loss reweighting, e.g. group-balanced weights as a fairness mitigation.
    ``validation_weight`` does the same for the validation loss that early stopping watches,
    so the model is selected on the objective it was trained for.
    The input network is not modified: training works on a copy.
    """
    seed_everything(seed)
    network = copy.deepcopy(network).to(device)
    loader = DataLoader(
        TensorDataset(
            torch.as_tensor(train[0]),
            torch.as_tensor(train[1]),
            torch.as_tensor(
                np.ones(len(train[1])) if sample_weight is None else sample_weight,
                dtype=torch.float32,
            ),
        ),
        batch_size=config.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    optimiser = torch.optim.Adam(
        network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    loss_fn = nn.CrossEntropyLoss()
    per_sample_loss = nn.CrossEntropyLoss(reduction="none")
    best_loss, best_epoch, best_state = float("inf"), 0, copy.deepcopy(network.state_dict())
    history = []
    for epoch in range(1, config.max_epochs + 1):
        network.train()
        total, count = 0.0, 0
        for batch_pixels, batch_labels, weights in loader:
            pixels, labels = batch_pixels.to(device), batch_labels.to(device)
            optimiser.zero_grad()
            loss = (per_sample_loss(network(pixels), labels) * weights.to(device)).mean()
            loss.backward()
            optimiser.step()
            total, count = total + loss.item() * len(labels), count + len(labels)
        val_loss, val_accuracy = _evaluate(network, validation, loss_fn, device, validation_weight,
                                           batch_size=config.batch_size)
        history.append(
            {"epoch": epoch, "train_loss": total / count, "val_loss": val_loss,
             "val_accuracy": val_accuracy}
        )
        logger.info(
            "epoch %d/%d  train_loss=%.4f  val_loss=%.4f  val_accuracy=%.4f",
            epoch, config.max_epochs, total / count, val_loss, val_accuracy,
        )
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = copy.deepcopy(network.state_dict())
        elif epoch - best_epoch >= config.early_stopping_patience:
            logger.info("early stopping: no val_loss improvement since epoch %d", best_epoch)
            break
    network.load_state_dict(best_state)
    return TrainingResult(network=network.cpu().eval(), best_epoch=best_epoch, history=history)


@torch.no_grad()
def _evaluate(
    network: nn.Module,
    data: tuple[np.ndarray, np.ndarray],
    loss_fn: nn.Module,
    device: torch.device,
    weights: np.ndarray | None = None,
    *,
    batch_size: int,
) -> tuple[float, float]:
    """Return the (optionally ``weights``-weighted) mean loss and the accuracy on ``data``,
    predicted in batches so memory does not grow with the size of the validation split."""
    logits = torch.as_tensor(predict_logits(network, data[0], batch_size=batch_size, device=device))
    labels = torch.as_tensor(data[1])
    accuracy = (logits.argmax(dim=1) == labels).float().mean().item()
    if weights is None:
        return loss_fn(logits, labels).item(), accuracy
    per_sample = nn.functional.cross_entropy(logits, labels, reduction="none")
    weight = torch.as_tensor(weights, dtype=torch.float32)
    return ((per_sample * weight).sum() / weight.sum()).item(), accuracy


@torch.no_grad()
def predict_logits(
    network: nn.Module, pixels: np.ndarray, *, batch_size: int, device: torch.device
) -> np.ndarray:
    """Return class logits, shape ``(n, num_classes)``, for raw ``pixels``, in batches."""
    network = network.to(device).eval()
    batches = [
        network(torch.as_tensor(pixels[i : i + batch_size]).to(device)).cpu()
        for i in range(0, len(pixels), batch_size)
    ]
    return torch.cat(batches).numpy() if batches else np.empty((0, 0), dtype=np.float32)


def predict_proba(
    network: nn.Module,
    pixels: np.ndarray,
    *,
    batch_size: int,
    device: torch.device,
    temperature: float = 1.0,
) -> np.ndarray:
    """Return softmax class probabilities, shape ``(n, num_classes)``, for raw ``pixels``;
    ``temperature`` divides the logits first (1 = the network as trained)."""
    logits = predict_logits(network, pixels, batch_size=batch_size, device=device)
    if logits.size == 0:
        return logits
    return torch.softmax(torch.as_tensor(logits) / temperature, dim=1).numpy()
