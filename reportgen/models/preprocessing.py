"""Turning (H, W, 3) uint8 images into the model's normalised input tensor."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Preprocessing:
    """Resize to ``size`` x ``size`` (bilinear), scale to [0, 1], then ``(x - mean) / std``.

    ``mean`` and ``std`` are per channel in [0, 1] units (ImageNet's by default).
    """

    size: int = 224
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def __call__(self, images: list[np.ndarray] | np.ndarray, device: torch.device | str = "cpu"
                 ) -> torch.Tensor:
        """(N, H, W, 3) uint8 images (a list may mix sizes) -> (N, 3, size, size) float32."""
        tensors = []
        for image in images:
            t = torch.from_numpy(np.ascontiguousarray(image)).to(device)
            t = t.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
            if t.shape[-2:] != (self.size, self.size):
                t = F.interpolate(t, size=(self.size, self.size), mode="bilinear",
                                  align_corners=False, antialias=True)
            tensors.append(t)
        batch = torch.cat(tensors)
        mean = torch.tensor(self.mean, device=device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=device).view(1, 3, 1, 1)
        return (batch - mean) / std
