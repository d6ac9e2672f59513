"""Heatmap generation: CAM and attribution methods over batches, a content-hash cache.

Runs call ``HeatmapEngine(model, method, HeatmapCache.open(dir, enabled)).explain(images)``
per batch; ``compute_heatmaps`` explains already preprocessed inputs without a cache.
"""

from reportgen.heatmaps.base import (
    METHODS,
    Explanation,
    HeatmapBatch,
    HeatmapMethod,
    MethodUnavailable,
    is_method,
    make_method,
    method_class,
    register_method,
)
from reportgen.heatmaps.cache import CacheReport, DisabledCache, HeatmapCache, cache_report
from reportgen.heatmaps.compute import compute_heatmaps
from reportgen.heatmaps.engine import HeatmapEngine

__all__ = ["METHODS", "CacheReport", "DisabledCache", "Explanation", "HeatmapBatch",
           "HeatmapCache", "HeatmapEngine", "HeatmapMethod", "MethodUnavailable",
           "cache_report", "compute_heatmaps", "is_method", "make_method", "method_class",
           "register_method"]
