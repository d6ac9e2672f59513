"""Metrics: pure, batched functions with their metadata registered next to them.

Registration is explicit: importing any module of this package (``reportgen.metrics.registry``
included) runs this file, which imports every metric module, so the registry is complete
whatever was imported first. A new metric module is added to the import below.
"""

from reportgen.metrics import (  # noqa: F401  (register their metrics)
    area,
    background_swap,
    deletion_insertion,
    faithfulness,
    localization,
    part_removal,
    pqah,
    road,
    scorers,
)
from reportgen.metrics.registry import METRICS, MetricInfo, get_metric

__all__ = ["METRICS", "MetricInfo", "get_metric"]
