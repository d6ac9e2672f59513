"""Deletion and insertion curves (Petsiuk, Das & Saenko, RISE, BMVC 2018, arXiv 1806.07421).

Per image of n pixels, with pixels ranked by the normalised heatmap (most relevant first; ties
in the same seeded random order as ROAD, ``reportgen.metrics.road.relevance_ranks``) and
``step = ceil(n / steps)``: after ``k`` steps the ``min(k * step, n)`` most relevant pixels are

* **deletion**: replaced by 0, the normalised-space zero (the dataset mean colour), starting
  from the unmodified image and ending at the all-zero image;
* **insertion**: copied from the image onto its blurred copy (RISE's blur: an 11 x 11 kernel,
  a unit impulse smoothed by ``scipy.ndimage.gaussian_filter`` with sigma 5, applied per
  channel with zero padding), starting from the blurred image and ending at the unmodified one.

The curve is the target-class softmax probability at k = 0 ... K, ``K = ceil(n / step)``
(K + 1 points); its AUC is RISE's ``(sum - first / 2 - last / 2) / K`` (trapezoids on a uniform
[0, 1] axis), in [0, 1]. Low deletion AUC and high insertion AUC mean a faithful heatmap.

Batched like ROAD: the perturbed copies go through the model in batches of ``max_batch`` on
the inputs' device; the unmodified image's probability (deletion's first point, insertion's
last) is reused, and the all-zero image (deletion's last point) is one forward pass per
distinct target class. Cost: about ``2 K - 1`` forward passes per image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter

from reportgen.metrics.registry import MetricInfo, register_metric
from reportgen.metrics.road import ProbabilityFn, relevance_ranks

RISE_REFERENCE = ("Petsiuk, Das & Saenko, RISE: Randomized Input Sampling for Explanation of "
                  "Black-box Models, BMVC 2018, arXiv 1806.07421 (deletion and insertion)")
DELETION, INSERTION = 0, 1


@dataclass(frozen=True)
class DeletionInsertionConfig:
    """``steps``: requested number of steps K (>= 1; the curve has K + 1 points, K is
    ``ceil(n / ceil(n / steps))`` <= steps); ``blur_size`` (odd, pixels) and ``blur_sigma``
    (pixels): insertion's blurred start (RISE: 11 and 5); ``seed``: tie-breaking order;
    ``max_batch``: images per forward pass."""

    steps: int = 32
    blur_size: int = 11
    blur_sigma: float = 5.0
    seed: int = 0
    max_batch: int = 64

    def __post_init__(self) -> None:
        if self.steps < 1 or self.max_batch < 1:
            raise ValueError(f"steps and max_batch must be >= 1, got {self.steps}, "
                             f"{self.max_batch}")
        if self.blur_size < 1 or self.blur_size % 2 == 0 or self.blur_sigma <= 0:
            raise ValueError("blur_size must be odd and >= 1, blur_sigma > 0")


@dataclass(frozen=True)
class DeletionInsertionCurves:
    """``fractions`` (K + 1,): share of pixels deleted/inserted at each point, 0 ... 1;
    ``deletion`` and ``insertion`` (N, K + 1) float64 target probabilities."""

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray

    @property
    def deletion_auc(self) -> np.ndarray:
        """(N,) in [0, 1], lower is better."""
        return rise_auc(self.deletion)

    @property
    def insertion_auc(self) -> np.ndarray:
        """(N,) in [0, 1], higher is better."""
        return rise_auc(self.insertion)


def rise_auc(curves: np.ndarray) -> np.ndarray:
    """(..., K + 1) -> (...): RISE's normalised AUC ``(sum - first/2 - last/2) / K``."""
    curves = np.asarray(curves, dtype=np.float64)
    return (curves.sum(-1) - curves[..., 0] / 2 - curves[..., -1] / 2) / (curves.shape[-1] - 1)


def step_counts(num_pixels: int, steps: int) -> np.ndarray:
    """(K + 1,) int64: pixels changed after k = 0 ... K steps of ``ceil(n / steps)`` pixels."""
    step = max(1, math.ceil(num_pixels / steps))
    k = math.ceil(num_pixels / step)
    return np.minimum(np.arange(k + 1, dtype=np.int64) * step, num_pixels)


