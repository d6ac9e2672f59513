"""The CAM family on one target layer: gradient CAMs (fast path) and EigenCAM.

``TargetLayerCam`` does the work: one forward pass recording the target layer (and, for gradient
methods, one backward pass from the target score to that layer only), then ``cam_image``
(the hook) turns the layer state into (N, h, w) maps, and ``finish`` scales them exactly as
pytorch-grad-cam does: ReLU, min-max, bilinear resize to the input, min-max. Weight-based
methods override only ``weights``. Formulas follow pytorch-grad-cam 1.5 (outputs agree to
1e-4), computed on the model's device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from reportgen.heatmaps.base import HeatmapMethod, minmax_scale, register_method, resize_maps
from reportgen.heatmaps.capture import LayerCapture
from reportgen.heatmaps.targets import ClassScore, choose_classes
from reportgen.models.loading import LoadedModel


@dataclass(frozen=True)
class LayerState:
    """The target layer after the clean pass: ``activations`` and ``gradients`` (N, K, h, w)
    (gradients None for gradient-free methods), ``raw`` the layer's unreshaped output,
    ``target`` the score being explained, ``inputs`` (N, 3, H, W), ``logits`` (N, C)."""

    model: LoadedModel
    inputs: torch.Tensor
    logits: torch.Tensor
    activations: torch.Tensor
    gradients: torch.Tensor | None
    raw: torch.Tensor
    target: ClassScore


class TargetLayerCam(HeatmapMethod):
    """Base of the CAM family; subclasses override ``cam_image`` or ``weights``."""

    uses_gradients: ClassVar[bool] = True

    def attribute(self, model: LoadedModel, inputs: torch.Tensor, classes: Any
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with LayerCapture(model, gradients=self.uses_gradients) as capture:
            logits = capture.forward(inputs)
            chosen = choose_classes(logits.detach(), classes)
            target = ClassScore(chosen)
            gradients = capture.gradients(target(logits)) if self.uses_gradients else None
            state = LayerState(model, inputs, logits.detach(), capture.activations, gradients,
                               capture.raw, target)
        return self.cam_image(state), logits.detach(), chosen

    def cam_image(self, state: LayerState) -> torch.Tensor:
        """Hook: (N, h, w) map; by default the ``weights``-weighted sum of the channels."""
        return (self.weights(state)[:, :, None, None] * state.activations).sum(dim=1)

    def weights(self, state: LayerState) -> torch.Tensor:
        """Hook: (N, K) channel weights."""
        raise NotImplementedError

    def finish(self, raw: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return minmax_scale(resize_maps(minmax_scale(raw.clamp_min(0)), size).clamp_min(0))


def _spatial_sum(x: torch.Tensor) -> torch.Tensor:
    return x.sum(dim=(2, 3), keepdim=True)


@register_method
class GradCAM(TargetLayerCam):
    """Grad-CAM (Selvaraju et al. 2017): weights = spatial mean of the gradients."""

    name = "gradcam"

    def weights(self, state: LayerState) -> torch.Tensor:
        return state.gradients.mean(dim=(2, 3))


@register_method
class GradCAMPlusPlus(TargetLayerCam):
    """Grad-CAM++ (Chattopadhyay et al. 2018, eq. 19): higher-order gradient weights."""

    name = "gradcam++"

    def weights(self, state: LayerState) -> torch.Tensor:
        g, a = state.gradients, state.activations
        g2 = g * g
        alpha = g2 / (2 * g2 + _spatial_sum(a) * g2 * g + 1e-6)
        alpha = torch.where(g != 0, alpha, torch.zeros_like(alpha))
        return (g.clamp_min(0) * alpha).sum(dim=(2, 3))


@register_method
class XGradCAM(TargetLayerCam):
    """XGrad-CAM (Fu et al. 2020): gradients weighted by normalised activations."""

    name = "xgradcam"

    def weights(self, state: LayerState) -> torch.Tensor:
        a = state.activations
        return (state.gradients * a / (_spatial_sum(a) + 1e-7)).sum(dim=(2, 3))


@register_method
class HiResCAM(TargetLayerCam):
    """HiResCAM (Draelos & Carin 2020): element-wise gradient x activation, channel-summed."""

    name = "hirescam"

    def cam_image(self, state: LayerState) -> torch.Tensor:
        return (state.gradients * state.activations).sum(dim=1)


@register_method
class LayerCAM(TargetLayerCam):
    """LayerCAM (Jiang et al. 2021): positive gradients x activations, channel-summed."""

    name = "layercam"

    def cam_image(self, state: LayerState) -> torch.Tensor:
        return (state.gradients.clamp_min(0) * state.activations).sum(dim=1)


def first_principal_projection(maps: torch.Tensor) -> torch.Tensor:
    """(N, K, h, w) -> (N, h, w) projection of the centred pixels on their first component.

    The component's sign is arbitrary in an SVD; it is chosen so that the projection
    correlates positively with the channel sum (high activation = high heat), which keeps
    the result the same on every device.
    """
    n, _, h, w = maps.shape
    pixels = torch.nan_to_num(maps).flatten(2).transpose(1, 2)  # (N, h*w, K)
    centred = pixels - pixels.mean(dim=1, keepdim=True)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    projection = (centred @ vh[:, 0, :, None]).squeeze(2)  # (N, h*w)
    total = maps.sum(dim=1).flatten(1)
    total = total - total.mean(dim=1, keepdim=True)
    sign = torch.where((projection * total).sum(dim=1, keepdim=True) < 0, -1.0, 1.0)
    return (projection * sign).view(n, h, w)


@register_method
class EigenCAM(TargetLayerCam):
    """EigenCAM (Muhammad & Yeasin 2020): first principal component of the activations.

    Class-agnostic (no gradients). Deviation from pytorch-grad-cam: the sign is fixed
    (see ``first_principal_projection``) instead of being whatever the SVD returns.
    """

    name = "eigencam"
    uses_gradients = False

    def cam_image(self, state: LayerState) -> torch.Tensor:
        return first_principal_projection(state.activations)
