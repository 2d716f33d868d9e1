"""Differentially private training with Opacus DP-SGD (plain torch + opacus, no Kedro).

A separate path from ``training.train_network`` on purpose: DP-SGD needs per-sample
gradients, Poisson sampling and a privacy accountant, and none of that should change the
non-private loop. Definitions: DP-SGD is Abadi et al. 2016 ("Deep Learning with
Differential Privacy"); the per-sample clipping, noise and accounting are Opacus'
(Yousefpour et al. 2021), used as the library intends (``make_private_with_epsilon``
with Poisson sampling).
"""

from __future__ import annotations

import copy
import logging
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from opacus import PrivacyEngine
from opacus.validators import ModuleValidator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from tai_project.errors import ParameterError
from tai_project.models.training import TrainingResult, _evaluate, seed_everything

logger = logging.getLogger(__name__)

GRAD_SAMPLE_MODES = ("hooks", "functorch", "ew", "ghost")
ACCOUNTANTS = ("prv", "rdp", "gdp")
OPTIMISERS = ("sgd", "adam")


@dataclass(frozen=True)
class PrivacyConfig:
    """DP-SGD settings; every field comes from ``model_engineering.training_setup.privacy``.

    ``batch_size`` is the *expected* batch size: with Poisson sampling each example joins
    each step independently with probability ``batch_size / n`` (Opacus' sample rate is
    ``1 / len(data_loader)``).
    """

    target_epsilon: float
    target_delta: float
    max_grad_norm: float
    epochs: int
    batch_size: int
    learning_rate: float
    optimiser: str = "sgd"
    momentum: float = 0.9
    accountant: str = "prv"
    grad_sample_mode: str = "hooks"

    def __post_init__(self) -> None:
        key = "model_engineering.training_setup.privacy"
        checks = [
            (self.target_epsilon > 0, "target_epsilon", "a number > 0"),
            (0 < self.target_delta < 1, "target_delta", "a number in (0, 1), below 1/n"),
            (self.max_grad_norm > 0, "max_grad_norm", "a number > 0"),
            (self.epochs >= 1, "epochs", "an integer >= 1"),
            (self.batch_size >= 1, "batch_size", "an integer >= 1"),
            (self.optimiser in OPTIMISERS, "optimiser", f"one of {OPTIMISERS}"),
            (self.accountant in ACCOUNTANTS, "accountant", f"one of {ACCOUNTANTS}"),
            (self.grad_sample_mode in GRAD_SAMPLE_MODES, "grad_sample_mode",
             f"one of {GRAD_SAMPLE_MODES}"),
        ]
        for ok, name, expected in checks:
            if not ok:
                raise ParameterError(
                    f"{key}.{name} is {getattr(self, name)!r}; expected {expected}. "
                    "Fix it in conf/base/parameters/model_engineering.yml."
                )


@dataclass(frozen=True)
class PrivacyBudget:
    """What the accountant says was spent: ``epsilon`` at ``delta`` after ``steps`` noisy
    steps with ``noise_multiplier`` at ``sample_rate``. Non-private training spends an
    infinite epsilon (``PrivacyBudget.non_private()``)."""

    enabled: bool
    epsilon: float
    delta: float
    target_epsilon: float
    noise_multiplier: float
    max_grad_norm: float
    sample_rate: float
    steps: int
    accountant: str

    @classmethod
    def non_private(cls) -> PrivacyBudget:
        return cls(False, float("inf"), 0.0, float("inf"), 0.0, float("inf"), 1.0, 0, "none")


@dataclass
class PrivateTrainingResult:
    """The network at its best validation epoch, its history (with ``epsilon`` spent and
    ``seconds`` per epoch) and the privacy budget spent by the whole run."""

    training: TrainingResult
    budget: PrivacyBudget
    epoch_seconds: list[float] = field(default_factory=list)


