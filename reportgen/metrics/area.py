"""Region area share: the heat share a uniform heatmap would give each region (the yardstick
of the neglected-part rule and of the area-share columns)."""

from __future__ import annotations

import numpy as np

from reportgen.metrics.registry import MetricInfo, register_metric


@register_metric(MetricInfo(
    "region.area_share", "Area share", "share of the image's (non-void) pixels that the region "
    "covers: the heat share a uniform heatmap would give it", (0.0, 1.0), "neither", "share",
    "reportgen"))
def area_share(area: np.ndarray, present: np.ndarray, valid: np.ndarray | None = None
               ) -> np.ndarray:
    """(N, R) pixel counts -> (N, R) share of each sample's non-void pixels; NaN where absent.

    ``valid`` (N,) non-void pixel counts; by default the row sums of ``area``, which is right
    only when regions do not overlap (label maps).
    """
    valid = (area.sum(axis=1) if valid is None else valid)[:, None].astype(np.float64)
    return np.where(present, area / np.maximum(valid, 1), np.nan)
