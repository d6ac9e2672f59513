"""shap_gradient: SHAP's GradientExplainer (expected gradients), known answers on linear and
quadratic models, and its relation to captum's GradientShap."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from reportgen.heatmaps import make_method
from reportgen.models.loading import LoadedModel, ModelSpec


def loaded(module: nn.Module) -> LoadedModel:
    module = module.eval()
    return LoadedModel(ModelSpec("m", "custom", 3), module, module, torch.device("cpu"))


def linear_model() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 6 * 6, 3))
    return model, model[1].weight.detach().view(3, 3, 6, 6)


class Quadratic(nn.Module):
    """logit c = 0.5 * sum(v_c * x^2): gradient v_c * x."""

    def __init__(self) -> None:
        super().__init__()
        self.v = nn.Parameter(torch.rand(3, 3, 6, 6, generator=torch.Generator().manual_seed(1)))

    def forward(self, x):
        return 0.5 * (self.v[None] * x[:, None] ** 2).flatten(2).sum(-1)


def inputs(n: int = 2) -> torch.Tensor:
    return torch.randn(n, 3, 6, 6, generator=torch.Generator().manual_seed(2))


def test_on_a_linear_model_it_is_the_weight_times_the_input_minus_the_background():
    model, weight = linear_model()
    x, classes = inputs(), torch.tensor([2, 0])
    method = make_method("shap_gradient", n_samples=5, batch_size=3)
    phi = method.attribute_inputs(loaded(model), x, classes)
    torch.testing.assert_close(phi, weight[classes] * x, atol=1e-5, rtol=1e-5)  # E[b] = 0
    one = make_method("shap_gradient", background="noise", n_background=1, n_samples=4)
    background = one.draws(tuple(x.shape[1:]))[0]
    torch.testing.assert_close(one.attribute_inputs(loaded(model), x, classes),
                               weight[classes] * (x - background), atol=1e-5, rtol=1e-5)
    # The heatmap: the channel sum, scaled to a peak |value| of 1.
    heat = method.explain(loaded(model), x, classes).heatmaps
    expected = (weight[classes] * x).sum(1)
    torch.testing.assert_close(heat, expected / expected.flatten(1).abs().max(1).values[:, None,
                                                                                       None])


def test_many_backgrounds_average_to_the_background_mean():
    model, weight = linear_model()
    x, classes = inputs(1), torch.tensor([1])
    method = make_method("shap_gradient", background="noise", n_background=4, n_samples=4000,
                         batch_size=4000)
    background = method.draws(tuple(x.shape[1:]))[0]
    phi = method.attribute_inputs(loaded(model), x, classes)
    expected = weight[classes] * (x - background.mean(0))
    assert (phi - expected).abs().max() < 0.05 * weight.abs().max() * 3


def test_on_a_quadratic_model_every_pixel_gets_the_same_share_of_its_exact_shapley_value():
    # grad at t x (background 0) is v x t, so phi = v x^2 mean(t): the exact SHAP value
    # v x^2 / 2 times one factor 2 mean(t) shared by all pixels (close to 1).
    model, x, classes = Quadratic(), inputs(), torch.tensor([0, 2])
    phi = make_method("shap_gradient", n_samples=64).attribute_inputs(loaded(model), x, classes)
    exact = 0.5 * model.v.detach()[classes] * x ** 2
    ratio = phi / exact
    assert torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio), rtol=1e-4)
    assert 0.8 < ratio.flatten()[0] < 1.2


def test_it_equals_captums_gradient_shap_with_the_same_baseline_and_no_input_noise():
    captum = pytest.importorskip("captum.attr")
    model, _ = linear_model()
    x, classes = inputs(), torch.tensor([0, 1])
    ours = make_method("shap_gradient", n_samples=8).attribute_inputs(loaded(model), x, classes)
    theirs = captum.GradientShap(model).attribute(x, baselines=torch.zeros(1, 3, 6, 6),
                                                  target=classes, n_samples=8, stdevs=0.0)
    torch.testing.assert_close(ours, theirs.float(), atol=1e-5, rtol=1e-5)
    # Non-linear model: the same expectation, estimated from different draws.
    quad = Quadratic()
    ours = make_method("shap_gradient", n_samples=2000, batch_size=500).attribute_inputs(
        loaded(quad), x, classes)
    theirs = captum.GradientShap(quad).attribute(x, baselines=torch.zeros(1, 3, 6, 6),
                                                 target=classes, n_samples=2000, stdevs=0.0)
    exact = 0.5 * quad.v.detach()[classes] * x ** 2
    assert (ours - exact).abs().max() < 0.05 * exact.abs().max()
    assert (theirs - exact).abs().max() < 0.05 * exact.abs().max()


def test_heatmaps_do_not_depend_on_the_batch_and_bad_parameters_fail():
    model, _ = linear_model()
    x, classes = inputs(3), torch.tensor([0, 1, 2])
    method = make_method("shap_gradient", background="noise", local_smoothing=0.1, n_samples=6,
                         batch_size=4)
    whole = method.explain(loaded(model), x, classes).heatmaps
    alone = method.explain(loaded(model), x[1:2], classes[1:2]).heatmaps
    torch.testing.assert_close(whole[1:2], alone)
    with pytest.raises(ValueError, match="background"):
        make_method("shap_gradient", background="blur")


def test_defaults_give_one_finite_heatmap_per_image_through_the_registry():
    from reportgen.heatmaps.compute import compute_heatmaps

    model, _ = linear_model()
    batch = compute_heatmaps(loaded(model), inputs(3), "shap_gradient")
    assert batch.heatmaps.shape == (3, 6, 6) and np.isfinite(batch.heatmaps).all()
    assert np.allclose(np.abs(batch.heatmaps).reshape(3, -1).max(1), 1, atol=1e-5)
