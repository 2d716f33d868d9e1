"""A small CNN for grayscale images, built from GroupNorm so Opacus can train it."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class SmallCNN(nn.Module):
    """Conv-GroupNorm-ReLU-MaxPool blocks, a 2x2 adaptive average pool and a linear head.

    Input: raw pixel values, shape ``(batch, height, width)`` or ``(batch, 1, height, width)``,
    in the units of the training images (0-255). The network standardises them with the
    training-split mean and standard deviation it stores as buffers, so the one network
    file carries its own preprocessing. Output: class logits.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        channels: tuple[int, ...] = (16, 32),
        groups: int = 4,
        pixel_mean: float = 0.0,
        pixel_std: float = 1.0,
    ) -> None:
        super().__init__()
        self.config: dict[str, Any] = {
            "num_classes": num_classes,
            "channels": list(channels),
            "groups": groups,
            "pixel_mean": float(pixel_mean),
            "pixel_std": float(pixel_std),
        }
        self.register_buffer("pixel_mean", torch.tensor(float(pixel_mean)))
        self.register_buffer("pixel_std", torch.tensor(float(pixel_std)))
        layers: list[nn.Module] = []
        in_channels = 1
        for out_channels in channels:
            layers += [
                nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
                nn.GroupNorm(groups, out_channels),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            in_channels = out_channels
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.head = nn.Linear(in_channels * 4, num_classes)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        if pixels.dim() == 3:  # noqa: PLR2004 - (batch, height, width)
            pixels = pixels.unsqueeze(1)
        standardised = (pixels.float() - self.pixel_mean) / self.pixel_std
        return self.head(self.features(standardised))


def build_network(config: dict[str, Any]) -> SmallCNN:
    """Return an untrained ``SmallCNN`` from its ``config`` dict (as saved with the weights)."""
    return SmallCNN(
        num_classes=config["num_classes"],
        channels=tuple(config["channels"]),
        groups=config["groups"],
        pixel_mean=config["pixel_mean"],
        pixel_std=config["pixel_std"],
    )


def resolve_device(device: str) -> torch.device:
    """Return the torch device for ``device``: ``auto`` picks CUDA when present, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def save_checkpoint(network: SmallCNN, path: str) -> None:
    """Write the network's config and weights (tensors and plain types only) to ``path``."""
    torch.save({"config": network.config, "state_dict": network.state_dict()}, path)


def load_checkpoint(path: str) -> SmallCNN:
    """Return the network saved at ``path``, loaded with ``weights_only=True`` (no pickle code)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    network = build_network(checkpoint["config"])
    network.load_state_dict(checkpoint["state_dict"])
    return network.eval()
