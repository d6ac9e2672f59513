"""PQAH: part-based quantitative analysis of heatmaps (Tursun et al., arXiv 2405.13264).

Per sample and region r, with the normalised heatmap H (METRICS.md):

* precision ``P_r = sum(H * M_r) / sum(H)`` - the share of the heat on region r
* recall    ``R_r = sum(H * M_r) / |M_r|``  - the mean heat on region r
* ``PH_r = 2 P_r R_r / (P_r + R_r) = 2 sum(H * M_r) / (sum(H) + |M_r|)``

``score_regions`` scores label maps (one label per pixel) in one fused pass over each batch
(``_kernels.label_sums``); ``score_masks`` scores boolean masks that may overlap (PASCAL-Part:
eyes inside head), each against the whole heatmap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from reportgen.metrics import _kernels
from reportgen.metrics.normalize import (
    DEGENERATE_MAX,
    PreparedHeatmaps,
    prepare_heatmaps,
    prepare_heatmaps_torch,
    threshold_cut,
)
from reportgen.metrics.registry import MetricInfo, register_metric

PQAH_REFERENCE = "Tursun et al., Part-based Quantitative Analysis for Heatmaps, arXiv 2405.13264"


@dataclass(frozen=True)
class RegionScores:
    """Scores of N samples on R regions (column 0 = background).

    ``precision``, ``recall``, ``ph``: (N, R) float64, NaN where the region is absent (fewer
    than ``min_area`` pixels) or the sample is degenerate; ``area``: (N, R) int64 pixel counts
    (void pixels excluded); ``degenerate``: (N,) bool. Arrays are numpy for numpy input, torch
    (on the input's device) for torch input.
    """

    precision: Any
    recall: Any
    ph: Any
    area: Any
    degenerate: Any


def _as_tensor(x: Any, device: torch.device | None = None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach() if device is None else x.detach().to(device)
    return torch.as_tensor(np.asarray(x), device=device)


def _float_numpy(x: torch.Tensor) -> np.ndarray:
    """A CPU tensor as a numpy array; half and bfloat16 (which numpy lacks) become float32."""
    if x.is_floating_point() and x.dtype not in (torch.float32, torch.float64):
        x = x.float()
    return x.numpy()


def _min_area_pixels(min_area: float, num_pixels: int) -> float:
    if min_area < 0:
        raise ValueError(f"min_area must be >= 0, got {min_area}")
    if isinstance(min_area, float) and 0 < min_area < 1:
        return min_area * num_pixels
    return float(min_area)


def _check_threshold(threshold: float | None) -> None:
    if threshold is not None and not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")


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
            void (dropped from every sum). Any other value raises ValueError. uint8 labels
            take the fastest path (no conversion).
        num_regions: R, the number of columns (background + parts).
        threshold: None for soft PH; t in (0, 1] for binary PH on ``H >= t``.
        min_area: a region is present when it has at least this many pixels; a float in
            (0, 1) is a fraction of the H * W pixels.

    Returns:
        RegionScores. A sample whose heatmap is degenerate (non-finite, max <= 1e-12, or no
        heat outside void pixels) has NaN everywhere and ``degenerate`` True.
    """
    _check_threshold(threshold)
    if num_regions < 1:
        raise ValueError(f"num_regions must be >= 1, got {num_regions}")
    if isinstance(heatmaps, PreparedHeatmaps):
        return _score_prepared(heatmaps, labels, num_regions, threshold, ignore_index, min_area)
    if isinstance(heatmaps, torch.Tensor) or isinstance(labels, torch.Tensor):
        device = (heatmaps if isinstance(heatmaps, torch.Tensor) else labels).device
        h, lab = _as_tensor(heatmaps, device), _as_tensor(labels, device)
        if device.type == "cpu" and num_regions <= _kernels.BINS:
            scores = _score_numpy(_float_numpy(h), lab.numpy(), num_regions, threshold,
                                  ignore_index, min_area)
            return RegionScores(*(torch.from_numpy(np.asarray(a)) for a in (
                scores.precision, scores.recall, scores.ph, scores.area, scores.degenerate)))
        return _score_torch(h, lab, num_regions, threshold, ignore_index, min_area)
    h, lab = np.asarray(heatmaps), np.asarray(labels)
    if num_regions > _kernels.BINS:
        scores = _score_torch(_as_tensor(h), _as_tensor(lab), num_regions, threshold,
                              ignore_index, min_area)
        return RegionScores(*(np.asarray(a.numpy()) for a in (
            scores.precision, scores.recall, scores.ph, scores.area, scores.degenerate)))
    return _score_numpy(h, lab, num_regions, threshold, ignore_index, min_area)


def _score_prepared(prepared: PreparedHeatmaps, labels: Any, num_regions: int, threshold,
                    ignore_index: int, min_area: float) -> RegionScores:
    """Already clipped and resized heatmaps (host arrays out): on the CPU the compiled
    kernel, on another device (or beyond 256 regions) the scatter-add, on the heatmaps'
    device."""
    on_device = (isinstance(prepared.clipped, torch.Tensor)
                 and prepared.clipped.device.type != "cpu")
    if on_device or num_regions > _kernels.BINS:
        h = _as_tensor(prepared.clipped)
        scores = _score_torch(h, _as_tensor(labels, h.device), num_regions, threshold,
                              ignore_index, min_area)
        return RegionScores(*(np.asarray(a.cpu().numpy()) for a in (
            scores.precision, scores.recall, scores.ph, scores.area, scores.degenerate)))
    host = prepared.to_numpy()
    return _score_numpy(host.clipped, np.asarray(labels), num_regions, threshold, ignore_index,
                        min_area, degenerate=host.degenerate)


def _check_shapes(h_shape, lab_shape) -> None:
    if len(h_shape) != 3 or len(lab_shape) != 3 or h_shape[0] != lab_shape[0]:
        raise ValueError(f"expected heatmaps (N, h, w) and labels (N, H, W) with the same N, got "
                         f"{tuple(h_shape)} and {tuple(lab_shape)}")


def _unknown_labels(found: list[int], num_regions: int, ignore_index: int) -> ValueError:
    return ValueError(f"label ids {found[:10]} are outside 0..{num_regions - 1} and are not "
                      f"ignore_index={ignore_index}")


def _finish(heat, area, total, degenerate, min_area_px, xp):
    """P, R, PH from per-(sample, region) sums of the normalised heatmap; NaN for absent
    regions and degenerate rows. ``heat`` and ``area`` (N, R), ``total`` (N, 1)."""
    absent = (area < min_area_px) | degenerate[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = xp.where(absent, xp.nan, heat / total)
        recall = xp.where(absent, xp.nan, heat / xp.clip(area, 1, None))
        ph = xp.where(absent, xp.nan, 2 * heat / (total + area))
    return precision, recall, ph


def _label_bytes(lab: np.ndarray, num_regions: int, ignore_index: int
                 ) -> tuple[np.ndarray, int | None]:
    """Labels as C-contiguous uint8 (no copy when they already are) and the void bin.

    Non-uint8 labels are validated here (unknown ids raise) and void pixels move to bin 255;
    uint8 labels are validated from the kernel's counts, at no extra pass.
    """
    if 0 <= ignore_index < num_regions:
        raise ValueError(f"ignore_index={ignore_index} is also a region id (0..{num_regions - 1})")
    if lab.dtype == np.uint8:
        return np.ascontiguousarray(lab), ignore_index if 0 <= ignore_index < 256 else None
    if not (np.issubdtype(lab.dtype, np.integer) or lab.dtype == np.bool_):
        raise TypeError(f"labels must be integers, got {lab.dtype}")
    lab = lab.astype(np.int64, copy=False) if lab.dtype == np.bool_ else lab
    void = lab == ignore_index
    bad = ~void & ((lab < 0) | (lab >= num_regions))
    if bad.any():
        raise _unknown_labels(np.unique(lab[bad]).tolist(), num_regions, ignore_index)
    # num_regions <= 255 here (256 would leave no bin for void pixels unless there are none).
    if num_regions == 256 and void.any():
        raise ValueError("256 regions plus void pixels do not fit in 8-bit labels")
    return np.where(void, np.uint8(255), lab).astype(np.uint8), 255 if void.any() else None


def _score_numpy(h, lab, num_regions, threshold, ignore_index, min_area,
                 degenerate: np.ndarray | None = None) -> RegionScores:
    """``degenerate``: given when ``h`` is already prepared (clipped, at the labels' size)."""
    _check_shapes(h.shape, lab.shape)
    n, height, width = lab.shape
    lab8, void_bin = _label_bytes(lab, num_regions, ignore_index)
    if h.shape[1:] != lab.shape[1:]:
        h, _, degenerate = prepare_heatmaps(h, (height, width))
    else:
        h = np.ascontiguousarray(h, dtype=np.float32)
        degenerate = np.zeros(n, bool) if degenerate is None else np.asarray(degenerate, bool)
    h2, lab2 = h.reshape(n, height * width), lab8.reshape(n, height * width)
    sums, counts, peak, nonfinite = _kernels.label_sums(h2, lab2)
    other = counts[:, num_regions:].sum(axis=0)
    if void_bin is not None and void_bin >= num_regions:
        other[void_bin - num_regions] = 0
    if other.any():
        raise _unknown_labels((np.flatnonzero(other) + num_regions).tolist(), num_regions,
                              ignore_index)
    degenerate = degenerate | nonfinite | (peak <= DEGENERATE_MAX)
    area = counts[:, :num_regions]
    if threshold is None:
        heat = sums[:, :num_regions] / np.where(degenerate, 1.0, peak)[:, None]
    else:
        cut = threshold_cut(peak, threshold, degenerate)
        heat = _kernels.label_counts_at_least(h2, lab2, cut)[:, :num_regions].astype(np.float64)
    total = heat.sum(axis=1, keepdims=True)
    degenerate = degenerate | ~(total[:, 0] > 0)
    precision, recall, ph = _finish(heat, area, total, degenerate,
                                    _min_area_pixels(min_area, height * width), np)
    return RegionScores(precision, recall, ph, area, degenerate)


def _score_torch(h, lab, num_regions, threshold, ignore_index, min_area) -> RegionScores:
    """Any device, any number of regions: one scatter-add per batch."""
    if 0 <= ignore_index < num_regions:
        raise ValueError(f"ignore_index={ignore_index} is also a region id (0..{num_regions - 1})")
    lab = lab.to(h.device).long()
    _check_shapes(h.shape, lab.shape)
    n, height, width = lab.shape
    h, peak, degenerate = prepare_heatmaps_torch(h, (height, width))
    if threshold is None:
        weights = h.double()
    else:
        cut = threshold_cut(peak, threshold, degenerate)
        weights = (h.double() >= cut.view(-1, 1, 1)).double()

    void = lab == ignore_index
    bad = ~void & ((lab < 0) | (lab >= num_regions))
    if bool(bad.any()):
        raise _unknown_labels(torch.unique(lab[bad]).tolist(), num_regions, ignore_index)
    bins = n * num_regions
    offsets = torch.arange(n, device=h.device).view(-1, 1, 1) * num_regions
    index = torch.where(void, torch.full_like(lab, bins), lab + offsets).flatten()
    heat = torch.zeros(bins + 1, dtype=torch.float64, device=h.device)
    heat.scatter_add_(0, index, weights.flatten())
    heat = heat[:bins].view(n, num_regions)
    if threshold is None:
        heat = heat / torch.where(degenerate, torch.ones_like(peak), peak).view(-1, 1)
    area = torch.bincount(index, minlength=bins + 1)[:bins].view(n, num_regions)
    total = heat.sum(dim=1, keepdim=True)
    degenerate = degenerate | ~(total.squeeze(1) > 0)
    precision, recall, ph = _finish(heat, area.double(), total, degenerate,
                                    _min_area_pixels(min_area, height * width), _TorchOps)
    return RegionScores(precision, recall, ph, area, degenerate)


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


# --- overlapping masks ----------------------------------------------------------------------


def score_masks(heatmaps: Any, part_masks: Any, background: Any, *, void: Any = None,
                threshold: float | None = None, min_area: float = 1) -> RegionScores:
    """Score heatmaps against boolean region masks that may overlap (PASCAL-Part).

    Args:
        heatmaps: (N, h, w) float, any range; resized (bilinear) to the masks' (H, W).
        part_masks: (N, K, H, W) bool, one mask per part; parts may overlap and need not
            cover the object. Each part is scored against the whole heatmap.
        background: (N, H, W) bool, the pixels outside the object.
        void: (N, H, W) bool or None: pixels dropped from every sum (and from every mask).
        threshold, min_area: as in ``score_regions``.

    Returns:
        RegionScores with R = K + 1 columns: 0 = background, 1..K = the parts in order.
        ``sum(H)`` runs over all non-void pixels, whichever masks they belong to.
    """
    _check_threshold(threshold)
    if isinstance(heatmaps, PreparedHeatmaps):
        if isinstance(heatmaps.clipped, torch.Tensor) and heatmaps.clipped.device.type != "cpu":
            device = heatmaps.clipped.device
            scores = _score_masks_torch(
                heatmaps.clipped, *(None if x is None else _as_tensor(x, device)
                                    for x in (part_masks, background, void)), threshold, min_area)
            return RegionScores(*(np.asarray(a.cpu().numpy()) for a in (
                scores.precision, scores.recall, scores.ph, scores.area, scores.degenerate)))
        host = heatmaps.to_numpy()
        return _score_masks_numpy(host.clipped, np.asarray(part_masks), np.asarray(background),
                                  None if void is None else np.asarray(void), threshold,
                                  min_area, prepared=host)
    tensors = [x for x in (heatmaps, part_masks, background, void) if isinstance(x, torch.Tensor)]
    if tensors:
        device = (heatmaps if isinstance(heatmaps, torch.Tensor) else tensors[0]).device
        args = [None if x is None else _as_tensor(x, device)
                for x in (heatmaps, part_masks, background, void)]
        if device.type == "cpu":
            h, parts, background, void = args
            scores = _score_masks_numpy(_float_numpy(h), parts.numpy(), background.numpy(),
                                        None if void is None else void.numpy(), threshold,
                                        min_area)
            return RegionScores(*(torch.from_numpy(np.asarray(a)) for a in (
                scores.precision, scores.recall, scores.ph, scores.area, scores.degenerate)))
        return _score_masks_torch(*args, threshold, min_area)
    return _score_masks_numpy(np.asarray(heatmaps), np.asarray(part_masks),
                              np.asarray(background), None if void is None else np.asarray(void),
                              threshold, min_area)


def _check_mask_shapes(h_shape, parts_shape, bg_shape, void_shape) -> None:
    ok = (len(h_shape) == 3 and len(parts_shape) == 4 and tuple(bg_shape) == (
        parts_shape[0], *parts_shape[2:]) and h_shape[0] == parts_shape[0]
        and (void_shape is None or tuple(void_shape) == tuple(bg_shape)))
    if not ok:
        raise ValueError(f"expected heatmaps (N, h, w), part_masks (N, K, H, W), background and "
                         f"void (N, H, W), got {tuple(h_shape)}, {tuple(parts_shape)}, "
                         f"{tuple(bg_shape)}, {None if void_shape is None else tuple(void_shape)}")


def _score_masks_numpy(h, parts, background, void, threshold, min_area,
                       prepared: PreparedHeatmaps | None = None) -> RegionScores:
    """``prepared``: the host PreparedHeatmaps ``h`` came from (skips the preparation)."""
    _check_mask_shapes(h.shape, parts.shape, background.shape,
                       None if void is None else void.shape)
    n, k, height, width = parts.shape
    parts, background = parts.astype(bool, copy=False), background.astype(bool, copy=False)
    if prepared is not None and prepared.size == (height, width):
        h, peak, degenerate = prepared.clipped, prepared.peak, prepared.degenerate
    else:
        h, peak, degenerate = prepare_heatmaps(h, (height, width))
    if threshold is not None:
        h = (h >= threshold_cut(peak, threshold, degenerate)[:, None, None]).astype(np.float32)
        peak = np.ones(n)
    if void is not None:
        valid = ~void.astype(bool, copy=False)
        h = h * valid
        parts, background = parts & valid[:, None], background & valid
    p = height * width
    h2 = h.reshape(n, p)
    part_sums, part_area = _kernels.mask_sums(h2, parts.reshape(n, k, p))
    bg_sums, bg_area = _kernels.mask_sums(h2, background.reshape(n, 1, p))
    scale = np.where(degenerate, 1.0, peak)[:, None]
    heat = np.concatenate([bg_sums, part_sums], axis=1) / scale
    area = np.concatenate([bg_area, part_area], axis=1)
    total = h2.sum(axis=1, dtype=np.float64)[:, None] / scale
    degenerate = degenerate | ~(total[:, 0] > 0)
    precision, recall, ph = _finish(heat, area, total, degenerate,
                                    _min_area_pixels(min_area, p), np)
    return RegionScores(precision, recall, ph, area, degenerate)


def _score_masks_torch(h, parts, background, void, threshold, min_area) -> RegionScores:
    _check_mask_shapes(h.shape, parts.shape, background.shape,
                       None if void is None else void.shape)
    n, k, height, width = parts.shape
    h, peak, degenerate = prepare_heatmaps_torch(h, (height, width))
    w = h.double()
    if threshold is not None:
        w = (w >= threshold_cut(peak, threshold, degenerate).view(-1, 1, 1)).double()
        peak = torch.ones_like(peak)
    masks = torch.cat([background.bool()[:, None], parts.bool()], dim=1)
    if void is not None:
        valid = ~void.bool()
        w = w * valid
        masks = masks & valid[:, None]
    p = height * width
    w2, masks = w.reshape(n, p), masks.reshape(n, k + 1, p)
    # Chunks of samples bound the float64 copy of the masks to about 64 M values.
    step = max(1, (1 << 26) // max(1, (k + 1) * p))
    heat = torch.cat([torch.einsum("nkp,np->nk", masks[i:i + step].double(), w2[i:i + step])
                      for i in range(0, n, step)]) if n else w2.new_zeros((0, k + 1))
    area = masks.sum(dim=2)
    scale = torch.where(degenerate, torch.ones_like(peak), peak).view(-1, 1)
    heat = heat / scale
    total = w2.sum(dim=1, keepdim=True) / scale
    degenerate = degenerate | ~(total.squeeze(1) > 0)
    precision, recall, ph = _finish(heat, area.double(), total, degenerate,
                                    _min_area_pixels(min_area, p), _TorchOps)
    return RegionScores(precision, recall, ph, area, degenerate)
