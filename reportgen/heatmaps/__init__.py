"""Heatmap generation: CAM methods over batches, with the model's predictions."""

from reportgen.heatmaps.cam import METHODS, HeatmapBatch, compute_heatmaps

__all__ = ["METHODS", "HeatmapBatch", "compute_heatmaps"]
