"""Gradient-free CAMs that weigh channels by perturbing the model: ScoreCAM, AblationCAM.

Both extend ``TargetLayerCam`` through the ``weights`` hook. They run K extra forward passes per
image (K = channels of the target layer) in chunks of ``batch_size``, on the model's device,
and never hold more than one chunk of perturbed inputs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from reportgen.errors import ModelError
from reportgen.heatmaps.base import register_method
from reportgen.heatmaps.capture import replaced_output
from reportgen.heatmaps.layer_cams import LayerState, TargetLayerCam


def _chunks(count: int, size: int):
    for start in range(0, count, size):
        yield start, min(start + size, count)


@register_method
class ScoreCAM(TargetLayerCam):
    """Score-CAM (Wang et al. 2020): weight = softmax over channels of the target score on
    the input masked by each channel's upsampled, min-max scaled activation map."""

    name = "scorecam"
    uses_gradients = False
    defaults: ClassVar[dict[str, Any]] = {"batch_size": 16}

    @torch.no_grad()
    def weights(self, state: LayerState) -> torch.Tensor:
        inputs, acts = state.inputs, state.activations
        n, k = acts.shape[:2]
        scores = torch.empty(n, k, device=inputs.device)
        for i in range(n):
            for lo, hi in _chunks(k, self.params["batch_size"]):
                masks = F.interpolate(acts[i:i + 1, lo:hi], size=inputs.shape[-2:],
                                      mode="bilinear", align_corners=True)[0]
                flat = masks.flatten(1)
                low = flat.min(dim=1).values[:, None, None]
                high = flat.max(dim=1).values[:, None, None]
                masks = (masks - low) / (high - low + 1e-8)
                logits = state.model.module(inputs[i] * masks[:, None])
                scores[i, lo:hi] = state.target.of(i, hi - lo)(logits)
        return torch.softmax(scores, dim=1)


@register_method
class AblationCAM(TargetLayerCam):
    """Ablation-CAM (Desai & Ramaswamy 2020): weight = relative drop of the target score when
    the channel is set to ``ablation_value`` at the target layer.

    Deviation from pytorch-grad-cam: the ablated channel is always set to
    ``ablation_value`` (0, the paper's choice); pytorch-grad-cam uses a very negative value
    for layers with negative activations.
    """

    name = "ablationcam"
    uses_gradients = False
    defaults: ClassVar[dict[str, Any]] = {"batch_size": 16, "ablation_value": 0.0}

    @torch.no_grad()
    def weights(self, state: LayerState) -> torch.Tensor:
        model, inputs, raw = state.model, state.inputs, state.raw
        original = state.target(state.logits)  # (N,)
        n, k = state.activations.shape[:2]
        ablated = torch.empty(n, k, device=inputs.device)
        for i in range(n):
            for lo, hi in _chunks(k, self.params["batch_size"]):
                copies = raw[i:i + 1].repeat(hi - lo, *([1] * (raw.dim() - 1)))
                rows = torch.arange(hi - lo, device=copies.device)
                _ablation_view(model, copies)[rows, rows + lo] = self.params["ablation_value"]
                with replaced_output(model.target_layer, lambda _out, c=copies: c):
                    out = model.module(inputs[i:i + 1].expand(hi - lo, -1, -1, -1))
                ablated[i, lo:hi] = state.target.of(i, hi - lo)(out)
        original = original[:, None]
        drop = (original - ablated) / torch.where(original != 0, original, 1.0)
        return torch.where(original != 0, drop, 0.0)  # no score, nothing to attribute


def _ablation_view(model, copies: torch.Tensor) -> torch.Tensor:
    """(B, K, h, w) maps that are a view of ``copies`` (so writing ablates the layer output)."""
    transform = model.reshape_transform
    if transform is None:
        return copies
    maps = transform(copies)
    if maps.untyped_storage().data_ptr() != copies.untyped_storage().data_ptr():
        raise ModelError(f"{model.spec.arch}: ablationcam needs a reshape transform that "
                         "returns a view of the layer output")
    return maps
