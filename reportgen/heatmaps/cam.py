"""CAM heatmaps with pytorch-grad-cam, plus the prediction each heatmap explains."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from pytorch_grad_cam import (
    EigenCAM,
    GradCAM,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    XGradCAM,
)
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from reportgen.models.loading import LoadedModel

METHODS = {
    "gradcam": GradCAM,
    "gradcam++": GradCAMPlusPlus,
    "xgradcam": XGradCAM,
    "hirescam": HiResCAM,
    "layercam": LayerCAM,
    "eigencam": EigenCAM,
}


@dataclass(frozen=True)
class HeatmapBatch:
    """Heatmaps of one batch and what they explain.

    ``heatmaps`` (N, h, w) float32 at the model's input resolution, in [0, 1] as
    pytorch-grad-cam scales them; ``predicted`` and ``target`` (N,) int64 class indices;
    ``probability`` (N,) float32 softmax probability of the predicted class.
    """

    heatmaps: np.ndarray
    predicted: np.ndarray
    probability: np.ndarray
    target: np.ndarray


def compute_heatmaps(model: LoadedModel, inputs: torch.Tensor, method: str = "gradcam",
                     targets: np.ndarray | None = None) -> HeatmapBatch:
    """Explain ``inputs`` (N, 3, S, S) normalised, on the model's device.

    ``targets`` (N,) class indices to explain; ``None`` explains the predicted class.
    """
    try:
        cam_cls = METHODS[method]
    except KeyError:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}") from None
    inputs = inputs.to(model.device)
    with torch.no_grad():
        probs = torch.softmax(model.module(inputs), dim=1)
    probability, predicted = probs.max(dim=1)
    target = predicted.cpu().numpy() if targets is None else np.asarray(targets, dtype=np.int64)
    with cam_cls(model=model.module, target_layers=[model.target_layer]) as cam:
        heatmaps = cam(input_tensor=inputs,
                       targets=[ClassifierOutputTarget(int(t)) for t in target])
    return HeatmapBatch(
        heatmaps=np.asarray(heatmaps, dtype=np.float32),
        predicted=predicted.cpu().numpy().astype(np.int64),
        probability=probability.cpu().numpy().astype(np.float32),
        target=target.astype(np.int64),
    )
