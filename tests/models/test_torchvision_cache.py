"""torchvision weights are used only from the local cache; nothing is downloaded."""

from __future__ import annotations

import pytest
import torch
import torchvision

from reportgen.errors import ModelError
from reportgen.models.loading import ModelSpec, load_model
from reportgen.models.torchvision_cache import cached_weights_path


@pytest.fixture()
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def test_cached_weights_are_loaded_from_torch_home(torch_home):
    torch.manual_seed(4)
    source = torchvision.models.resnet18(weights=None)  # stands in for the real file
    _, path = cached_weights_path("resnet18", "IMAGENET1K_V1")
    assert path.parent == torch_home / "hub" / "checkpoints"
    path.parent.mkdir(parents=True)
    torch.save(source.state_dict(), path)
    loaded = load_model(ModelSpec("r", "resnet18", 1000, torchvision_weights="IMAGENET1K_V1"))
    for name, value in source.state_dict().items():
        assert torch.equal(loaded.module.state_dict()[name], value)


def test_default_names_the_recommended_weights(torch_home):
    weights, path = cached_weights_path("resnet18", "DEFAULT")
    assert weights == torchvision.models.ResNet18_Weights.DEFAULT
    assert path.name == torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1]


def test_missing_cached_weights_are_a_clear_error_and_nothing_is_downloaded(torch_home):
    with pytest.raises(ModelError) as info:
        load_model(ModelSpec("r", "resnet18", 1000, torchvision_weights="IMAGENET1K_V1"))
    assert "not in the local cache" in str(info.value)
    assert str(torch_home / "hub" / "checkpoints") in str(info.value)
    assert not (torch_home / "hub" / "checkpoints").exists()


def test_unknown_weights_name_lists_the_choices(torch_home):
    with pytest.raises(ModelError, match="choose from DEFAULT, IMAGENET1K_V1"):
        load_model(ModelSpec("r", "resnet18", 1000, torchvision_weights="IMAGENET9K"))


def test_class_count_must_match_the_weights(torch_home):
    _, path = cached_weights_path("resnet18", "IMAGENET1K_V1")
    path.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(ModelError, match="have 1000 classes, the model spec says 3"):
        load_model(ModelSpec("r", "resnet18", 3, torchvision_weights="IMAGENET1K_V1"))


def test_weights_file_and_torchvision_weights_are_exclusive(tmp_path):
    with pytest.raises(ModelError, match="either weights or torchvision_weights"):
        load_model(ModelSpec("r", "resnet18", 1000, weights=tmp_path / "w.pt",
                             torchvision_weights="DEFAULT"))
