"""Penultimate-layer embeddings of a network: the input of its last linear layer."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def penultimate_embeddings(
    network: nn.Module, pixels: np.ndarray, *, batch_size: int = 1024
) -> np.ndarray:
    """Return the features the network's last ``nn.Linear`` receives, shape ``(n, d)``, for
    raw ``pixels`` (read with a forward pre-hook; the network is not changed)."""
    head = [module for module in network.modules() if isinstance(module, nn.Linear)][-1]
    captured: list[torch.Tensor] = []
    handle = head.register_forward_pre_hook(lambda _, inputs: captured.append(inputs[0].detach()))
    try:
        network = network.eval()
        with torch.no_grad():
            for start in range(0, len(pixels), batch_size):
                network(torch.as_tensor(np.asarray(pixels[start : start + batch_size],
                                                   dtype=np.float32)))
    finally:
        handle.remove()
    return torch.cat(captured).flatten(1).numpy() if captured else np.empty((0, 0), np.float32)
