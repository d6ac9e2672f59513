"""Turning (H, W, 3) uint8 images into the model's normalised input tensor."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_NUMBER = r"([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
_RULES = (  # (pattern, (offset, divisor) from the match)
    (re.compile(rf"^\(x-{_NUMBER}\)/{_NUMBER}$"), lambda m: (float(m[1]), float(m[2]))),
    (re.compile(rf"^x/{_NUMBER}-{_NUMBER}$"), lambda m: (float(m[1]) * float(m[2]), float(m[1]))),
    (re.compile(rf"^x/{_NUMBER}$"), lambda m: (0.0, float(m[1]))),
)


@dataclass(frozen=True)
class Preprocessing:
    """Resize to ``size`` x ``size`` (bilinear), divide by ``pixel_scale``, ``(x - mean) / std``.

    With the default ``pixel_scale`` 255, ``mean`` and ``std`` are per channel in [0, 1] units
    (ImageNet's by default); with ``pixel_scale`` 1 they are in raw 0..255 units, which is how
    scale rules such as TF-Lite's ``(x - 127) / 128`` are written (see ``from_rule``).
    """

    size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    pixel_scale: float = 255.0

    @classmethod
    def from_rule(cls, rule: str, size: int = 224) -> Preprocessing:
        """A scale rule on raw pixels x in 0..255: ``(x - a) / b``, ``x / b - a`` or ``x / b``.

        >>> Preprocessing.from_rule("(x - 127) / 128")  # EfficientNet-Lite
        Preprocessing(size=224, mean=(127.0, 127.0, 127.0), std=(128.0, 128.0, 128.0), ...)
        """
        text = "".join(str(rule).split())
        for pattern, offset_divisor in _RULES:
            match = pattern.match(text)
            if match:
                offset, divisor = offset_divisor(match)
                if divisor == 0:
                    break
                return cls(size, (offset,) * 3, (divisor,) * 3, 1.0)
        raise ValueError(f"unsupported scale rule {rule!r}; write it as '(x - a) / b', "
                         "'x / b - a' or 'x / b' with x the raw pixel value in 0..255")

    def __call__(self, images: list[np.ndarray] | np.ndarray, device: torch.device | str = "cpu"
                 ) -> torch.Tensor:
        """(N, H, W, 3) uint8 images (a list may mix sizes) -> (N, 3, size, size) float32."""
        tensors = []
        for image in images:
            image = np.ascontiguousarray(image)
            if not image.flags.writeable:  # e.g. np.asarray(PIL image): torch wants writable
                image = image.copy()
            t = torch.from_numpy(image).to(device)
            t = t.permute(2, 0, 1).unsqueeze(0).float()
            if self.pixel_scale != 1:
                t = t / self.pixel_scale  # not in place: a float input would be its own tensor
            if t.shape[-2:] != (self.size, self.size):
                t = F.interpolate(t, size=(self.size, self.size), mode="bilinear",
                                  align_corners=False, antialias=True)
            tensors.append(t)
        batch = torch.cat(tensors)
        mean = torch.tensor(self.mean, device=device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=device).view(1, 3, 1, 1)
        return (batch - mean) / std
