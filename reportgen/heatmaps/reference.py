"""Stock pytorch-grad-cam, for comparisons in tests and benchmarks (not used by runs)."""

from __future__ import annotations

import numpy as np
import torch

from reportgen.models.loading import LoadedModel


def stock_cam_classes() -> dict[str, type]:
    """Our method name -> the pytorch-grad-cam class it reproduces."""
    import pytorch_grad_cam as pgc

    return {"gradcam": pgc.GradCAM, "gradcam++": pgc.GradCAMPlusPlus,
            "xgradcam": pgc.XGradCAM, "hirescam": pgc.HiResCAM, "layercam": pgc.LayerCAM,
            "eigencam": pgc.EigenCAM, "scorecam": pgc.ScoreCAM,
            "ablationcam": pgc.AblationCAM, "fullgrad": pgc.FullGrad}


def stock_heatmaps(model: LoadedModel, inputs: torch.Tensor, method: str,
                   classes: np.ndarray) -> np.ndarray:
    """(N, H, W) float32 heatmaps of ``classes`` (N,) from stock pytorch-grad-cam."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cls = stock_cam_classes()[method]
    targets = [ClassifierOutputTarget(int(c)) for c in classes]
    with cls(model=model.module, target_layers=[model.target_layer],
             reshape_transform=model.reshape_transform) as cam:
        return np.asarray(cam(input_tensor=inputs.to(model.device), targets=targets),
                          dtype=np.float32)
