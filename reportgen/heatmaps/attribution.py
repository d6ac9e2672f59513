"""Input-attribution methods: through captum (optional extra ``attr``), and SHAP's gradient
explainer in plain torch.

Integrated Gradients, GradientSHAP (captum's analogue of SHAP's gradient explainer),
Occlusion and LIME; ``shap_gradient`` (expected gradients as SHAP's ``GradientExplainer``
computes them; no extra needed). Each gives a (N, 3, H, W) attribution in the normalised
input space; the heatmap is its **sum over the colour channels** (signed), divided by its largest
absolute value, so it lies in [-1, 1] (METRICS.md's normalisation then drops the negative
part). Random methods reseed ``seed`` before every image, so an image's heatmap does not
depend on the batch it came in. Parameters are frozen: no parameter gradients.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar

import torch

from reportgen.heatmaps.base import HeatmapMethod, register_method, resize_maps
from reportgen.heatmaps.capture import frozen_parameters
from reportgen.heatmaps.targets import choose_classes
from reportgen.models.loading import LoadedModel


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Run with torch's global RNG (and the device's) seeded, restoring it afterwards."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class CaptumMethod(HeatmapMethod):
    """Base of the captum methods; subclasses override ``attribute_inputs``."""

    requires = "captum"
    extra = "attr"

    def attribute(self, model: LoadedModel, inputs: torch.Tensor, classes: Any
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            logits = model.module(inputs)
        chosen = choose_classes(logits, classes)
        with frozen_parameters(model.module):
            attributions = self.attribute_inputs(model, inputs, chosen)
        return attributions.sum(dim=1), logits, chosen

    def attribute_inputs(self, model: LoadedModel, inputs: torch.Tensor,
                         classes: torch.Tensor) -> torch.Tensor:
        """Hook: (N, 3, H, W) attributions of ``classes`` (N,) for ``inputs``."""
        raise NotImplementedError

    def per_image(self, model: LoadedModel, inputs: torch.Tensor, classes: torch.Tensor,
                  attribute_one) -> torch.Tensor:
        """Call ``attribute_one(x (1, 3, H, W), class (1,))`` per image, reseeded each time."""
        out = []
        for i in range(len(inputs)):
            with seeded(self.params["seed"], model.device):
                out.append(attribute_one(inputs[i:i + 1], classes[i:i + 1]))
        return torch.cat(out)

    def finish(self, raw: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        maps = resize_maps(raw.float(), size)
        peak = maps.flatten(1).abs().max(dim=1).values.clamp_min(1e-30)
        return maps / peak[:, None, None]


@register_method
class IntegratedGradients(CaptumMethod):
    """Integrated Gradients (Sundararajan et al. 2017) from the all-zero normalised input
    (the dataset mean), ``n_steps`` Gauss-Legendre steps, ``batch_size`` per forward pass."""

    name = "integrated_gradients"
    defaults: ClassVar[dict[str, Any]] = {"n_steps": 32, "batch_size": 32}

    def attribute_inputs(self, model, inputs, classes):
        from captum.attr import IntegratedGradients as Captum

        return Captum(model.module).attribute(
            inputs, baselines=0.0, target=classes, n_steps=self.params["n_steps"],
            internal_batch_size=self.params["batch_size"])


@register_method
class GradientShap(CaptumMethod):
    """GradientSHAP (Lundberg & Lee 2017; captum): expected gradients between the input and
    baselines (the all-zero input and ``n_baselines`` standard-normal images), with
    ``n_samples`` draws and input noise ``stdevs``."""

    name = "gradient_shap"
    defaults: ClassVar[dict[str, Any]] = {"n_samples": 16, "n_baselines": 4, "stdevs": 0.1,
                                          "seed": 0}

    def attribute_inputs(self, model, inputs, classes):
        from captum.attr import GradientShap as Captum

        explainer = Captum(model.module)

        def one(x, c):
            noise = torch.randn(self.params["n_baselines"], *x.shape[1:], device=x.device)
            baselines = torch.cat([torch.zeros_like(x), noise])
            return explainer.attribute(x, baselines=baselines, target=c,
                                       n_samples=self.params["n_samples"],
                                       stdevs=self.params["stdevs"])

        return self.per_image(model, inputs, classes, one)


@register_method
class Occlusion(CaptumMethod):
    """Occlusion (Zeiler & Fergus 2014): score drop when a ``window`` x ``window`` patch
    (all channels) is set to 0 (the dataset mean), sliding by ``stride`` pixels."""

    name = "occlusion"
    defaults: ClassVar[dict[str, Any]] = {"window": 32, "stride": 16, "batch_size": 32}

    def attribute_inputs(self, model, inputs, classes):
        from captum.attr import Occlusion as Captum

        w, s, c = self.params["window"], self.params["stride"], inputs.shape[1]
        return Captum(model.module).attribute(
            inputs, sliding_window_shapes=(c, w, w), strides=(c, s, s), baselines=0.0,
            target=classes, perturbations_per_eval=self.params["batch_size"])


def grid_segments(height: int, width: int, cell: int, device: torch.device) -> torch.Tensor:
    """(1, 1, H, W) int64 superpixel ids: a grid of ``cell`` x ``cell`` squares."""
    rows = torch.arange(height, device=device) // cell
    cols = torch.arange(width, device=device) // cell
    per_row = (width + cell - 1) // cell
    return (rows[:, None] * per_row + cols[None, :])[None, None]


@register_method
class Lime(CaptumMethod):
    """LIME (Ribeiro et al. 2016; captum): a ridge model fitted to the target score of
    ``n_samples`` inputs with random grid cells (``cell`` pixels square) set to 0."""

    name = "lime"
    defaults: ClassVar[dict[str, Any]] = {"n_samples": 128, "cell": 16, "batch_size": 32, "seed": 0}

    def attribute_inputs(self, model, inputs, classes):
        from captum._utils.models.linear_model import SkLearnRidge
        from captum.attr import Lime as Captum

        explainer = Captum(model.module, interpretable_model=SkLearnRidge(alpha=1.0))
        h, w = inputs.shape[-2:]
        mask = grid_segments(h, w, self.params["cell"], inputs.device).expand(
            1, inputs.shape[1], h, w)

        def one(x, c):
            return explainer.attribute(x, baselines=0.0, target=c, feature_mask=mask,
                                       n_samples=self.params["n_samples"],
                                       perturbations_per_eval=self.params["batch_size"])

        return self.per_image(model, inputs, classes, one)


@register_method
class ShapGradient(CaptumMethod):
    """SHAP's gradient explainer (``shap.GradientExplainer``; Lundberg & Lee, NeurIPS 2017;
    expected gradients, Erion et al., Nature Machine Intelligence 2021), in plain torch.

    Per image x and class c, ``n_samples`` draws of a background image b (uniform from the
    background set) and t ~ U(0, 1) give ``phi = mean_k grad f_c(t_k x' + (1 - t_k) b_k) *
    (x' - b_k)``, with f_c the class's logit (SHAP differentiates the raw output) and ``x' = x +
    N(0, local_smoothing^2)`` (SHAP's ``local_smoothing``; 0 = none). Its expectation is
    captum's GradientShap with the same baselines and ``stdevs = local_smoothing``. Background
    ``mean``: the all-zero normalised input (the dataset mean), so phi estimates Integrated
    Gradients from it; ``noise``: ``n_background`` standard-normal images (seeded). Draws are
    reseeded per image (a heatmap does not depend on its batch); all (image, draw) points go
    through the model in batches of ``batch_size``.
    """

    name = "shap_gradient"
    requires = None
    defaults: ClassVar[dict[str, Any]] = {"n_samples": 32, "background": "mean",
                                          "n_background": 8, "local_smoothing": 0.0,
                                          "batch_size": 32, "seed": 0}

    def __init__(self, **params: Any):
        super().__init__(**params)
        if self.params["background"] not in ("mean", "noise"):
            raise ValueError(f"shap_gradient: background must be 'mean' or 'noise', got "
                             f"{self.params['background']!r}")
        if self.params["n_samples"] < 1 or self.params["batch_size"] < 1:
            raise ValueError("shap_gradient: n_samples and batch_size must be >= 1")

    def draws(self, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                     torch.Tensor | None]:
        """The seeded draws shared by every image: background set (B, C, H, W), t (S,),
        background index (S,) and input noise (S, C, H, W) or None."""
        p = self.params
        gen = torch.Generator().manual_seed(int(p["seed"]))
        if p["background"] == "mean":
            background = torch.zeros((1, *shape))
        else:
            background = torch.randn((p["n_background"], *shape), generator=gen)
        t = torch.rand(p["n_samples"], generator=gen, dtype=torch.float64).float()
        pick = torch.randint(len(background), (p["n_samples"],), generator=gen)
        noise = (p["local_smoothing"] * torch.randn((p["n_samples"], *shape), generator=gen)
                 if p["local_smoothing"] > 0 else None)
        return background, t, pick, noise

    def attribute_inputs(self, model, inputs, classes):
        n, s = len(inputs), self.params["n_samples"]
        device = inputs.device
        background, t, pick, noise = (None if v is None else v.to(device)
                                      for v in self.draws(tuple(inputs.shape[1:])))
        total = torch.zeros_like(inputs)
        step = self.params["batch_size"]
        for start in range(0, n * s, step):
            flat = torch.arange(start, min(start + step, n * s), device=device)
            image, k = flat // s, flat % s
            x = inputs[image] if noise is None else inputs[image] + noise[k]
            base = background[pick[k]]
            tk = t[k].view(-1, 1, 1, 1)
            point = (tk * x + (1 - tk) * base).detach().requires_grad_(True)
            with torch.enable_grad():
                score = model.module(point).gather(1, classes[image].view(-1, 1)).sum()
                (grad,) = torch.autograd.grad(score, point)
            total.index_add_(0, image, grad * (x - base))
        return total / s
