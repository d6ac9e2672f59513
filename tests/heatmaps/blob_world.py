"""A model with a known answer: class 0 counts red pixels, class 1 green ones.

``colour_counter()``: a 1x1 convolution (the CAM target layer) with ``relu(red - 1)`` and
``relu(green - 1)`` channels, global average pooling, logits = 32 x the two channel means.
The threshold makes the evidence local: blurring a blob (I-GOS's baseline) lowers it below 1,
so deleting the blob removes the class's evidence. ``two_blob_images`` puts an 8 x 8 red and
an 8 x 8 green blob (value 2, normalised units) on a black 32 x 32 image; both logits are 2.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from reportgen.models.loading import LoadedModel, ModelSpec, prepare_module
from reportgen.models.preprocessing import Preprocessing

SIZE = 32
BLOB = 8
# The blobs' top-left corners in the two images of the tests' pair (``pair_images``).
RED_AT = [(4, 4), (20, 16)]
GREEN_AT = [(20, 20), (4, 4)]


def colour_counter(scale: float = 32.0) -> LoadedModel:
    """The model; logits = ``scale`` x the channel means (32: one full blob -> logit 2)."""
    conv = nn.Conv2d(3, 2, kernel_size=1)
    head = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0] = 1.0
        conv.weight[1, 1] = 1.0
        conv.bias.fill_(-1.0)
        head.weight.copy_(torch.eye(2) * scale)
    module = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)
    spec = ModelSpec("colour-counter", "colour_counter", 2, target_layer="1",
                     preprocessing=Preprocessing(size=SIZE))
    return prepare_module(module, spec)


def two_blob_images(red_at: list[tuple[int, int]], green_at: list[tuple[int, int]]
                    ) -> torch.Tensor:
    """(N, 3, 32, 32): image i has its red blob's top-left corner at ``red_at[i]`` (row,
    column) and its green one at ``green_at[i]``."""
    images = torch.zeros(len(red_at), 3, SIZE, SIZE)
    for i, ((ry, rx), (gy, gx)) in enumerate(zip(red_at, green_at, strict=True)):
        images[i, 0, ry:ry + BLOB, rx:rx + BLOB] = 2.0
        images[i, 1, gy:gy + BLOB, gx:gx + BLOB] = 2.0
    return images


def blob_mask(corner: tuple[int, int], margin: int = 0) -> np.ndarray:
    """(32, 32) bool: the blob at ``corner``, grown by ``margin`` pixels."""
    mask = np.zeros((SIZE, SIZE), bool)
    y, x = corner
    mask[max(0, y - margin):y + BLOB + margin, max(0, x - margin):x + BLOB + margin] = True
    return mask


def share_on(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """Share of the (non-negative) heat that lies on ``mask``."""
    heat = np.clip(heatmap, 0, None)
    return float(heat[mask].sum() / max(heat.sum(), 1e-12))
