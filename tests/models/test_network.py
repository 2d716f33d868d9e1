"""The networks: channels-last input, per-channel standardisation, the architecture choice
(small CNN or a BatchNorm-free ResNet-18), local initial weights, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from opacus.validators import ModuleValidator
from torch import nn

from tai_project.errors import ParameterError
from tai_project.image_layout import image_channels, image_shape
from tai_project.models.network import (
    ResNetClassifier,
    SmallCNN,
    load_checkpoint,
    network_from_parameters,
    save_checkpoint,
)
from tai_project.models.private_training import PrivacyConfig, train_private_network

CPU = torch.device("cpu")
SMALL = {"architecture": "small_cnn", "channels": [4, 8], "groups": 2}
TINY_RESNET = {"architecture": "resnet18",
               "resnet": {"base_width": 8, "blocks_per_stage": [1, 1], "small_input_stem": True}}


def test_image_mode_gives_the_channels_and_anything_else_names_the_key() -> None:
    assert image_channels({"image_mode": "L"}) == 1 and image_channels({"image_mode": "RGB"}) == 3
    assert image_shape({"image_mode": "RGB", "image_height": 24, "image_width": 32}) == [24, 32, 3]
    with pytest.raises(ParameterError, match=r"data_schema.image_mode is 'CMYK'.*\['L', 'RGB'\]"):
        image_channels({"image_mode": "CMYK"})


def test_rgb_network_standardises_each_channel_hand_computed() -> None:
    network = SmallCNN(num_classes=2, channels=(4,), groups=2, in_channels=3,
                       pixel_mean=[10.0, 20.0, 30.0], pixel_std=[1.0, 2.0, 5.0])
    pixels = torch.zeros(1, 2, 2, 3)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = 12.0, 20.0, 20.0
    standardised = network.standardise(pixels)
    assert standardised.shape == (1, 3, 2, 2)  # permuted to channels-first
    np.testing.assert_allclose(standardised[0, :, 0, 0].numpy(), [2.0, 0.0, -2.0])
    assert network(torch.rand(5, 8, 8, 3) * 255).shape == (5, 2)
    with pytest.raises(ValueError, match=r"\(n, height, width, 3\)"):
        network(torch.rand(5, 3, 8, 8))


def test_grayscale_network_takes_either_single_channel_layout() -> None:
    torch.manual_seed(0)
    network = SmallCNN(num_classes=3, channels=(4,), groups=2, pixel_mean=100.0, pixel_std=50.0)
    pixels = torch.rand(4, 8, 8) * 255
    torch.testing.assert_close(network(pixels), network(pixels.unsqueeze(-1)))


@pytest.mark.parametrize("params", [SMALL, TINY_RESNET], ids=["small_cnn", "resnet18"])
def test_checkpoint_round_trip_with_weights_only(tmp_path, params) -> None:
    torch.manual_seed(0)
    network = network_from_parameters(params, num_classes=4, in_channels=3,
                                      pixel_mean=[1.0, 2.0, 3.0], pixel_std=[4.0, 5.0, 6.0])
    save_checkpoint(network, str(tmp_path / "net.pt"))
    loaded = load_checkpoint(str(tmp_path / "net.pt"))
    assert type(loaded) is type(network) and loaded.config == network.config
    pixels = torch.rand(2, 16, 16, 3) * 255
    torch.testing.assert_close(loaded(pixels), network.eval()(pixels))


def test_checkpoint_of_the_scalar_statistics_era_still_loads(tmp_path) -> None:
    network = SmallCNN(num_classes=2, channels=(4,), groups=2, pixel_mean=7.0, pixel_std=3.0)
    state = {k: (v.reshape(()) if k in {"pixel_mean", "pixel_std"} else v)
             for k, v in network.state_dict().items()}
    config = {"num_classes": 2, "channels": [4], "groups": 2, "pixel_mean": 7.0, "pixel_std": 3.0}
    torch.save({"config": config, "state_dict": state}, tmp_path / "old.pt")
    assert load_checkpoint(str(tmp_path / "old.pt")).pixel_mean.tolist() == [7.0]


def test_resnet_width_depth_and_no_batchnorm() -> None:
    network = network_from_parameters(TINY_RESNET, num_classes=5, in_channels=3,
                                      pixel_mean=0.0, pixel_std=1.0)
    assert isinstance(network, ResNetClassifier)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in network.modules())
    assert ModuleValidator.validate(network.train(), strict=False) == []
    assert network.backbone.conv1.out_channels == 8 and len(network.backbone.layer1) == 1
    assert network.backbone.fc.in_features == 16  # two stages: 8, 16 channels
    assert network(torch.rand(3, 12, 12, 3) * 255).shape == (3, 5)
    full = network_from_parameters({"architecture": "resnet18"}, num_classes=10, in_channels=1,
                                   pixel_mean=0.0, pixel_std=1.0)
    assert [len(getattr(full.backbone, f"layer{i}")) for i in range(1, 5)] == [2, 2, 2, 2]
    assert full.backbone.fc.in_features == 512  # torchvision's ResNet-18 widths


def test_initial_weights_come_from_a_local_file_only(tmp_path) -> None:
    torch.manual_seed(1)
    source = network_from_parameters(TINY_RESNET, num_classes=5, in_channels=3,
                                     pixel_mean=0.0, pixel_std=1.0)
    # a torchvision-style file: backbone names without the prefix, another head size
    state = {k.removeprefix("backbone."): v for k, v in source.state_dict().items()
             if k.startswith("backbone.") and not k.startswith("backbone.fc")}
    state["fc.weight"] = torch.zeros(1000, 16)
    torch.save(state, tmp_path / "weights.pth")
    torch.manual_seed(2)
    network = network_from_parameters({**TINY_RESNET, "weights_path": str(tmp_path / "weights.pth")},
                                      num_classes=5, in_channels=3, pixel_mean=0.0, pixel_std=1.0)
    torch.testing.assert_close(network.backbone.conv1.weight, source.backbone.conv1.weight)
    assert not torch.equal(network.backbone.fc.weight, source.backbone.fc.weight)  # skipped
    with pytest.raises(ParameterError, match="weights_path.*no such file.*nothing is downloaded"):
        network_from_parameters({**TINY_RESNET, "weights_path": str(tmp_path / "absent.pth")},
                                num_classes=5, in_channels=3, pixel_mean=0.0, pixel_std=1.0)


def test_unknown_architecture_names_the_key() -> None:
    with pytest.raises(ParameterError, match="network.architecture is 'vgg'"):
        network_from_parameters({"architecture": "vgg"}, num_classes=2, in_channels=1,
                                pixel_mean=0.0, pixel_std=1.0)


def test_resnet18_trains_one_epoch_under_dp_on_tiny_rgb_data() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (64, 12, 12, 3), dtype=np.uint8)
    labels = rng.integers(0, 3, 64)
    torch.manual_seed(0)
    network = network_from_parameters(TINY_RESNET, num_classes=3, in_channels=3,
                                      pixel_mean=[127.0] * 3, pixel_std=[74.0] * 3)
    config = PrivacyConfig(target_epsilon=5.0, target_delta=1e-3, max_grad_norm=1.0, epochs=1,
                           batch_size=16, learning_rate=0.01, optimiser="adam", accountant="rdp",
                           grad_sample_mode="hooks")
    result = train_private_network(network, (pixels[:48], labels[:48]),
                                   (pixels[48:], labels[48:]), config=config, device=CPU, seed=0)
    assert 0 < result.budget.epsilon <= 5.0 + 1e-6 and result.budget.steps > 0
    assert len(result.training.history) == 1
    assert isinstance(result.training.network, ResNetClassifier)
    assert result.training.network(torch.as_tensor(pixels[:2])).shape == (2, 3)