def rise_blur(images: torch.Tensor, size: int = 11, sigma: float = 5.0) -> torch.Tensor:
    """(N, C, H, W) -> same shape: RISE's ``gkern(size, sigma)`` blur per channel, zero
    padding (the border darkens towards the normalised zero, as in RISE)."""
    impulse = np.zeros((size, size))
    impulse[size // 2, size // 2] = 1.0
    kernel = torch.as_tensor(gaussian_filter(impulse, sigma), dtype=images.dtype,
                             device=images.device)
    c = images.shape[1]
    return F.conv2d(images, kernel.expand(c, 1, size, size), padding=size // 2, groups=c)


DELETION_INSERTION_METRICS = (
    MetricInfo("faith.deletion_auc", "Deletion AUC", "area under the target probability as "
               "the most relevant pixels are set to the mean colour, step by step until none "
               "is left (RISE): low when the heatmap finds the evidence", (0.0, 1.0), "lower",
               "fraction", RISE_REFERENCE, level="object"),
    MetricInfo("faith.insertion_auc", "Insertion AUC", "area under the target probability as "
               "the most relevant pixels are copied onto a blurred image, step by step until "
               "the image is whole (RISE): high when the heatmap finds the evidence",
               (0.0, 1.0), "higher", "fraction", RISE_REFERENCE, level="object"),
)


@register_metric(*DELETION_INSERTION_METRICS)
def deletion_insertion_curves(probability: ProbabilityFn, inputs: torch.Tensor,
                              heatmaps: torch.Tensor, targets: torch.Tensor,
                              config: DeletionInsertionConfig | None = None,
                              clean: np.ndarray | None = None) -> DeletionInsertionCurves:
    """Deletion and insertion curves of one batch.

    Args:
        probability: ``(batch, targets) -> (B,)`` target probabilities (e.g.
            ``faithfulness.TargetProbability``).
        inputs: (N, C, H, W) normalised inputs on the model's device.
        heatmaps: (N, H, W) normalised heatmaps at the inputs' resolution (only their order
            matters).
        targets: (N,) int64 class ids.
        clean: (N,) probabilities on the unmodified inputs, when already computed.
    """
    config = config or DeletionInsertionConfig()
    n, _, h, w = inputs.shape
    if tuple(heatmaps.shape) != (n, h, w):
        raise ValueError(f"expected heatmaps {(n, h, w)}, got {tuple(heatmaps.shape)}")
    device = inputs.device
    targets = torch.as_tensor(targets, device=device).long().view(-1)
    counts = step_counts(h * w, config.steps)
    k = len(counts) - 1
    out = np.full((2, n, k + 1), np.nan)
    if n == 0:
        return DeletionInsertionCurves(counts / max(h * w, 1), out[0], out[1])
    heat = heatmaps.detach().float().cpu().numpy()
    ranks = torch.from_numpy(np.stack([relevance_ranks(m, (config.seed, i))
                                       for i, m in enumerate(heat)])).to(device)
    x = inputs.detach().float()
    blurred = rise_blur(x, config.blur_size, config.blur_sigma)
    out[DELETION, :, 0] = out[INSERTION, :, k] = (
        probability(x, targets).double().cpu().numpy() if clean is None else clean)
    classes, which = torch.unique(targets, return_inverse=True)
    zero = probability(torch.zeros((len(classes), *x.shape[1:]), device=device), classes)
    out[DELETION, :, k] = zero.double().cpu().numpy()[which.cpu().numpy()]
    # Remaining jobs: deletion k = 1 ... K-1, insertion k = 0 ... K-1, per image.
    jobs = np.array([(i, mode, j) for i in range(n) for mode, steps in
                     ((DELETION, range(1, k)), (INSERTION, range(k))) for j in steps],
                    dtype=np.int64).reshape(-1, 3)
    counts_t = torch.as_tensor(counts, device=device)
    for chunk in np.array_split(jobs, max(1, math.ceil(len(jobs) / config.max_batch))):
        if not len(chunk):
            continue
        image = torch.as_tensor(chunk[:, 0], device=device)
        deleting = torch.as_tensor(chunk[:, 1] == DELETION, device=device).view(-1, 1, 1, 1)
        changed = (ranks[image] < counts_t[torch.as_tensor(chunk[:, 2], device=device)]
                   .view(-1, 1, 1)).unsqueeze(1)
        source = x[image]
        kept = torch.where(deleting, source, blurred[image])
        moved = torch.where(deleting, torch.zeros_like(source), source)
        batch = torch.where(changed, moved, kept)
        out[chunk[:, 1], chunk[:, 0], chunk[:, 2]] = (
            probability(batch, targets[image]).double().cpu().numpy())
    return DeletionInsertionCurves(counts / (h * w), out[DELETION], out[INSERTION])
