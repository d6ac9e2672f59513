"""FullGrad (Srinivas & Fleuret 2019): input-gradient x input plus bias-gradients of every
Conv2d/BatchNorm2d layer with a bias, each channel map min-max scaled, summed, rescaled.

Not a single-layer CAM, so it implements ``attribute`` itself. One forward and one backward
pass to the input, no parameter gradients, all on the model's device. Per-channel maps are
summed before the (linear) resize, which equals resizing each map first.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from reportgen.heatmaps.base import HeatmapMethod, minmax_scale, register_method, resize_maps
from reportgen.heatmaps.capture import frozen_parameters
from reportgen.heatmaps.targets import ClassScore, choose_classes
from reportgen.models.loading import LoadedModel


def _bias(layer: nn.Module) -> torch.Tensor | None:
    """The layer's effective bias per channel (BatchNorm: folded with its running stats)."""
    if isinstance(layer, nn.BatchNorm2d):
        if layer.bias is None or layer.running_mean is None:
            return None
        scale = layer.weight if layer.weight is not None else torch.ones_like(layer.bias)
        return layer.bias - layer.running_mean * scale / torch.sqrt(layer.running_var + layer.eps)
    return layer.bias if isinstance(layer, nn.Conv2d) else None


def _channel_maps_sum(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, K, h, w) -> (N, H, W) sum over channels of per-channel min-max scaled maps."""
    n, k, h, w = maps.shape
    scaled = minmax_scale(maps.reshape(n * k, h, w)).view(n, k, h, w)
    return resize_maps(scaled.sum(dim=1), size)


@register_method
class FullGrad(HeatmapMethod):
    name = "fullgrad"

    def attribute(self, model: LoadedModel, inputs: torch.Tensor, classes: Any
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        layers = [(m, b.detach()) for m in model.module.modules()
                  if isinstance(m, nn.Conv2d | nn.BatchNorm2d) and (b := _bias(m)) is not None]
        outputs: list[tuple[torch.Tensor, torch.Tensor]] = []

        def record(out: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
            outputs.append((out, bias))
            return out.clone()  # later in-place ops (ReLU) must not change what we differentiate

        handles = [m.register_forward_hook(lambda _m, _a, out, b=b: record(out, b))
                   for m, b in layers]
        x = inputs.detach().clone().requires_grad_(True)  # clone: inputs may be inference tensors
        try:
            with frozen_parameters(model.module), torch.enable_grad():
                logits = model.module(x)
                chosen = choose_classes(logits.detach(), classes)
                score = ClassScore(chosen)(logits).sum()
                grads = torch.autograd.grad(score, [x] + [o for o, _ in outputs],
                                            allow_unused=True)
        finally:
            for h in handles:
                h.remove()
        size = tuple(inputs.shape[-2:])
        total = _channel_maps_sum((grads[0] * x.detach()).abs(), size)
        for (_, bias), grad in zip(outputs, grads[1:], strict=True):
            if grad is not None:
                total = total + _channel_maps_sum((bias[None, :, None, None] * grad).abs(), size)
        return total, logits.detach(), chosen

    def finish(self, raw: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return minmax_scale(raw)
