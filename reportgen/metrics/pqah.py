"""PQAH: part-based quantitative analysis of heatmaps (Tursun et al., arXiv 2405.13264).

Per sample and region r, with the normalised heatmap H (METRICS.md):

* precision ``P_r = sum(H * M_r) / sum(H)`` - the share of the heat on region r
* recall    ``R_r = sum(H * M_r) / |M_r|``  - the mean heat on region r
* ``PH_r = 2 P_r R_r / (P_r + R_r) = 2 sum(H * M_r) / (sum(H) + |M_r|)``

All regions of a batch are scored in one scatter-add pass over the label maps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from reportgen.metrics.normalize import normalize_heatmaps
from reportgen.metrics.registry import MetricInfo, register_metric

PQAH_REFERENCE = "Tursun et al., Part-based Quantitative Analysis for Heatmaps, arXiv 2405.13264"


@dataclass(frozen=True)
class RegionScores:
    """Scores of N samples on R regions (column 0 = background).

    ``precision``, ``recall``, ``ph``: (N, R) float, NaN where the region is absent (fewer than
    ``min_area`` pixels) or the sample is degenerate; ``area``: (N, R) pixel counts;
    ``degenerate``: (N,) bool. Arrays are numpy for numpy input, torch (on the input's
    device) for torch input.
    """

    precision: Any
    recall: Any
    ph: Any
    area: Any
    degenerate: Any


def _as_tensor(x: Any, device: torch.device | None = None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x if device is None else x.to(device)
    return torch.as_tensor(np.asarray(x), device=device)


def _min_area_pixels(min_area: float, num_pixels: int) -> float:
    if min_area < 0:
        raise ValueError(f"min_area must be >= 0, got {min_area}")
    if isinstance(min_area, float) and 0 < min_area < 1:
        return min_area * num_pixels
    return float(min_area)


@register_metric(
    MetricInfo("pqah.ph", "PH (part F1)", "F1 overlap of the heatmap with the region: high "
               "when the heat covers the region and little else", (0.0, 1.0), "higher",
               "fraction", PQAH_REFERENCE),
    MetricInfo("pqah.precision", "Heat share", "share of the heatmap's total heat that lies "
               "on the region", (0.0, 1.0), "higher", "fraction", PQAH_REFERENCE),
    MetricInfo("pqah.recall", "Region coverage", "mean heat over the region's pixels: how "
               "strongly the region is covered", (0.0, 1.0), "higher", "fraction",
               PQAH_REFERENCE),
)
def score_regions(heatmaps: Any, labels: Any, num_regions: int, *, threshold: float | None = None,
                  ignore_index: int = 255, min_area: float = 1) -> RegionScores:
    """Score heatmaps against integer label maps.

    Args:
        heatmaps: (N, h, w) float, any range; resized (bilinear) to the labels' (H, W).
        labels: (N, H, W) int; 0 = background, 1..num_regions-1 = parts, ``ignore_index`` =
            void (dropped from every sum). Any other value raises ValueError.
        num_regions: R, the number of columns (background + parts).
        threshold: None for soft PH; t in (0, 1] for binary PH on ``H >= t``.
        min_area: a region is present when it has at least this many pixels; a float in
            (0, 1) is a fraction of the H * W pixels.

    Returns:
        RegionScores. A sample whose heatmap is degenerate (non-finite, max <= 1e-12, or no
        heat outside void pixels) has NaN everywhere and ``degenerate`` True.
    """
    numpy_in = not isinstance(heatmaps, torch.Tensor)
    h = _as_tensor(heatmaps)
    lab = _as_tensor(labels, device=h.device).long()
    if h.ndim != 3 or lab.ndim != 3 or h.shape[0] != lab.shape[0]:
        raise ValueError(f"expected heatmaps (N, h, w) and labels (N, H, W) with the same N, got "
                         f"{tuple(h.shape)} and {tuple(lab.shape)}")
    if threshold is not None and not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    n, height, width = lab.shape
    h, degenerate = normalize_heatmaps(h, size=(height, width))
    if threshold is not None:
        h = (h >= threshold).to(h.dtype) * (~degenerate).view(-1, 1, 1)

    void = lab == ignore_index
    bad = ~void & ((lab < 0) | (lab >= num_regions))
    if bool(bad.any()):
        found = torch.unique(lab[bad]).tolist()[:10]
        raise ValueError(f"label ids {found} are outside 0..{num_regions - 1} and are not "
                         f"ignore_index={ignore_index}")

    # One bin per (sample, region) plus a trash bin for void pixels.
    bins = n * num_regions
    offsets = torch.arange(n, device=h.device).view(-1, 1, 1) * num_regions
    index = torch.where(void, torch.full_like(lab, bins), lab + offsets).flatten()
    heat = torch.bincount(index, weights=h.flatten().double(), minlength=bins + 1)[:bins]
    area = torch.bincount(index, minlength=bins + 1)[:bins]
    heat = heat.view(n, num_regions)
    area = area.view(n, num_regions).double()

    total = heat.sum(dim=1, keepdim=True)
    degenerate = degenerate | (total.squeeze(1) <= 0)
    absent = (area < _min_area_pixels(min_area, height * width)) | degenerate.view(-1, 1)
    nan = torch.tensor(float("nan"), dtype=heat.dtype, device=heat.device)
    precision = torch.where(absent, nan, heat / total.clamp_min(1e-300))
    recall = torch.where(absent, nan, heat / area.clamp_min(1))
    ph = torch.where(absent, nan, 2 * heat / (total + area).clamp_min(1e-300))

    if numpy_in:
        return RegionScores(precision.cpu().numpy(), recall.cpu().numpy(), ph.cpu().numpy(),
                            area.long().cpu().numpy(), degenerate.cpu().numpy())
    return RegionScores(precision, recall, ph, area.long(), degenerate)
