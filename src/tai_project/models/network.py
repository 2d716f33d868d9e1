"""The image classifiers: a small CNN for tiny images and a torchvision ResNet, both
BatchNorm-free (GroupNorm) so Opacus can train them, both carrying their own preprocessing.

Pixel layout (the one layout of the whole project): channels-last raw pixels, shape
``(batch, height, width, channels)`` in the units of the training images (0-255 for 8-bit
images), ``channels`` = 1 for ``image_mode: L`` and 3 for ``RGB``. A single-channel network
also takes ``(batch, height, width)``. The networks permute to ``(batch, channels, height,
width)`` themselves and standardise each channel with the training-split mean and standard
deviation they store as buffers, so the one network file is the whole model.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tai_project.errors import ParameterError

logger = logging.getLogger(__name__)

ARCHITECTURES = ("small_cnn", "resnet18")


class _ChannelsLastInput(nn.Module):
    """Shared preprocessing: channels-last raw pixels -> standardised ``(n, C, H, W)``."""

    in_channels: int

    def _register_pixel_statistics(self, pixel_mean: Any, pixel_std: Any) -> None:
        mean = torch.as_tensor(pixel_mean, dtype=torch.float32).reshape(-1)
        std = torch.as_tensor(pixel_std, dtype=torch.float32).reshape(-1)
        if len(mean) not in {1, self.in_channels} or len(std) not in {1, self.in_channels}:
            raise ValueError(f"pixel_mean / pixel_std need 1 or {self.in_channels} values, got "
                             f"{len(mean)} and {len(std)}")
        self.register_buffer("pixel_mean", mean.expand(self.in_channels).clone())
        self.register_buffer("pixel_std", std.expand(self.in_channels).clone())

    def standardise(self, pixels: torch.Tensor) -> torch.Tensor:
        """Return ``(x - mean_c) / std_c`` as ``(n, C, H, W)`` for channels-last ``pixels``."""
        if pixels.dim() == 3 and self.in_channels == 1:  # noqa: PLR2004 - (n, H, W)
            pixels = pixels.unsqueeze(-1)
        if pixels.dim() != 4 or pixels.shape[-1] != self.in_channels:  # noqa: PLR2004
            raise ValueError(
                f"expected channels-last pixels of shape (n, height, width, {self.in_channels}), "
                f"got {tuple(pixels.shape)}"
            )
        standardised = (pixels.float() - self.pixel_mean) / self.pixel_std
        # plain NCHW strides (a one-channel permute would look channels-last to the conv)
        return standardised.permute(0, 3, 1, 2).clone(memory_format=torch.contiguous_format)


class SmallCNN(_ChannelsLastInput):
    """Conv-GroupNorm-ReLU-MaxPool blocks, a 2x2 adaptive average pool and a linear head.

    Input: channels-last raw pixels (module docstring). Output: class logits.
    """

    def __init__(  # noqa: PLR0913 - every part of the architecture is a keyword
        self,
        *,
        num_classes: int,
        channels: tuple[int, ...] = (16, 32),
        groups: int = 4,
        in_channels: int = 1,
        pixel_mean: Any = 0.0,
        pixel_std: Any = 1.0,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self._register_pixel_statistics(pixel_mean, pixel_std)
        self.config: dict[str, Any] = {
            "architecture": "small_cnn",
            "num_classes": num_classes,
            "channels": list(channels),
            "groups": groups,
            "in_channels": in_channels,
            "pixel_mean": self.pixel_mean.tolist(),
            "pixel_std": self.pixel_std.tolist(),
        }
        layers: list[nn.Module] = []
        width = in_channels
        for out_channels in channels:
            layers += [
                nn.Conv2d(width, out_channels, kernel_size=3, padding=1),
                nn.GroupNorm(groups, out_channels),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            width = out_channels
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.head = nn.Linear(width * 4, num_classes)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.standardise(pixels)))


class ResNetClassifier(_ChannelsLastInput):
    """A torchvision ResNet (BasicBlock, ResNet-18 by default) with a configurable width
    (``base_width`` channels in the first stage, doubled per stage; 64 = torchvision's) and
    depth (``blocks_per_stage``; [2, 2, 2, 2] = ResNet-18), every BatchNorm replaced by
    GroupNorm through Opacus' ``ModuleValidator.fix`` so DP-SGD can train it.

    ``small_input_stem`` (CIFAR-style) swaps the 7x7 stride-2 stem and its max pool for a
    3x3 stride-1 convolution: images of 32 pixels or less keep their spatial detail. ReLUs
    are not in-place (Opacus' per-sample-gradient hooks need that).
    """

    def __init__(  # noqa: PLR0913 - every part of the architecture is a keyword
        self,
        *,
        num_classes: int,
        in_channels: int = 3,
        base_width: int = 64,
        blocks_per_stage: tuple[int, ...] = (2, 2, 2, 2),
        small_input_stem: bool = True,
        pixel_mean: Any = 0.0,
        pixel_std: Any = 1.0,
    ) -> None:
        from opacus.validators import ModuleValidator  # noqa: PLC0415 - heavy, only here
        from torchvision.models.resnet import ResNet  # noqa: PLC0415

        super().__init__()
        self.in_channels = in_channels
        self._register_pixel_statistics(pixel_mean, pixel_std)
        self.config = {
            "architecture": "resnet18", "num_classes": num_classes, "in_channels": in_channels,
            "base_width": base_width, "blocks_per_stage": list(blocks_per_stage),
            "small_input_stem": bool(small_input_stem),
            "pixel_mean": self.pixel_mean.tolist(), "pixel_std": self.pixel_std.tolist(),
        }
        backbone = ResNet(_BasicBlock, [2, 2, 2, 2], num_classes=num_classes)
        # Rebuild stem and stages at the requested width and depth with torchvision's own
        # block builder (_make_layer); its defaults are base_width 64, depth [2, 2, 2, 2].
        backbone.inplanes = base_width
        if small_input_stem:
            backbone.conv1 = nn.Conv2d(in_channels, base_width, 3, stride=1, padding=1, bias=False)
            backbone.maxpool = nn.Identity()
        else:
            backbone.conv1 = nn.Conv2d(in_channels, base_width, 7, stride=2, padding=3, bias=False)
        backbone.bn1 = nn.BatchNorm2d(base_width)
        stages = []
        for index, blocks in enumerate(blocks_per_stage):
            stages.append(backbone._make_layer(  # noqa: SLF001 - torchvision's block builder
                _BasicBlock, base_width * 2**index, blocks, stride=1 if index == 0 else 2))
        for index in range(4):
            setattr(backbone, f"layer{index + 1}", stages[index] if index < len(stages)
                    else nn.Identity())
        backbone.fc = nn.Linear(base_width * 2 ** (len(stages) - 1), num_classes)
        backbone.relu = nn.ReLU()  # not in-place (Opacus' per-sample hooks)
        validator_log = logging.getLogger("opacus.validators.module_validator")
        level = validator_log.level
        validator_log.setLevel(logging.WARNING)  # one INFO line per replaced BatchNorm
        try:
            self.backbone = ModuleValidator.fix(backbone)
        finally:
            validator_log.setLevel(level)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.standardise(pixels))


class _BasicBlock(nn.Module):
    """torchvision's ``BasicBlock`` (same submodule names, so its ``resnet18`` state dicts
    fit) with the residual sum written out of place (``out + identity``) and a ReLU that is
    not in-place: Opacus' ``hooks`` per-sample-gradient mode forbids in-place updates of
    hooked views. Built by torchvision's ``ResNet._make_layer``, hence its signature."""

    expansion = 1

    def __init__(  # noqa: PLR0913, PLR0917 - torchvision's block signature
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
        groups: int = 1, base_width: int = 64, dilation: int = 1,  # noqa: ARG002
        norm_layer: type[nn.Module] | None = None,
    ) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


def build_network(config: dict[str, Any]) -> SmallCNN | ResNetClassifier:
    """Return an untrained network from its ``config`` dict (as saved with the weights; a
    config without ``architecture`` is a small CNN of a single-channel model)."""
    architecture = config.get("architecture", "small_cnn")
    common = {"num_classes": config["num_classes"], "in_channels": config.get("in_channels", 1),
              "pixel_mean": config["pixel_mean"], "pixel_std": config["pixel_std"]}
    if architecture == "resnet18":
        return ResNetClassifier(
            **common, base_width=config["base_width"],
            blocks_per_stage=tuple(config["blocks_per_stage"]),
            small_input_stem=config["small_input_stem"],
        )
    if architecture != "small_cnn":
        raise ParameterError(
            f"model_engineering.training_setup.network.architecture is {architecture!r}; "
            f"expected one of {ARCHITECTURES}."
        )
    return SmallCNN(**common, channels=tuple(config["channels"]), groups=config["groups"])


def network_from_parameters(
    params: dict[str, Any], *, num_classes: int, in_channels: int, pixel_mean: Any, pixel_std: Any
) -> SmallCNN | ResNetClassifier:
    """Return the untrained network that ``model_engineering.training_setup.network`` asks
    for: ``architecture`` ``small_cnn`` (``channels``, ``groups``) or ``resnet18``
    (``resnet: {base_width, blocks_per_stage, small_input_stem}``), random init, or the
    weights of the local file ``weights_path`` (a state dict; tensors whose name and shape
    match are copied, loaded with ``weights_only=True``; nothing is downloaded)."""
    architecture = params.get("architecture", "small_cnn")
    if architecture not in ARCHITECTURES:
        build_network({"architecture": architecture, "num_classes": num_classes,
                       "pixel_mean": pixel_mean, "pixel_std": pixel_std})  # raises, naming the key
    config: dict[str, Any] = {"architecture": architecture, "num_classes": num_classes,
                              "in_channels": in_channels, "pixel_mean": pixel_mean,
                              "pixel_std": pixel_std}
    if architecture == "resnet18":
        resnet = {"base_width": 64, "blocks_per_stage": [2, 2, 2, 2], "small_input_stem": True,
                  **(params.get("resnet") or {})}
        config |= resnet
    else:
        config |= {"channels": params["channels"], "groups": params["groups"]}
    network = build_network(config)
    if params.get("weights_path"):
        load_initial_weights(network, params["weights_path"])
    return network


def load_initial_weights(network: nn.Module, weights_path: str) -> None:
    """Copy into ``network`` every tensor of the state dict at ``weights_path`` whose name
    and shape match (for a ResNet, also under the ``backbone.`` prefix, so torchvision's own
    ``resnet18`` files fit); log what was skipped. Raises ``ParameterError`` for a missing file
    or one without a single matching tensor."""
    key = "model_engineering.training_setup.network.weights_path"
    path = Path(weights_path)
    if not path.is_file():
        raise ParameterError(
            f"{key} is {weights_path!r}, but no such file exists. Name a local state-dict file "
            "(torch.save(model.state_dict(), path)); nothing is downloaded. Or set it to null "
            "for random initialisation."
        )
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    loaded = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else loaded
    own = network.state_dict()
    matching = {}
    for name, tensor in loaded.items():
        for candidate in (name, f"backbone.{name}"):
            if candidate in own and own[candidate].shape == tensor.shape:
                matching[candidate] = tensor
                break
    if not matching:
        raise ParameterError(
            f"{key}: {weights_path} has no tensor whose name and shape match the network "
            f"({type(network).__name__}); expected a state dict of the same architecture."
        )
    network.load_state_dict(matching, strict=False)
    skipped = sorted(set(loaded) - {n.removeprefix("backbone.") for n in matching} - set(matching))
    logger.info("initial weights from %s: %d tensors loaded, %d skipped (%s)", weights_path,
                len(matching), len(skipped), ", ".join(skipped[:5]))


def resolve_device(device: str) -> torch.device:
    """Return the torch device for ``device``: ``auto`` picks CUDA when present, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def save_checkpoint(network: nn.Module, path: str) -> None:
    """Write the network's config and weights (tensors and plain types only) to ``path``."""
    torch.save({"config": network.config, "state_dict": network.state_dict()}, path)


def load_checkpoint(path: str) -> SmallCNN | ResNetClassifier:
    """Return the network saved at ``path``, loaded with ``weights_only=True`` (no pickle code).
    Checkpoints written before channels-last (scalar pixel mean / std) still load."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    network = build_network(checkpoint["config"])
    state = dict(checkpoint["state_dict"])
    for name in ("pixel_mean", "pixel_std"):
        state[name] = state[name].reshape(-1).expand(network.in_channels).clone()
    network.load_state_dict(state)
    return network.eval()
