"""Metrics: pure, batched functions with their metadata registered next to them."""

from reportgen.metrics import pqah  # noqa: F401  (registers the PQAH metrics)
from reportgen.metrics.registry import METRICS, MetricInfo, get_metric

__all__ = ["METRICS", "MetricInfo", "get_metric"]
