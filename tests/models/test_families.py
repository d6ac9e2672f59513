"""Target layer and reshape per architecture family; overrides; wrong names."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch
import torchvision

from reportgen.errors import ModelError
from reportgen.heatmaps import make_method
from reportgen.heatmaps.reference import stock_heatmaps
from reportgen.models.families import (
    channels_last_to_first,
    default_reshape,
    default_target_layer,
    resolve_layer,
    tokens_to_maps,
    vit_tokens_to_maps,
)
from reportgen.models.loading import ModelSpec, build_module, load_model, prepare_module

FAMILIES = [  # (torchvision name, expected target layer, expected reshape)
    ("resnet18", "layer4", "none"),
    ("resnext50_32x4d", "layer4", "none"),
    ("wide_resnet50_2", "layer4", "none"),
    ("vgg11", "features", "none"),
    ("densenet121", "features", "none"),
    ("efficientnet_b0", "features", "none"),
    ("efficientnet_v2_s", "features", "none"),
    ("convnext_tiny", "features", "none"),
    ("mobilenet_v3_small", "features", "none"),
    ("regnet_y_400mf", "trunk_output", "none"),
    ("vit_b_16", "encoder.layers.encoder_layer_11.ln_1", "vit"),
    ("vit_l_32", "encoder.layers.encoder_layer_23.ln_1", "vit"),
    ("swin_t", "norm", "channels_last"),
    ("swin_v2_t", "norm", "channels_last"),
]


@pytest.mark.parametrize(("arch", "layer", "reshape"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_each_family_gets_its_target_layer_and_reshape(arch, layer, reshape):
    try:
        with torch.device("meta"):  # structure only: no weights are initialised
            module = build_module(arch, 10)
    except NotImplementedError:  # RegNet's constructor reads tensor values
        module = build_module(arch, 10)
    assert default_target_layer(arch, module) == layer
    assert default_reshape(arch, module) == reshape
    resolve_layer(module, layer, arch)  # exists


def test_families_are_also_recognised_by_module_class_for_user_models():
    with torch.device("meta"):
        vit = torchvision.models.vit_b_32(num_classes=3)
    assert default_target_layer("my-custom-name", vit).endswith(".ln_1")
    assert default_reshape("my-custom-name", vit) == "vit"


def test_unknown_architectures_fall_back_to_the_last_conv():
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),
                                 torch.nn.Conv2d(4, 4, 3), torch.nn.Flatten())
    assert default_target_layer("mine", module) == "2"
    assert default_reshape("mine", module) == "none"


def test_reshapes_turn_tokens_and_channels_last_maps_into_channels_first_maps():
    maps = torch.arange(2 * 5 * 3 * 3, dtype=torch.float32).view(2, 5, 3, 3)  # (N, K, h, w)
    tokens = maps.flatten(2).transpose(1, 2)  # (N, h*w, K)
    with_class_token = torch.cat([torch.full((2, 1, 5), -1.0), tokens], dim=1)
    assert torch.equal(tokens_to_maps(tokens), maps)
    assert torch.equal(vit_tokens_to_maps(with_class_token), maps)
    assert torch.equal(channels_last_to_first(maps.permute(0, 2, 3, 1)), maps)
    with pytest.raises(ModelError, match="square grid"):
        tokens_to_maps(tokens[:, :8])


def _tiny_swin() -> torch.nn.Module:
    torch.manual_seed(0)
    return torchvision.models.SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[1, 1],
                                              num_heads=[2, 2], window_size=[4, 4],
                                              num_classes=3)


def test_swin_maps_are_explained_like_stock_with_the_same_reshape():
    model = prepare_module(_tiny_swin(), ModelSpec("swin", "swin_tiny", 3))
    assert (model.target_layer_name, model.reshape_name) == ("norm", "channels_last")
    inputs = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    ours = make_method("gradcam").explain(model, inputs).to_batch()
    with contextlib.redirect_stdout(io.StringIO()):
        stock = stock_heatmaps(model, inputs, "gradcam", ours.target)
    assert ours.heatmaps.shape == (2, 32, 32) and stock.std() > 0.05
    np.testing.assert_allclose(ours.heatmaps, stock, rtol=0, atol=1e-4)


def test_target_layer_and_reshape_can_be_overridden():
    model = load_model(ModelSpec("r", "resnet18", 3, target_layer="layer3.1.conv2"))
    assert model.target_layer is model.module.layer3[1].conv2
    assert model.target_layer_name == "layer3.1.conv2"
    swin = prepare_module(_tiny_swin(), ModelSpec("s", "swin_tiny", 3, target_layer="features",
                                                  reshape="channels_last"))
    assert swin.target_layer is swin.module.features
    assert swin.reshape_transform is channels_last_to_first


def test_reshape_can_be_a_user_callable():
    model = prepare_module(_tiny_swin(), ModelSpec(
        "s", "swin_tiny", 3, reshape="reportgen.models.families:channels_last_to_first"))
    assert model.reshape_transform is channels_last_to_first


def test_an_unknown_reshape_is_a_clear_error():
    with pytest.raises(ModelError, match="unknown reshape 'vitt'"):
        prepare_module(_tiny_swin(), ModelSpec("s", "swin_tiny", 3, reshape="vitt"))


def test_a_wrong_layer_name_suggests_near_misses():
    with torch.device("meta"):
        module = build_module("resnet18", 3)
    with pytest.raises(ModelError) as info:
        resolve_layer(module, "layer4.1.conv3", "resnet18")
    message = str(info.value)
    assert "no layer named 'layer4.1.conv3'" in message
    assert "did you mean 'layer4.1.conv2'" in message
    assert "top-level layers are conv1, bn1" in message
    assert "\n" not in message