def train_private_network(
    network: nn.Module,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    *,
    config: PrivacyConfig,
    device: torch.device,
    seed: int,
) -> PrivateTrainingResult:
    """Train with DP-SGD to ``(target_epsilon, target_delta)`` over ``epochs`` epochs and
    return the network from its best validation-loss epoch.

    The noise multiplier is Opacus' ``get_noise_multiplier`` for the target (via
    ``make_private_with_epsilon``); the reported epsilon is the accountant's value after
    *all* steps, because every iterate was computed (choosing one of them by validation
    loss is post-processing and costs no privacy). The network must pass
    ``ModuleValidator.validate(strict=True)`` (no BatchNorm). The input network is not
    modified: training works on a copy.
    """
    if config.target_delta >= 1 / len(train[1]):
        raise ParameterError(
            f"model_engineering.training_setup.privacy.target_delta is {config.target_delta}, "
            f"not below 1/n = {1 / len(train[1]):.2e} for n = {len(train[1])} training images; "
            "such a delta allows releasing whole records. Set it below 1/n (1e-5 is usual)."
        )
    with warnings.catch_warnings():
        # Known and harmless here: Opacus' notice that secure_mode (a CSPRNG for the
        # noise, needs torchcsprng) is off, and torch's full-backward-hook notice that
        # raw pixel inputs do not require gradients.
        warnings.filterwarnings("ignore", message="Secure RNG turned off")
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        seed_everything(seed)
        network = copy.deepcopy(network).to(device).train()
        ModuleValidator.validate(network, strict=True)
        loader = DataLoader(  # pixels keep their dtype (uint8); the network casts them
            TensorDataset(torch.as_tensor(train[0]), torch.as_tensor(train[1])),
            batch_size=config.batch_size,
        )
        engine = PrivacyEngine(accountant=config.accountant)
        loss_fn = nn.CrossEntropyLoss()
        made = engine.make_private_with_epsilon(
            module=network,
            optimizer=_optimiser(network, config),
            criterion=loss_fn,
            data_loader=loader,
            target_epsilon=config.target_epsilon,
            target_delta=config.target_delta,
            epochs=config.epochs,
            max_grad_norm=config.max_grad_norm,
            poisson_sampling=True,
            grad_sample_mode=config.grad_sample_mode,
        )
        if config.grad_sample_mode == "ghost":
            private_module, optimiser, private_loss, private_loader = made
        else:
            (private_module, optimiser, private_loader), private_loss = made, loss_fn
        best_loss, best_epoch, best_state = float("inf"), 0, copy.deepcopy(network.state_dict())
        history, seconds = [], []
        for epoch in range(1, config.epochs + 1):
            started = time.perf_counter()
            train_loss = _private_epoch(private_module, optimiser, private_loss, private_loader, device)
            seconds.append(time.perf_counter() - started)
            epsilon = float(engine.get_epsilon(config.target_delta))
            val_loss, val_accuracy = _evaluate(network, validation, loss_fn, device,
                                               batch_size=config.batch_size)
            network.train()
            history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                            "val_accuracy": val_accuracy, "epsilon": epsilon})
            logger.info(
                "DP epoch %d/%d  train_loss=%.4f  val_loss=%.4f  val_accuracy=%.4f  epsilon=%.3f",
                epoch, config.epochs, train_loss, val_loss, val_accuracy, epsilon,
            )
            if val_loss < best_loss:
                best_loss, best_epoch, best_state = val_loss, epoch, copy.deepcopy(network.state_dict())
        budget = PrivacyBudget(
            enabled=True,
            epsilon=history[-1]["epsilon"],
            delta=config.target_delta,
            target_epsilon=config.target_epsilon,
            noise_multiplier=float(optimiser.noise_multiplier),
            max_grad_norm=config.max_grad_norm,
            sample_rate=float(1 / len(loader)),
            steps=sum(n for _, _, n in engine.accountant.history),
            accountant=config.accountant,
        )
        _remove_hooks(private_module)
        network.load_state_dict(best_state)
        return PrivateTrainingResult(
            training=TrainingResult(network=network.cpu().eval(), best_epoch=best_epoch,
                                    history=history),
            budget=budget,
            epoch_seconds=seconds,
        )



def _optimiser(network: nn.Module, config: PrivacyConfig) -> torch.optim.Optimizer:
    if config.optimiser == "adam":
        return torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    return torch.optim.SGD(network.parameters(), lr=config.learning_rate,
                           momentum=config.momentum)


def _private_epoch(
    module: nn.Module, optimiser: torch.optim.Optimizer, loss_fn: nn.Module,
    loader: DataLoader, device: torch.device,
) -> float:
    total, count = 0.0, 0
    for batch_pixels, batch_labels in loader:
        if len(batch_labels) == 0:  # Poisson sampling can draw an empty batch: no update
            continue
        pixels, labels = batch_pixels.to(device), batch_labels.to(device)
        optimiser.zero_grad()
        loss = loss_fn(module(pixels), labels)
        loss.backward()
        optimiser.step()
        total, count = total + loss.item() * len(labels), count + len(labels)
    return total / max(count, 1)


def _remove_hooks(module: nn.Module) -> None:
    """Detach Opacus' per-sample-gradient hooks so the returned network is a plain module."""
    cleanup = getattr(module, "cleanup", None)
    if callable(cleanup):
        cleanup()
