"""Models and inputs for the heatmap tests: a trained tiny CNN, a tiny ViT, a small ResNet."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from reportgen.models.loading import LoadedModel, ModelSpec, load_model, prepare_module
from reportgen.models.preprocessing import Preprocessing
from reportgen.resources import sample_data_dir
from reportgen.sample_data.train import PREPROCESSING


def make_tiny_vit(num_classes: int = 4, seed: int = 0) -> nn.Module:
    """A 2-layer ViT on 32 x 32 inputs (4 x 4 patches of 8 px).

    torchvision zeroes the head and uses unit LayerNorms at init, which makes every logit 0
    and every channel sum of a LayerNorm output 0; random values give a ViT worth explaining.
    """
    torch.manual_seed(seed)
    vit = torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2,
                                               num_heads=2, hidden_dim=16, mlp_dim=32,
                                               num_classes=num_classes)
    for module in vit.modules():
        if isinstance(module, nn.LayerNorm):
            nn.init.normal_(module.weight, 1.0, 0.5)
            nn.init.normal_(module.bias, 0.0, 0.5)
    nn.init.normal_(vit.heads.head.weight, 0.0, 0.5)
    return vit


@pytest.fixture(scope="session")
def tiny_vit() -> LoadedModel:
    spec = ModelSpec("tiny-vit", "vit_tiny", 4, preprocessing=Preprocessing(size=32))
    return prepare_module(make_tiny_vit(), spec)


@pytest.fixture(scope="session")
def trained_partnet() -> LoadedModel:
    """The shipped sample model (trained): its CAMs are far from degenerate."""
    return load_model(ModelSpec.from_file(sample_data_dir() / "models" / "partnet_biased.json"))


@pytest.fixture(scope="session")
def small_resnet() -> LoadedModel:
    torch.manual_seed(0)
    return load_model(ModelSpec("resnet18", "resnet18", 5, preprocessing=Preprocessing(size=64)))


@pytest.fixture(scope="session")
def world_inputs(world_samples) -> torch.Tensor:
    """(4, 3, 96, 96) normalised inputs of four part-world samples."""
    return PREPROCESSING([s.image for s in world_samples[:4]])


@pytest.fixture(scope="session")
def vit_inputs() -> torch.Tensor:
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="session")
def resnet_inputs() -> torch.Tensor:
    return torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(2))


@pytest.fixture(scope="session")
def blob_world():
    """The known-answer colour-counting model's module (blob_world.py; tests import by path)."""
    if "blob_world" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "blob_world", Path(__file__).with_name("blob_world.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["blob_world"] = module
    return sys.modules["blob_world"]


@pytest.fixture(scope="module")
def counter(blob_world):
    """The colour-counting model (class 0 red, class 1 green)."""
    return blob_world.colour_counter()


@pytest.fixture(scope="module")
def blob_pair(blob_world):
    """Two 32 x 32 images with a red blob at ``RED_AT[i]`` and a green one at ``GREEN_AT[i]``."""
    return blob_world.two_blob_images(blob_world.RED_AT, blob_world.GREEN_AT)
