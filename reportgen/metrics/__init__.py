"""Metrics: pure, batched functions with their metadata registered next to them."""

from reportgen.metrics import (  # noqa: F401  (register their metrics)
    faithfulness,
    localization,
    pqah,
    road,
)
from reportgen.metrics.registry import METRICS, MetricInfo, get_metric

__all__ = ["METRICS", "MetricInfo", "get_metric"]
