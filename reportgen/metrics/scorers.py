"""One scoring interface for every metric family: ``scorer.score(heatmaps, regions, model)``.

A scorer turns one batch of N heatmaps into a ``ScorerOutput``: ``{metric_id: values}`` with
(N, R) arrays for region metrics (columns = ``regions.names``) and (N,) arrays for per-sample
(``object``) metrics, NaN meaning "no value" (an absent region, a degenerate heatmap, an
excluded sample), and the reason for every sample it excluded. Region scorers (PQAH,
localisation) get ``PreparedHeatmaps`` at the regions' resolution, computed once per batch;
model scorers (faithfulness and ROAD, ``needs_model``) get the raw heatmaps at the model's
input resolution and a ``ModelInputs``. A new family is one class here (or in its own
module imported by ``reportgen.metrics``) registered with ``@register_scorer``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from reportgen.metrics.area import area_share
from reportgen.metrics.localization import ObjectMasks, score_localization
from reportgen.metrics.normalize import PreparedHeatmaps
from reportgen.metrics.pqah import score_masks, score_regions
from reportgen.vocab import IGNORE_INDEX

DEGENERATE = "degenerate heatmap (no positive or a non-finite value)"


@dataclass(frozen=True)
class RegionBatch:
    """The regions of N samples of one size (H, W) and one form.

    ``names`` (R,): region names, 0 = background, then the parts. Either ``labels`` (N, H, W)
    int (0 background, 1..R-1 parts, 255 void) or ``part_masks`` (N, R-1, H, W) bool that may
    overlap with ``background`` (N, H, W) bool. ``void`` (N, H, W) bool or None (no void
    pixel); ``objects`` (N, H, W) bool, the object mask of the localisation metrics;
    ``valid_pixels`` (N,) int, the non-void pixel count (area shares divide by it).
    """

    names: tuple[str, ...]
    objects: np.ndarray
    valid_pixels: np.ndarray
    labels: np.ndarray | None = None
    part_masks: np.ndarray | None = None
    background: np.ndarray | None = None
    void: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        return int(self.objects.shape[1]), int(self.objects.shape[2])

    @cached_property
    def object_masks(self) -> ObjectMasks:
        """The localisation metrics' heatmap-independent half (O without void, |O|, its
        bounding box), computed on first use and shared by every explainer of the batch."""
        return ObjectMasks.of(self.objects, self.void)


@dataclass(frozen=True)
class ModelInputs:
    """What a model scorer needs besides the heatmaps: the classifier ``module`` (eval mode),
    its normalised ``inputs`` (N, 3, S, S) on its device, the explained ``targets`` (N,), the
    run's faithfulness ``settings`` (``reportgen.config.FaithfulnessSettings``) and ``seed``."""

    module: Any
    inputs: Any
    targets: np.ndarray
    settings: Any
    seed: int = 0


@dataclass(frozen=True)
class ScorerOutput:
    values: dict[str, np.ndarray]
    excluded: dict[int, str] = field(default_factory=dict)


class Scorer:
    """Base of the scorers; subclasses set ``name`` and ``needs_model`` and define ``score``."""

    name: ClassVar[str]
    needs_model: ClassVar[bool] = False

    def score(self, heatmaps: Any, regions: RegionBatch | None,
              model: ModelInputs | None = None) -> ScorerOutput:
        raise NotImplementedError


SCORERS: dict[str, type[Scorer]] = {}


def register_scorer(cls: type[Scorer]) -> type[Scorer]:
    """Class decorator: make ``cls`` available under ``cls.name`` (in registration order)."""
    if cls.name in SCORERS:
        raise ValueError(f"scorer {cls.name!r} registered twice")
    SCORERS[cls.name] = cls
    return cls


@register_scorer
class PqahScorer(Scorer):
    """``pqah.precision``, ``pqah.recall``, ``pqah.ph`` and ``region.area_share`` per region;
    a degenerate heatmap excludes its sample."""

    name = "pqah"
    metric_ids: ClassVar[tuple[str, ...]] = ("pqah.precision", "pqah.recall", "pqah.ph",
                                             "region.area_share")

    def score(self, heatmaps: PreparedHeatmaps, regions: RegionBatch | None,
              model: ModelInputs | None = None) -> ScorerOutput:
        if regions.labels is not None:
            scores = score_regions(heatmaps, regions.labels, len(regions.names),
                                   ignore_index=IGNORE_INDEX)
        else:
            scores = score_masks(heatmaps, regions.part_masks, regions.background,
                                 void=regions.void)
        values = {"pqah.precision": scores.precision, "pqah.recall": scores.recall,
                  "pqah.ph": scores.ph,
                  "region.area_share": area_share(scores.area, np.isfinite(scores.ph),
                                                  regions.valid_pixels)}
        excluded = {int(i): DEGENERATE for i in np.flatnonzero(scores.degenerate)}
        return ScorerOutput(values, excluded)


@register_scorer
class LocalizationScorer(Scorer):
    """The five ``loc.*`` metrics against the object mask (one value per sample)."""

    name = "localization"

    def score(self, heatmaps: PreparedHeatmaps, regions: RegionBatch | None,
              model: ModelInputs | None = None) -> ScorerOutput:
        loc = score_localization(heatmaps, regions.object_masks)
        return ScorerOutput(dict(loc.by_metric_id()))


@register_scorer
class FaithfulnessScorer(Scorer):
    """``faith.*`` and ``road.*`` (curve points included): the model re-run on modified inputs.
    Heatmaps are the raw (N, h, w) maps at the model's input resolution."""

    name = "faithfulness"
    needs_model = True

    def score(self, heatmaps: Any, regions: RegionBatch | None,
              model: ModelInputs | None = None) -> ScorerOutput:
        from reportgen.metrics.faithfulness import score_faithfulness

        if model is None:
            raise ValueError("the faithfulness scorer needs the model")
        out = score_faithfulness(model.module, model.inputs, heatmaps, model.targets,
                                 model.settings.metric_config(model.seed))
        return ScorerOutput(out.values, {i: f"faithfulness: {reason}"
                                         for i, reason in out.excluded.items()})


def scorers(select: Callable[[type[Scorer]], bool] = lambda cls: True) -> list[Scorer]:
    """Instances of the registered scorers that ``select`` accepts, in registration order."""
    return [cls() for cls in SCORERS.values() if select(cls)]
