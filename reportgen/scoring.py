"""Per-image scores: heatmaps x regions -> the tidy scores table (one row per value)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import pandas as pd

from reportgen.data.sample import IGNORE_INDEX, Sample
from reportgen.exclusions import Exclusion
from reportgen.heatmaps.baselines import baseline_heatmaps
from reportgen.heatmaps.cam import HeatmapBatch
from reportgen.metrics.localization import score_localization
from reportgen.metrics.pqah import score_masks, score_regions
from reportgen.metrics.registry import MetricInfo, register_metric

OBJECT = "object"  # the region name of image-level metrics
SCORE_COLUMNS = ["image_id", "object_id", "class_name", "target_class", "predicted_class",
                 "correct", "model", "method", "region", "metric", "value"]
REGION_METRICS = {"pqah.precision": "precision", "pqah.recall": "recall", "pqah.ph": "ph",
                  "region.area_share": "area_share"}


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


def _score_group(group: Sequence[Sample], heatmaps: np.ndarray, num_regions: int):
    """RegionScores of samples of one size and one form (label maps, or overlapping masks)."""
    if group[0].has_label_map:
        return score_regions(heatmaps, np.stack([s.labels for s in group]), num_regions,
                             ignore_index=IGNORE_INDEX)
    void = None
    if any(s.void_mask is not None for s in group):
        void = np.stack([~s.valid_pixels() for s in group])
    return score_masks(heatmaps, np.stack([s.part_masks for s in group]),
                       np.stack([s.background_mask() for s in group]), void=void)


def object_metric_rows(samples: Sequence[Sample], batch: HeatmapBatch,
                       values: dict[str, np.ndarray], model: str, method: str,
                       class_names: Sequence[str]) -> pd.DataFrame:
    """Rows (region ``object``) for per-image metrics: ``values`` maps metric id -> (N,)
    floats aligned with ``samples``; NaN (excluded) values produce no row."""
    frames = []
    for metric, v in values.items():
        (rows,) = np.nonzero(np.isfinite(v))
        frames.append(_rows(samples, rows, batch, class_names, model, method,
                            np.full(len(rows), OBJECT, dtype=object), metric,
                            np.asarray(v, dtype=np.float64)[rows]))
    return pd.concat(frames, ignore_index=True) if frames else empty_scores()


def _rows(samples: Sequence[Sample], rows: np.ndarray, batch: HeatmapBatch,
          output_names: Sequence[str], model: str, method: str, regions: np.ndarray,
          metric: str, values: np.ndarray) -> pd.DataFrame:
    """Score rows for ``samples[rows]`` (one row each) with the batch's predictions.

    ``output_names``: the model's class names by output index (the dataset's classes unless
    the model has its own label set). ``correct`` is NA where the sample's class is not one
    of the model's outputs (an ImageNet model on a part dataset: no accuracy to speak of),
    False where there is no prediction (baselines, precomputed heatmaps).
    """
    predicted = batch.predicted[rows]
    truth = [samples[i].class_name for i in rows]
    named = [output_names[p] if p >= 0 else "" for p in predicted]
    known = set(output_names)
    correct = pd.array([(p == t) if t in known else None for p, t in zip(named, truth,
                                                                         strict=True)],
                       dtype="boolean")
    return pd.DataFrame({
        "image_id": [samples[i].image_id for i in rows],
        "object_id": [samples[i].object_id for i in rows],
        "class_name": truth,
        "target_class": [output_names[t] for t in batch.target[rows]],
        "predicted_class": named,
        "correct": correct,
        "model": model, "method": method, "region": regions, "metric": metric,
        "value": values}, columns=SCORE_COLUMNS)


def baseline_batch(samples: Sequence[Sample], name: str, seed: tuple[int, ...],
                   grid: tuple[int, int] | None) -> list[tuple[list[int], HeatmapBatch]]:
    """Baseline heatmaps (``random`` / ``center``) for ``samples``, grouped by image size.

    Baselines have no prediction (-1) and explain the ground-truth class.
    """
    by_size: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        by_size[s.size].append(i)
    out = []
    for k, (size, idx) in enumerate(sorted(by_size.items())):
        options = {"grid": grid} if name == "random" and grid else {}
        heat = baseline_heatmaps(name, len(idx), size, (*seed, k), **options)
        n = len(idx)
        out.append((idx, HeatmapBatch(heat, np.full(n, -1, np.int64),
                                      np.full(n, np.nan, np.float32),
                                      np.array([samples[i].class_index for i in idx]))))
    return out


def empty_scores() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in SCORE_COLUMNS})


def score_batch(samples: Sequence[Sample], batch: HeatmapBatch, model: str, method: str,
                class_names: Sequence[str]) -> tuple[pd.DataFrame, list[Exclusion]]:
    """Score one batch of heatmaps against the samples' label maps.

    Samples are scored in groups of equal label-map size (one vectorised call per group).
    Degenerate heatmaps become exclusions; absent regions produce no row. ``class_names``
    names the model's outputs (predictions and targets are indices into it).
    """
    by_shape: dict[tuple[bool, int, int], list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        by_shape[(s.has_label_map, *s.size)].append(i)
    frames, exclusions = [], []
    regions = np.array(samples[0].region_names, dtype=object) if samples else np.array([])
    for idx in by_shape.values():
        scores = _score_group([samples[i] for i in idx], batch.heatmaps[idx], len(regions))
        for j, i in enumerate(idx):
            if scores.degenerate[j]:
                exclusions.append(Exclusion(samples[i].image_id, "metrics",
                                            "degenerate heatmap (no positive or a non-finite "
                                            "value)", samples[i].source, model, method))
        per_metric = {"precision": scores.precision, "recall": scores.recall, "ph": scores.ph,
                      "area_share": area_share(scores.area, np.isfinite(scores.ph), np.array(
                          [samples[i].valid_pixels().sum() for i in idx]))}
        group = [samples[i] for i in idx]
        void = np.stack([~s.valid_pixels() for s in group])
        loc = score_localization(batch.heatmaps[idx], np.stack([s.object_region() for s in group]),
                                 void=void if void.any() else None)
        columns = {**{m: per_metric[a] for m, a in REGION_METRICS.items()},
                   **{m: v[:, None] for m, v in loc.by_metric_id().items()}}
        object_region = np.array([OBJECT], dtype=object)
        for metric, values in columns.items():
            names = object_region if metric.startswith("loc.") else regions
            rows, cols = np.nonzero(np.isfinite(values))
            frames.append(_rows(samples, np.asarray(idx)[rows], batch, class_names, model,
                                method, names[cols], metric,
                                values[rows, cols].astype(np.float64)))
    table = pd.concat(frames, ignore_index=True) if frames else empty_scores()
    return table, exclusions
