"""Heatmap normalisation shared by every metric (METRICS.md, "Heatmap normalisation").

1. ``H <- max(H, 0)``; 2. degenerate when ``max(H) <= 1e-12`` or H has a non-finite value;
3. ``H <- H / max(H)``.

Metrics that are ratios of sums do not need step 3 pixel by pixel: they sum the clipped heatmap
and divide the sums by the peak (one division per sample instead of one per pixel). Thresholds
``H >= t`` are evaluated as ``clipped >= t * peak`` in float64 (``threshold_cut``), the same on
every backend. The peak is taken over all pixels, void pixels included: normalisation is a
property of the heatmap, before any mask is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

DEGENERATE_MAX = 1e-12


def resize_heatmaps(heatmaps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, h, w) -> (N, H, W) by bilinear interpolation (no-op when already that size)."""
    if tuple(heatmaps.shape[-2:]) == tuple(size):
        return heatmaps
    return F.interpolate(heatmaps.unsqueeze(1), size=size, mode="bilinear",
                         align_corners=False).squeeze(1)


def prepare_heatmaps_torch(heatmaps: torch.Tensor, size: tuple[int, int] | None = None
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Clip and resize, without dividing by the peak.

    Returns ``(clipped, peak, degenerate)``: (N, H, W) float32 >= 0 (non-finite values set to
    0), (N,) float64 maximum of ``clipped``, (N,) bool per the normalisation rule.
    """
    h = heatmaps.float()
    finite = torch.isfinite(h).flatten(1).all(dim=1)
    h = torch.where(torch.isfinite(h), h, torch.zeros_like(h)).clamp_min(0)
    if size is not None:
        h = resize_heatmaps(h, size).clamp_min(0)
    peak = (h.flatten(1).amax(dim=1) if h[0].numel() else
            torch.zeros(h.shape[0], device=h.device)).double()
    degenerate = ~finite | (peak <= DEGENERATE_MAX)
    return h, peak, degenerate


def normalize_heatmaps(heatmaps: torch.Tensor, size: tuple[int, int] | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Clip negatives, resize to ``size``, divide by the per-sample maximum.

    Args:
        heatmaps: (N, h, w) float, any range; non-finite values are allowed on input.
        size: (H, W) to resize to, or None to keep (h, w).

    Returns:
        ``(normalised, degenerate)``: (N, H, W) float32 in [0, 1], and (N,) bool that is True
        where the heatmap had a non-finite value or a maximum <= 1e-12 (such rows are all 0).
    """
    h, peak, degenerate = prepare_heatmaps_torch(heatmaps, size)
    scale = torch.where(degenerate, torch.zeros_like(peak),
                        1.0 / peak.clamp_min(DEGENERATE_MAX)).float()
    return h * scale.view(-1, 1, 1), degenerate


def prepare_heatmaps(heatmaps: np.ndarray, size: tuple[int, int] | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy version of ``prepare_heatmaps_torch`` (resizing goes through torch on the CPU).

    Args:
        heatmaps: (N, h, w) float, any range, non-finite values allowed.
        size: (H, W) to resize to, or None to keep (h, w).

    Returns:
        ``(clipped, peak, degenerate)``: (N, H, W) float32 >= 0, C-contiguous, with non-finite
        values set to 0; (N,) float64 per-sample maximum of ``clipped``; (N,) bool.
    """
    h = np.ascontiguousarray(heatmaps, dtype=np.float32)
    if h.ndim != 3:
        raise ValueError(f"expected heatmaps (N, h, w), got shape {h.shape}")
    n = h.shape[0]
    if n == 0 or h[0].size == 0:
        return h, np.zeros(n), np.ones(n, bool)
    flat = h.reshape(n, -1)
    high, low = flat.max(axis=1), flat.min(axis=1)  # both propagate NaN
    finite = np.isfinite(high) & np.isfinite(low)
    if not finite.all() or (low < 0).any():
        h = np.where(np.isfinite(h) & (h > 0), h, np.float32(0))
    if size is not None and tuple(h.shape[1:]) != tuple(size):
        h = h if h.flags.writeable else h.copy()  # torch.from_numpy warns on read-only arrays
        h = resize_heatmaps(torch.from_numpy(h), size).clamp_min(0).numpy()
        high = h.reshape(n, -1).max(axis=1)
    peak = np.where(finite, np.maximum(high, 0), 0).astype(np.float64)
    degenerate = ~finite | (peak <= DEGENERATE_MAX)
    return h, peak, degenerate


def threshold_cut(peak, threshold: float, degenerate):
    """Per-sample cut on the clipped heatmap for ``H >= threshold`` (``inf`` where degenerate).

    Works on numpy arrays and on tensors (float64 in, float64 out).
    """
    if isinstance(peak, torch.Tensor):
        return torch.where(degenerate, torch.full_like(peak, float("inf")), threshold * peak)
    return np.where(degenerate, np.inf, threshold * np.asarray(peak, dtype=np.float64))


@dataclass(frozen=True)
class PreparedHeatmaps:
    """Heatmaps after steps 1-2 of the normalisation, at the regions' resolution: what every
    region metric of a batch shares, computed once (``prepare``).

    ``clipped`` (N, H, W) float32 >= 0 with non-finite values set to 0, a numpy array or a
    tensor on the heatmaps' device; ``peak`` (N,) float64 maximum of ``clipped``;
    ``degenerate`` (N,) bool per the normalisation rule (judged on the raw heatmap).
    """

    clipped: Any
    peak: Any
    degenerate: Any

    def __len__(self) -> int:
        return int(self.clipped.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.clipped.shape[1]), int(self.clipped.shape[2])

    def to_numpy(self) -> PreparedHeatmaps:
        """Host arrays (no copy when they already are; one device-to-host copy otherwise)."""
        if not isinstance(self.clipped, torch.Tensor):
            return self
        return PreparedHeatmaps(*(np.ascontiguousarray(x.detach().cpu().numpy())
                                  for x in (self.clipped, self.peak, self.degenerate)))

    def rows(self, index: Any) -> PreparedHeatmaps:
        """The samples ``index`` (an index array or list)."""
        if isinstance(self.clipped, torch.Tensor):
            index = torch.as_tensor(np.asarray(index, dtype=np.int64),
                                    device=self.clipped.device)
        else:
            index = np.asarray(index, dtype=np.int64)
        return PreparedHeatmaps(self.clipped[index], self.peak[index], self.degenerate[index])


def prepare(heatmaps: Any, size: tuple[int, int]) -> PreparedHeatmaps:
    """Clip and resize (N, h, w) heatmaps to ``size`` once, on their own device: a tensor
    stays a tensor (``prepare_heatmaps_torch``), a numpy array stays one."""
    if isinstance(heatmaps, torch.Tensor):
        return PreparedHeatmaps(*prepare_heatmaps_torch(heatmaps, size))
    return PreparedHeatmaps(*prepare_heatmaps(np.asarray(heatmaps), size))


@dataclass(frozen=True)
class ClippedBatch:
    """A CPU batch after step 1 of the normalisation, shared by its size groups
    (``prepare_group``): ``h`` (N, h, w) float32 with negatives and non-finite values set to 0,
    ``finite`` (N,) bool (the raw heatmap had no non-finite value)."""

    h: np.ndarray
    finite: np.ndarray


def clip_batch(heatmaps: Any) -> ClippedBatch | None:
    """Clip a CPU tensor batch once in numpy (as ``prepare_heatmaps_torch``: few parallel torch
    calls, which on a loaded machine can each wait tens of ms for their worker threads); None
    for a numpy array, a tensor on another device or an empty batch (``prepare_group`` then
    prepares each group on its own)."""
    if not isinstance(heatmaps, torch.Tensor) or heatmaps.device.type != "cpu":
        return None
    h = _float_numpy(heatmaps.detach())
    n = h.shape[0]
    if n == 0 or h[0].size == 0:
        return None
    flat = h.reshape(n, -1)
    high, low = flat.max(axis=1), flat.min(axis=1)  # both propagate NaN
    finite = np.isfinite(high) & np.isfinite(low)
    if not finite.all() or (low < 0).any():  # torch.where(finite, h, 0).clamp_min(0)
        h = np.where(np.isfinite(h) & ~(h < 0), h, np.float32(0))
    return ClippedBatch(h, finite)


def prepare_group(heatmaps: Any, clipped: ClippedBatch | None, idx: list[int],
                  size: tuple[int, int]) -> PreparedHeatmaps:
    """``prepare(heatmaps[idx], size)`` with the same values; ``clipped`` is
    ``clip_batch(heatmaps)``: when given, the group is only resized (one torch call) and
    finished in numpy, host arrays out, as the region scorers read them."""
    if clipped is None:
        return prepare(heatmaps[idx], size)
    h, n = clipped.h, clipped.h.shape[0]
    part = h if list(idx) == list(range(n)) else h[np.asarray(idx, dtype=np.int64)]
    if tuple(part.shape[1:]) == tuple(size):
        out = part.copy()
    else:
        out = resize_heatmaps(torch.from_numpy(np.ascontiguousarray(part)), size).numpy()
        if out.min() < 0:  # as clamp_min(0): -0.0 stays
            out[out < 0] = 0
    peak = out.reshape(len(idx), -1).max(axis=1).astype(np.float64)
    degenerate = ~clipped.finite[idx] | (peak <= DEGENERATE_MAX)
    return PreparedHeatmaps(np.ascontiguousarray(out), peak, degenerate)


def prepare_groups(heatmaps: Any, groups: list[tuple[list[int], tuple[int, int]]]
                   ) -> list[PreparedHeatmaps]:
    """``prepare(heatmaps[idx], size)`` for each ``(idx, size)`` of ``groups``, with the same
    values, the batch clipped once (``clip_batch``, ``prepare_group``)."""
    clipped = clip_batch(heatmaps)
    return [prepare_group(heatmaps, clipped, idx, size) for idx, size in groups]


def _float_numpy(x: torch.Tensor) -> np.ndarray:
    """A CPU tensor as a float32 numpy array (half, bfloat16 and float64 converted)."""
    return x.float().numpy() if x.dtype != torch.float32 else x.numpy()
