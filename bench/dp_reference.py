"""DP-SGD overhead of Opacus' own MNIST example network on this machine, for context.

Opacus reports about 1.5x for DP-SGD over non-private training of ``SampleConvNet``
(``opacus/examples/mnist.py``) on CPU. This runs that network on 28x28 images (a
``model_input.npz`` of the scale sweep), same batch (128) and SGD, epochs interleaved as in
``dp_overhead.py``, so the project's own ratio can be read against the library's reference.

Run: ``python bench/dp_reference.py --model-input <28x28 model_input.npz>``.
"""

from __future__ import annotations

import argparse
import copy
import json
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch spelling
from dp_overhead import ROOT, median_epoch_seconds
from opacus import PrivacyEngine
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class SampleConvNet(nn.Module):
    """The network of Opacus' MNIST example (input: raw 28x28 pixels, 0-255)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 8, 2, padding=3)
        self.conv2 = nn.Conv2d(16, 32, 4, 2)
        self.fc1 = nn.Linear(32 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.float().unsqueeze(1) / 255.0
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 1)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 1)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def measure(data: dict[str, np.ndarray], *, epochs: int = 3, batch_size: int = 128) -> dict:
    """Return median seconds per epoch and the ratio to non-private, per Opacus mode."""
    dataset = TensorDataset(torch.as_tensor(data["train_pixels"]),
                            torch.as_tensor(data["train_labels"]))
    torch.manual_seed(0)
    base, loss_fn = SampleConvNet(), nn.CrossEntropyLoss()
    plain = copy.deepcopy(base)
    variants = {"non-private": (plain, torch.optim.SGD(plain.parameters(), lr=0.1), loss_fn,
                                DataLoader(dataset, batch_size=batch_size, shuffle=True))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for mode in ("hooks", "ew"):
            network = copy.deepcopy(base)
            module, optimiser, loader = PrivacyEngine(accountant="rdp").make_private(
                module=network, optimizer=torch.optim.SGD(network.parameters(), lr=0.1),
                data_loader=DataLoader(dataset, batch_size=batch_size), noise_multiplier=1.0,
                max_grad_norm=1.0, poisson_sampling=True, grad_sample_mode=mode)
            variants[f"DP-SGD ({mode})"] = (module, optimiser, loss_fn, loader)
        seconds = median_epoch_seconds(variants, epochs)
    return {"network": "opacus examples/mnist.py SampleConvNet", "n_train": len(dataset),
            "batch_size": batch_size, "torch_threads": torch.get_num_threads(),
            "seconds_per_epoch": seconds,
            "ratio_to_non_private": {n: s / seconds["non-private"] for n, s in seconds.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-input", required=True, help="a 28x28 model_input.npz")
    parser.add_argument("--out", default=str(ROOT / "bench/results/dp_reference.json"))
    args = parser.parse_args()
    result = measure(dict(np.load(args.model_input, allow_pickle=False)))
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
