"""DP-SGD training: the budget spent, the accountant, and what it does to a membership attack."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from opacus.accountants import RDPAccountant
from opacus.validators import ModuleValidator
from sklearn.datasets import load_digits

from tai_project.errors import ParameterError
from tai_project.models.network import SmallCNN
from tai_project.models.private_training import PrivacyConfig, train_private_network
from tai_project.models.training import TrainingConfig, predict_proba, train_network
from tai_project.trust.privacy import membership_inference
from tai_project.trust.requirements import check_requirements, parse_requirements

CPU = torch.device("cpu")
REQUIREMENTS = Path(__file__).resolve().parents[2] / "conf/base/parameters/trust_requirements.yml"


def _digits(noise_std: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    digits = load_digits()
    pixels = digits.images / 16 * 255
    pixels += np.random.default_rng(1).normal(0.0, noise_std, pixels.shape) if noise_std else 0
    return np.clip(pixels, 0, 255).astype(np.uint8), digits.target.astype(np.int64)


def _network(pixels: np.ndarray) -> SmallCNN:
    torch.manual_seed(0)
    return SmallCNN(num_classes=10, channels=(32, 64), groups=8,
                    pixel_mean=float(pixels.mean()), pixel_std=float(pixels.std()))


def _config(**overrides) -> PrivacyConfig:
    settings = {"target_epsilon": 3.0, "target_delta": 1e-5, "max_grad_norm": 1.0, "epochs": 3,
                "batch_size": 64, "learning_rate": 0.005, "optimiser": "adam",
                "accountant": "rdp"}
    return PrivacyConfig(**{**settings, **overrides})


def test_network_passes_opacus_validation() -> None:
    assert ModuleValidator.validate(_network(np.zeros(1)).train(), strict=False) == []


def test_reported_epsilon_is_the_accountants_and_within_the_target() -> None:
    pixels, labels = _digits()
    train, validation = (pixels[:300], labels[:300]), (pixels[300:400], labels[300:400])
    result = train_private_network(_network(pixels), train, validation, config=_config(),
                                   device=CPU, seed=0)
    budget = result.budget
    accountant = RDPAccountant()
    accountant.history = [(budget.noise_multiplier, budget.sample_rate, budget.steps)]
    assert budget.epsilon == pytest.approx(accountant.get_epsilon(delta=1e-5), rel=1e-9)
    # Opacus searches the noise multiplier to epsilon_tolerance = 0.01 below the target
    assert 3.0 - 0.01 <= budget.epsilon <= 3.0
    assert budget.steps == 3 * 5  # 3 epochs x 1 / sample_rate (300 / 64 -> 5 batches)
    assert [row["epsilon"] for row in result.training.history][-1] == budget.epsilon
    assert np.all(np.diff([row["epsilon"] for row in result.training.history]) > 0)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [({"target_delta": 0.01}, "target_delta"), ({"grad_sample_mode": "magic"}, "grad_sample_mode"),
     ({"accountant": "moments"}, "accountant")],
)
def test_bad_settings_are_named(overrides: dict, key: str) -> None:
    pixels, labels = _digits()
    with pytest.raises(ParameterError, match=key):
        train_private_network(_network(pixels), (pixels[:300], labels[:300]),
                              (pixels[300:400], labels[300:400]), config=_config(**overrides),
                              device=CPU, seed=0)


@pytest.mark.slow
def test_dp_removes_the_membership_signal_of_an_overfit_model() -> None:
    """Noisy digits, 300 training images, 100 epochs: the plain model memorises them."""
    pixels, labels = _digits(noise_std=60.0)
    order = np.random.default_rng(0).permutation(len(labels))
    members, nonmembers, validation = order[:300], order[300:600], order[1500:1600]
    train, val = (pixels[members], labels[members]), (pixels[validation], labels[validation])
    requirements = parse_requirements(
        yaml.safe_load(REQUIREMENTS.read_text())["trust_requirements"]
    )

    def attack_auc(network: torch.nn.Module) -> float:
        def proba(rows: np.ndarray) -> np.ndarray:
            return predict_proba(network, pixels[rows], batch_size=1024, device=CPU)
        attacks = membership_inference(proba(members), labels[members],
                                       proba(nonmembers), labels[nonmembers])
        return max(attack.auc for attack in attacks.values())

    plain = train_network(
        _network(pixels), train, val, device=CPU, seed=0,
        config=TrainingConfig(max_epochs=100, batch_size=32, learning_rate=0.003,
                              weight_decay=0.0, early_stopping_patience=1000),
    )
    plain_auc = attack_auc(plain.network)
    assert plain_auc > 0.7
    gate = {c.requirement: c.status for c in check_requirements(requirements,
                                                                 {"mia_auc": plain_auc}).checks}
    assert gate["max_mia_auc"] == "fail"

    private = train_private_network(
        _network(pixels), train, val, device=CPU, seed=0,
        config=_config(target_epsilon=1.0, epochs=60, batch_size=32, learning_rate=0.003),
    )
    assert private.budget.epsilon <= 1.0
    assert abs(attack_auc(private.training.network) - 0.5) <= 0.05
