"""Small random samples and heatmap batches for the scoring tests."""

from __future__ import annotations

import numpy as np

from reportgen.data.sample import Sample
from reportgen.heatmaps.base import HeatmapBatch

PARTS = ("head", "tail")


def random_sample(image_id: str, size: tuple[int, int], seed: int) -> Sample:
    """A class ``cat`` sample of ``size`` (H, W): random RGB and labels 0 (background) to 2."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=size).astype(np.uint8)
    image = rng.integers(0, 255, size=(*size, 3)).astype(np.uint8)
    return Sample(image_id, image, labels, PARTS, 0, "cat")


def heatmap_batch(heat: np.ndarray) -> HeatmapBatch:
    """``heat`` (N, h, w) as a batch whose targets and predictions are class 0 (p 1)."""
    n = len(heat)
    return HeatmapBatch(heat, np.zeros(n, np.int64), np.ones(n, np.float32),
                        np.zeros(n, np.int64))
