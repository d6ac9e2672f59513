"""Per-image scores: heatmaps x regions -> the tidy scores table (one row per value)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import pandas as pd

from reportgen.data.sample import IGNORE_INDEX, Sample
from reportgen.exclusions import Exclusion
from reportgen.heatmaps.cam import HeatmapBatch
from reportgen.metrics.pqah import score_regions

SCORE_COLUMNS = ["image_id", "object_id", "class_name", "target_class", "predicted_class",
                 "correct", "model", "method", "region", "metric", "value"]
REGION_METRICS = {"pqah.precision": "precision", "pqah.recall": "recall", "pqah.ph": "ph"}


def empty_scores() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in SCORE_COLUMNS})


def score_batch(samples: Sequence[Sample], batch: HeatmapBatch, model: str, method: str,
                class_names: Sequence[str]) -> tuple[pd.DataFrame, list[Exclusion]]:
    """Score one batch of heatmaps against the samples' label maps.

    Samples are scored in groups of equal label-map size (one vectorised call per group).
    Degenerate heatmaps become exclusions; absent regions produce no row.
    """
    by_shape: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        by_shape[s.labels.shape].append(i)
    frames, exclusions = [], []
    regions = np.array(samples[0].region_names, dtype=object) if samples else np.array([])
    for idx in by_shape.values():
        labels = np.stack([samples[i].labels for i in idx])
        scores = score_regions(batch.heatmaps[idx], labels, len(regions),
                               ignore_index=IGNORE_INDEX)
        for j, i in enumerate(idx):
            if scores.degenerate[j]:
                exclusions.append(Exclusion(samples[i].image_id, "metrics",
                                            "degenerate heatmap (no positive or a non-finite "
                                            "value)", samples[i].source, model, method))
        for metric, attr in REGION_METRICS.items():
            values = getattr(scores, attr)
            rows, cols = np.nonzero(np.isfinite(values))
            sample_idx = np.asarray(idx)[rows]
            predicted = batch.predicted[sample_idx]
            frames.append(pd.DataFrame({
                "image_id": [samples[i].image_id for i in sample_idx],
                "object_id": [samples[i].object_id for i in sample_idx],
                "class_name": [samples[i].class_name for i in sample_idx],
                "target_class": [class_names[t] for t in batch.target[sample_idx]],
                "predicted_class": [class_names[p] for p in predicted],
                "correct": predicted == np.array([samples[i].class_index for i in sample_idx],
                                                 dtype=np.int64),
                "model": model,
                "method": method,
                "region": regions[cols],
                "metric": metric,
                "value": values[rows, cols].astype(np.float64),
            }, columns=SCORE_COLUMNS))
    table = pd.concat(frames, ignore_index=True) if frames else empty_scores()
    return table, exclusions
