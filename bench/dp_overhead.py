"""DP-SGD time per epoch / non-private time per epoch: same model, batch and optimiser, one process.

Both loops train the project's ``SmallCNN`` on the training split of ``model_input.npz`` with
the shipped DP schedule (``model_engineering.training_setup.privacy``: batch size, optimiser,
learning rate). The private loop is Opacus' (``make_private_with_epsilon``, Poisson
sampling, per-sample clipping and noise) in each ``grad_sample_mode``; the non-private loop
is the same model, optimiser and batch size without Opacus. Epochs alternate between the
variants (after one warm-up epoch each) so machine noise hits all alike; the figure is the
median epoch. Only the training loop is timed (no validation pass).

Run: ``python bench/dp_overhead.py --model-input data/05_model_input/model_input.npz``.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from opacus import PrivacyEngine
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from tai_project.models.network import SmallCNN

ROOT = Path(__file__).resolve().parents[1]
MODES = ("hooks", "functorch", "ew", "ghost")


def _setup() -> dict[str, Any]:
    path = ROOT / "conf/base/parameters/model_engineering.yml"
    return yaml.safe_load(path.read_text())["model_engineering"]["training_setup"]


def _network(data: dict[str, np.ndarray], setup: dict[str, Any]) -> SmallCNN:
    torch.manual_seed(0)
    return SmallCNN(num_classes=int(data["train_labels"].max()) + 1,
                    channels=tuple(setup["network"]["channels"]),
                    groups=setup["network"]["groups"], pixel_mean=data["pixel_mean"].tolist(),
                    pixel_std=data["pixel_std"].tolist())


def _optimiser(network: nn.Module, dp: dict[str, Any]) -> torch.optim.Optimizer:
    if dp["optimiser"] == "adam":
        return torch.optim.Adam(network.parameters(), lr=dp["learning_rate"])
    return torch.optim.SGD(network.parameters(), lr=dp["learning_rate"], momentum=dp["momentum"])


def _epoch(module: nn.Module, optimiser: torch.optim.Optimizer, loss_fn: nn.Module,
           loader: DataLoader) -> float:
    started = time.perf_counter()
    module.train()
    for pixels, labels in loader:
        if len(labels) == 0:
            continue
        optimiser.zero_grad()
        loss_fn(module(pixels), labels).backward()
        optimiser.step()
    return time.perf_counter() - started


def _variants(data: dict[str, np.ndarray], setup: dict[str, Any], modes: tuple[str, ...]):
    dp = setup["privacy"]
    dataset = TensorDataset(torch.as_tensor(data["train_pixels"]).float(),
                            torch.as_tensor(data["train_labels"]))
    base = _network(data, setup)
    plain = copy.deepcopy(base)
    loss_fn = nn.CrossEntropyLoss()
    variants = {"non-private": (plain, _optimiser(plain, dp), loss_fn,
                                DataLoader(dataset, batch_size=dp["batch_size"], shuffle=True))}
    for mode in modes:
        network = copy.deepcopy(base)
        made = PrivacyEngine(accountant=dp["accountant"]).make_private_with_epsilon(
            module=network, optimizer=_optimiser(network, dp), criterion=loss_fn,
            data_loader=DataLoader(dataset, batch_size=dp["batch_size"]),
            target_epsilon=dp["target_epsilon"], target_delta=dp["target_delta"],
            epochs=dp["epochs"], max_grad_norm=dp["max_grad_norm"], poisson_sampling=True,
            grad_sample_mode=mode,
        )
        module, optimiser, *rest = made
        if mode == "ghost":  # (module, optimiser, criterion, loader)
            variants[f"DP-SGD ({mode})"] = (module, optimiser, rest[0], rest[1])
        else:
            variants[f"DP-SGD ({mode})"] = (module, optimiser, loss_fn, rest[0])
    return variants


def median_epoch_seconds(variants: dict[str, tuple], epochs: int) -> dict[str, float]:
    """Return the median seconds per epoch of each variant ``(module, optimiser, loss,
    loader)``, epochs interleaved across the variants after one warm-up epoch each."""
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for repeat in range(epochs + 1):  # repeat 0 is the warm-up
        for name, args in variants.items():
            elapsed = _epoch(*args)
            if repeat:
                seconds[name].append(elapsed)
    return {name: statistics.median(values) for name, values in seconds.items()}


def measure(data: dict[str, np.ndarray], *, epochs: int = 5, modes: tuple[str, ...] = MODES,
            batch_size: int | None = None) -> dict[str, Any]:
    """Return median seconds per epoch of each variant and its ratio to the non-private loop
    (``batch_size``: the shipped DP batch size unless given)."""
    setup = _setup()
    if batch_size is not None:
        setup["privacy"]["batch_size"] = batch_size
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Secure RNG turned off")
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        warnings.filterwarnings("ignore", message=".*Ghost Clipping.*")
        seconds = median_epoch_seconds(_variants(data, setup, modes), epochs)
    shipped = f"DP-SGD ({setup['privacy']['grad_sample_mode']})"
    return {
        "n_train": len(data["train_labels"]),
        "batch_size": setup["privacy"]["batch_size"],
        "optimiser": setup["privacy"]["optimiser"],
        "epochs_timed": epochs,
        "torch_threads": torch.get_num_threads(),
        "shipped_mode": shipped,
        "seconds_per_epoch": seconds,
        "ratio_to_non_private": {n: s / seconds["non-private"] for n, s in seconds.items()},
        "dp_ratio": seconds[shipped] / seconds["non-private"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-input", default=str(ROOT / "data/05_model_input/model_input.npz"))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=None,
                        help="expected batch sizes to compare (default: the shipped one)")
    parser.add_argument("--out", default=str(ROOT / "bench/results/dp_overhead.json"))
    args = parser.parse_args()
    data = dict(np.load(args.model_input, allow_pickle=False))
    sizes = args.batch_sizes or [None]
    results = [measure(data, epochs=args.epochs, batch_size=size) for size in sizes]
    result = results[0] if len(results) == 1 else {"by_batch_size": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
