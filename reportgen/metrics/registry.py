"""Metric metadata, declared next to each metric and registered by decorator.

Tables, figures, prompts and the narrative guard read a metric's meaning, range and direction
from here; nothing else keeps a copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

Direction = Literal["higher", "lower", "neither"]


@dataclass(frozen=True)
class MetricInfo:
    """Metadata of one metric.

    ``id`` is the stable id used in fact ids (``pqah.ph``); ``level`` says whether the metric
    has one value per region (``region``) or per sample (``object``); ``unit`` is
    ``fraction`` (shown with two decimals), ``share`` (a fraction of a whole, shown as a
    percentage) or ``percent``. ``summary``: see the field.
    """

    id: str
    name: str
    meaning: str
    range: tuple[float, float]
    direction: Direction
    unit: str
    reference: str
    level: Literal["region", "object"] = "region"
    #: The statistic that summarises the metric over images in tables and the model card:
    #: ``mean`` where its definition is an average over images (Average Drop, Increase in
    #: Confidence, mIoU, the pointing game's hit rate: a median of 0/1 values says little).
    summary: Literal["median", "mean"] = "median"


METRICS: dict[str, MetricInfo] = {}

F = TypeVar("F", bound=Callable)


def register_metric(*infos: MetricInfo) -> Callable[[F], F]:
    """Register the metadata of the metric(s) a function computes; returns it unchanged."""

    def decorate(fn: F) -> F:
        for info in infos:
            if info.id in METRICS:
                raise ValueError(f"metric id {info.id!r} registered twice")
            METRICS[info.id] = info
        fn.metric_infos = infos  # type: ignore[attr-defined]
        return fn

    return decorate


def get_metric(metric_id: str) -> MetricInfo:
    """The metadata of ``metric_id``; a parametrised id ``family@value`` (``road.morf@0.3``)
    gets its family's (registered as ``family@``) with the value in its name."""
    if metric_id in METRICS:
        return METRICS[metric_id]
    family, at, value = metric_id.partition("@")
    if at and family + "@" in METRICS:
        info = METRICS[family + "@"]
        return replace(info, id=metric_id, name=f"{info.name} {value}")
    raise KeyError(f"unknown metric {metric_id!r}; known: {', '.join(sorted(METRICS))}")
