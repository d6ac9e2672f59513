"""The CAM engine against stock pytorch-grad-cam, and what the fast path must not do."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch
from pytorch_grad_cam.utils.image import scale_cam_image
from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection
from torch import nn

from reportgen.errors import ModelError
from reportgen.heatmaps import make_method
from reportgen.heatmaps.capture import LayerCapture
from reportgen.heatmaps.reference import stock_heatmaps
from reportgen.models.loading import ModelSpec, prepare_module

GRADIENT_CAMS = ["gradcam", "gradcam++", "xgradcam", "hirescam", "layercam"]


def ours_and_stock(model, inputs, method: str) -> tuple[np.ndarray, np.ndarray]:
    ours = make_method(method).explain(model, inputs).to_batch()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        stock = stock_heatmaps(model, inputs, method, ours.target)
    return ours.heatmaps, stock


@pytest.mark.parametrize("method", [*GRADIENT_CAMS, "scorecam", "ablationcam", "fullgrad"])
def test_equals_stock_pytorch_grad_cam_on_the_trained_cnn(trained_partnet, world_inputs,
                                                          method):
    # stock ScoreCAM/AblationCAM take seconds per image: two images are enough there
    inputs = world_inputs[:2] if method in ("scorecam", "ablationcam") else world_inputs
    ours, stock = ours_and_stock(trained_partnet, inputs, method)
    assert stock.std() > 0.05  # a real map, not a degenerate one both sides agree on
    np.testing.assert_allclose(ours, stock, rtol=0, atol=1e-4)


@pytest.mark.parametrize("method", [*GRADIENT_CAMS, "fullgrad"])
def test_equals_stock_pytorch_grad_cam_on_resnet18(small_resnet, resnet_inputs, method):
    ours, stock = ours_and_stock(small_resnet, resnet_inputs, method)
    assert stock.std() > 0.05
    np.testing.assert_allclose(ours, stock, rtol=0, atol=1e-4)


@pytest.mark.parametrize("method", [*GRADIENT_CAMS, "scorecam"])
def test_equals_stock_pytorch_grad_cam_on_a_vit_with_its_reshape(tiny_vit, vit_inputs, method):
    ours, stock = ours_and_stock(tiny_vit, vit_inputs, method)
    assert stock.std() > 0.05
    np.testing.assert_allclose(ours, stock, rtol=0, atol=1e-4)


def test_eigencam_equals_stock_with_the_sign_fixed(trained_partnet, world_inputs):
    """Stock EigenCAM keeps whatever sign the SVD returns; ours makes the projection
    correlate positively with the channel sum. Same projection otherwise."""
    ours = make_method("eigencam").explain(trained_partnet, world_inputs).heatmaps.numpy()
    with LayerCapture(trained_partnet) as capture:
        capture.forward(world_inputs)
        acts = capture.activations.numpy()
    projection = get_2d_projection(acts)
    total = acts.sum(axis=1)
    for i in range(len(projection)):
        p, t = projection[i].ravel(), total[i].ravel()
        if np.dot(p - 0, t - t.mean()) < 0:
            projection[i] = -projection[i]
    size = world_inputs.shape[-1]
    expected = scale_cam_image(scale_cam_image(np.maximum(projection, 0), (size, size)))
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("method", GRADIENT_CAMS)
def test_fast_path_leaves_no_parameter_gradients_and_restores_requires_grad(
        small_resnet, resnet_inputs, method):
    small_resnet.module.zero_grad(set_to_none=True)  # stock runs elsewhere fill .grad
    before = [p.requires_grad for p in small_resnet.module.parameters()]
    make_method(method).explain(small_resnet, resnet_inputs)
    assert all(p.grad is None for p in small_resnet.module.parameters())
    assert [p.requires_grad for p in small_resnet.module.parameters()] == before


def test_backward_stops_at_the_target_layer(small_resnet, resnet_inputs):
    """Nothing before layer4 takes part in the backward pass (stock backpropagates to the
    input layer and fills every parameter's gradient)."""
    calls = []
    handle = small_resnet.module.layer3.register_full_backward_hook(
        lambda *args: calls.append(1))
    try:
        make_method("gradcam").explain(small_resnet, resnet_inputs)
        assert calls == []
        with contextlib.redirect_stdout(io.StringIO()):
            stock_heatmaps(small_resnet, resnet_inputs, "gradcam", np.zeros(3, np.int64))
        assert calls  # the same hook does fire for stock pytorch-grad-cam
    finally:
        handle.remove()
        small_resnet.module.zero_grad(set_to_none=True)


def test_hooks_are_released_and_parameters_unfrozen_even_after_an_error(small_resnet,
                                                                       resnet_inputs):
    with pytest.raises(ValueError, match="expected 3 target classes"):
        make_method("gradcam").explain(small_resnet, resnet_inputs, classes=[0, 1])
    assert not small_resnet.target_layer._forward_hooks
    assert all(p.requires_grad for p in small_resnet.module.parameters())


class _TwiceBlock(nn.Module):
    """Runs the same conv twice: a target layer that fires two hooks per pass."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.head = nn.Linear(3, 2)

    def forward(self, x):
        return self.head(self.conv(self.conv(x)).mean(dim=(2, 3)))


def test_a_target_layer_that_runs_twice_is_a_clear_error():
    model = prepare_module(_TwiceBlock(), ModelSpec("twice", "custom", 2, target_layer="conv"))
    with pytest.raises(ModelError, match="ran 2 times in one forward pass"):
        make_method("gradcam").explain(model, torch.zeros(1, 3, 8, 8))


def test_a_token_layer_without_reshape_is_a_clear_error(tiny_vit, vit_inputs):
    no_reshape = prepare_module(tiny_vit.module, ModelSpec(
        "vit", "vit_tiny", 4, target_layer=tiny_vit.target_layer_name, reshape="none"))
    with pytest.raises(ModelError, match=r"set 'reshape' \(vit, tokens, channels_last\)"):
        make_method("gradcam").explain(no_reshape, vit_inputs)
