"""Heatmap normalisation shared by every metric (METRICS.md, "Heatmap normalisation")."""

from __future__ import annotations

import torch
import torch.nn.functional as F

DEGENERATE_MAX = 1e-12


def resize_heatmaps(heatmaps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, h, w) -> (N, H, W) by bilinear interpolation (no-op when already that size)."""
    if tuple(heatmaps.shape[-2:]) == tuple(size):
        return heatmaps
    return F.interpolate(heatmaps.unsqueeze(1), size=size, mode="bilinear",
                         align_corners=False).squeeze(1)


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
    h = heatmaps.float()
    finite = torch.isfinite(h).flatten(1).all(dim=1)
    h = torch.where(torch.isfinite(h), h, torch.zeros_like(h)).clamp_min(0)
    if size is not None:
        h = resize_heatmaps(h, size).clamp_min(0)
    peak = h.flatten(1).amax(dim=1)
    degenerate = ~finite | (peak <= DEGENERATE_MAX)
    scale = torch.where(degenerate, torch.zeros_like(peak), 1.0 / peak.clamp_min(DEGENERATE_MAX))
    return h * scale.view(-1, 1, 1), degenerate
