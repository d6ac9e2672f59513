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

from reportgen.metrics.normalize import DEGENERATE_MAX, normalize_heatmaps
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
               "on the region", (0.0, 1.0), "higher", "share", PQAH_REFERENCE),
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
    if threshold is not None and not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if isinstance(heatmaps, torch.Tensor) or isinstance(labels, torch.Tensor):
        return _score_torch(_as_tensor(heatmaps), _as_tensor(labels), num_regions, threshold,
                            ignore_index, min_area)
    return _score_numpy(np.asarray(heatmaps), np.asarray(labels), num_regions, threshold,
                        ignore_index, min_area)


def _check_shapes(h_shape, lab_shape) -> None:
    if len(h_shape) != 3 or len(lab_shape) != 3 or h_shape[0] != lab_shape[0]:
        raise ValueError(f"expected heatmaps (N, h, w) and labels (N, H, W) with the same N, got "
                         f"{tuple(h_shape)} and {tuple(lab_shape)}")


def _unknown_labels(found: list[int], num_regions: int, ignore_index: int) -> ValueError:
    return ValueError(f"label ids {found[:10]} are outside 0..{num_regions - 1} and are not "
                      f"ignore_index={ignore_index}")


def _finish(heat, area, total, degenerate, min_area_px, xp):
    """P, R, PH from per-(sample, region) heat sums; NaN for absent regions and degenerate rows.

    ``heat`` (N, R) and ``total`` (N, 1) are sums of the *unnormalised* clipped heatmap divided
    by its peak, i.e. of the normalised heatmap.
    """
    absent = (area < min_area_px) | degenerate[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = xp.where(absent, xp.nan, heat / total)
        recall = xp.where(absent, xp.nan, heat / xp.clip(area, 1, None))
        ph = xp.where(absent, xp.nan, 2 * heat / (total + area))
    return precision, recall, ph


def _score_numpy(h, lab, num_regions, threshold, ignore_index, min_area) -> RegionScores:
    _check_shapes(h.shape, lab.shape)
    n, height, width = lab.shape
    h = h.astype(np.float32, copy=False)
    # max and min propagate NaN and +-inf, so they detect non-finite heatmaps for free.
    low = h.reshape(n, -1).min(axis=1)
    peak = h.reshape(n, -1).max(axis=1).astype(np.float64)
    if h.shape[1:] != lab.shape[1:] or not (np.isfinite(low).all() and np.isfinite(peak).all()):
        # Resizing and non-finite handling share the torch implementation of the rule.
        hn, degenerate = normalize_heatmaps(torch.from_numpy(np.ascontiguousarray(h)),
                                            size=(height, width))
        h, degenerate, peak = hn.numpy(), degenerate.numpy(), np.ones(n)
    else:
        if (low < 0).any():
            h = np.maximum(h, 0)
            peak = np.maximum(peak, 0)
        degenerate = peak <= DEGENERATE_MAX
    if threshold is not None:
        h = (h >= threshold * peak[:, None, None]).astype(np.float32)
        h[degenerate] = 0
        peak = np.ones(n)

    lab = lab.astype(np.intp, copy=False)
    void = lab == ignore_index
    if ((lab < 0) | (lab >= num_regions))[~void].any():
        bad = lab[~void & ((lab < 0) | (lab >= num_regions))]
        raise _unknown_labels(np.unique(bad).tolist(), num_regions, ignore_index)
    # One bin per (sample, region) plus a trash bin for void pixels: one pass per batch.
    bins = n * num_regions
    index = lab + (np.arange(n, dtype=np.intp) * num_regions)[:, None, None]
    index[void] = bins
    index = index.ravel()
    heat = np.bincount(index, weights=h.ravel(), minlength=bins + 1)[:bins].reshape(n, -1)
    area = np.bincount(index, minlength=bins + 1)[:bins].reshape(n, -1).astype(np.float64)
    safe_peak = np.where(degenerate, 1.0, peak)[:, None]
    heat = heat / safe_peak
    total = heat.sum(axis=1, keepdims=True)
    degenerate = degenerate | (total[:, 0] <= 0)
    precision, recall, ph = _finish(heat, area, total, degenerate,
                                    _min_area_pixels(min_area, height * width), np)
    return RegionScores(precision, recall, ph, area.astype(np.int64), degenerate)


def _score_torch(h, lab, num_regions, threshold, ignore_index, min_area) -> RegionScores:
    lab = lab.to(h.device).long()
    _check_shapes(h.shape, lab.shape)
    n, height, width = lab.shape
    h, degenerate = normalize_heatmaps(h, size=(height, width))
    if threshold is not None:
        h = (h >= threshold).to(h.dtype) * (~degenerate).view(-1, 1, 1)

    void = lab == ignore_index
    bad = ~void & ((lab < 0) | (lab >= num_regions))
    if bool(bad.any()):
        raise _unknown_labels(torch.unique(lab[bad]).tolist(), num_regions, ignore_index)
    bins = n * num_regions
    offsets = torch.arange(n, device=h.device).view(-1, 1, 1) * num_regions
    index = torch.where(void, torch.full_like(lab, bins), lab + offsets).flatten()
    heat = torch.zeros(bins + 1, dtype=torch.float64, device=h.device)
    heat.scatter_add_(0, index, h.flatten().double())
    heat = heat[:bins].view(n, num_regions)
    area = torch.bincount(index, minlength=bins + 1)[:bins].view(n, num_regions).double()
    total = heat.sum(dim=1, keepdim=True)
    degenerate = degenerate | (total.squeeze(1) <= 0)
    precision, recall, ph = _finish(heat, area, total, degenerate,
                                    _min_area_pixels(min_area, height * width), _TorchOps)
    return RegionScores(precision, recall, ph, area.long(), degenerate)


class _TorchOps:
    """The three numpy functions ``_finish`` uses, for tensors."""

    nan = float("nan")

    @staticmethod
    def where(cond, a, b):
        a = torch.as_tensor(a, dtype=torch.float64, device=cond.device)
        return torch.where(cond, a, torch.as_tensor(b, dtype=torch.float64, device=cond.device))

    @staticmethod
    def clip(x, lo, hi):
        return x.clamp(lo, hi)
