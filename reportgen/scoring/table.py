"""Per-image scores: a batch's heatmaps through the registered scorers, into the tidy scores
table (one row per sample x region x metric; ARCHITECTURE.md, "Scores table").

Samples are scored in groups of one region form and size (label maps or overlapping masks,
(H, W)); each group's heatmaps are prepared (clipped, resized to the regions) once, on the
heatmaps' device, and every region scorer reads that one preparation. A batch's groups are
scored side by side on a few threads (``reportgen.scoring.parallel``), with identical values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reportgen.data.sample import Sample
from reportgen.exclusions import Exclusion
from reportgen.heatmaps.base import HeatmapBatch
from reportgen.metrics.normalize import (
    ClippedBatch,
    PreparedHeatmaps,
    clip_batch,
    prepare_group,
)
from reportgen.metrics.scorers import ModelInputs, RegionBatch, Scorer, scorers
from reportgen.scoring.parallel import map_groups
from reportgen.vocab import OBJECT

SCORE_COLUMNS = ["image_id", "object_id", "class_name", "target_class", "predicted_class",
                 "correct", "model", "method", "region", "metric", "value"]


@dataclass(frozen=True)
class ScoredGroup:
    """One group of a scored batch: ``indices`` into the batch's samples and their heatmaps
    prepared at the regions' resolution (the gallery draws from these)."""

    indices: list[int]
    prepared: PreparedHeatmaps


@dataclass(frozen=True)
class BatchScores:
    """A scored batch: its ``table`` rows, the ``exclusions`` it caused and its ``groups``."""

    table: pd.DataFrame
    exclusions: list[Exclusion]
    groups: list[ScoredGroup]


@dataclass(frozen=True)
class ScoredParts:
    """A scored batch before its rows become a DataFrame (``frame`` joins several batches'
    rows into one): ``columns`` maps each of ``SCORE_COLUMNS`` to ``n_rows`` values (None when
    there are no rows); ``exclusions`` and ``groups`` as in ``BatchScores``."""

    columns: dict[str, Any] | None
    n_rows: int
    exclusions: list[Exclusion]
    groups: list[ScoredGroup]


def frame(parts: Sequence[ScoredParts]) -> pd.DataFrame:
    """One DataFrame of the rows of ``parts``, in order (the same frame as concatenating
    their tables one by one, built at the cost of one); ``empty_scores()`` when none has a
    row."""
    parts = [p for p in parts if p.columns is not None]
    if not parts:
        return empty_scores()
    columns = dict(parts[0].columns)
    if len(parts) > 1:  # lists stay lists and arrays arrays: the same dtypes as one part's
        for c in SCORE_COLUMNS:
            pieces = [p.columns[c] for p in parts]
            if c == "correct":
                columns[c] = pd.array(np.concatenate([np.asarray(x, dtype=object)
                                                      for x in pieces]), dtype="boolean")
            elif isinstance(pieces[0], list):
                columns[c] = [v for x in pieces for v in x]
            else:
                columns[c] = np.concatenate(pieces)
    return pd.DataFrame(columns, columns=SCORE_COLUMNS)


def empty_scores() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in SCORE_COLUMNS})


def size_groups(samples: Sequence[Sample]) -> list[list[int]]:
    """Indices of ``samples`` grouped by region form and size, in order of first appearance."""
    by_shape: dict[tuple[bool, int, int], list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        by_shape[(s.has_label_map, *s.size)].append(i)
    return list(by_shape.values())


def region_batch(group: Sequence[Sample]) -> RegionBatch:
    """The regions of samples of one form and size as stacked, C-contiguous arrays (``np.stack``
    keeps the inputs' layout, and MATLAB's label maps are column-major: the scorers would copy
    them on every call)."""
    first = group[0]
    void = _stack([~s.valid_pixels() for s in group])
    common = {"names": tuple(first.region_names),
              "objects": _stack([s.object_region() for s in group]),
              "valid_pixels": (~void).reshape(len(group), -1).sum(axis=1),
              "void": void if void.any() else None}
    if first.has_label_map:
        return RegionBatch(labels=_stack([s.labels for s in group]), **common)
    return RegionBatch(part_masks=_stack([s.part_masks for s in group]),
                       background=_stack([s.background_mask() for s in group]), **common)


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    return np.ascontiguousarray(np.stack(arrays))


def region_scorers() -> list[Scorer]:
    return scorers(lambda cls: not cls.needs_model)


def shared_region_batch(group: Sequence[Sample], shared: dict | None) -> RegionBatch:
    """``region_batch(group)``, taken from (or put into) ``shared`` when given: a dict that
    lives as long as the samples (the score stage keeps one per batch), so that the model and
    the baselines of one batch stack each group's regions once."""
    if shared is None:
        return region_batch(group)
    key = tuple(id(s) for s in group)
    hit = shared.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], group, strict=True)):
        return hit[1]
    regions = region_batch(group)
    shared[key] = (list(group), regions)
    return regions


def score_batch(samples: Sequence[Sample], batch: HeatmapBatch, model: str, method: str,
                output_names: Sequence[str], score_with: Sequence[Scorer] | None = None,
                shared_regions: dict | None = None) -> BatchScores:
    """``score_parts`` as a ``BatchScores`` (its rows as one table)."""
    parts = score_parts(samples, batch, model, method, output_names, score_with,
                        shared_regions)
    return BatchScores(frame([parts]), parts.exclusions, parts.groups)


@dataclass(frozen=True)
class PartsRequest:
    """One explainer's heatmaps of a batch to score with the region scorers (``score_parts``'s
    arguments)."""

    samples: Sequence[Sample]
    batch: HeatmapBatch
    model: str
    method: str
    output_names: Sequence[str]
    score_with: Sequence[Scorer] | None = None


@dataclass(frozen=True)
class _Plan:
    """A request split into its size groups: ``indices`` and stacked ``regions`` per group, the
    batch clipped once (``clipped``; None: each group is prepared on its own)."""

    request: PartsRequest
    score_with: Sequence[Scorer]
    indices: list[list[int]]
    regions: list[RegionBatch]
    clipped: ClippedBatch | None


def score_parts(samples: Sequence[Sample], batch: HeatmapBatch, model: str, method: str,
                output_names: Sequence[str], score_with: Sequence[Scorer] | None = None,
                shared_regions: dict | None = None) -> ScoredParts:
    """Score one batch of heatmaps against the samples' regions with the region scorers.

    ``batch.heatmaps[i]`` belongs to ``samples[i]`` (numpy or a tensor on the model's device);
    ``output_names`` names the model's outputs (predictions and targets index it). A sample a
    scorer excludes (a degenerate heatmap) gets an exclusion and no row from that scorer;
    absent regions produce no row. ``shared_regions``: see ``shared_region_batch``.
    """
    request = PartsRequest(samples, batch, model, method, output_names, score_with)
    return score_many([request], shared_regions)[0]


def score_many(requests: Sequence[PartsRequest], shared_regions: dict | None = None
               ) -> list[ScoredParts]:
    """``score_parts`` of each request, with the same values: every size group of every
    request is one job, and the jobs run side by side (``map_groups``): a batch's baselines
    come one explainer per size group, so pooling per request alone would leave them serial.
    """
    plans = [_plan(r, shared_regions) for r in requests]
    jobs = [(plan, g) for plan in plans for g in range(len(plan.indices))]
    results = iter(map_groups(_score_group, jobs))
    return [_assemble(plan, [next(results) for _ in plan.indices]) for plan in plans]


def _plan(request: PartsRequest, shared_regions: dict | None) -> _Plan:
    score_with = region_scorers() if request.score_with is None else request.score_with
    samples = request.samples
    indices = size_groups(samples)
    regions = [shared_region_batch([samples[i] for i in idx], shared_regions)
               for idx in indices]
    return _Plan(request, score_with, indices, regions, clip_batch(request.batch.heatmaps))


def _score_group(job: tuple[_Plan, int]) -> tuple[PreparedHeatmaps, list]:
    """One size group of a plan: its heatmaps prepared once, then every scorer's output."""
    plan, g = job
    regions = plan.regions[g]
    prepared = prepare_group(plan.request.batch.heatmaps, plan.clipped, plan.indices[g],
                             regions.size)
    return prepared, [scorer.score(prepared, regions) for scorer in plan.score_with]


def _assemble(plan: _Plan, results: list[tuple[PreparedHeatmaps, list]]) -> ScoredParts:
    """The plan's groups' scorer outputs as score columns, exclusions and groups."""
    r = plan.request
    parts, exclusions, groups = [], [], []
    for idx, regions, (prepared, outs) in zip(plan.indices, plan.regions, results,
                                              strict=True):
        groups.append(ScoredGroup(idx, prepared))
        names = np.asarray(regions.names, dtype=object)
        for out in outs:
            for j, reason in out.excluded.items():
                s = r.samples[idx[j]]
                exclusions.append(Exclusion(s.image_id, "metrics", reason, s.source, r.model,
                                            r.method, s.object_id))
            for metric, values in out.values.items():
                values, cols_names = np.asarray(values, dtype=np.float64), names
                if values.ndim == 1:
                    values, cols_names = values[:, None], np.array([OBJECT], dtype=object)
                rows, cols = np.nonzero(np.isfinite(values))
                parts.append((np.asarray(idx)[rows], cols_names[cols], metric,
                              values[rows, cols]))
    # Columns, not a DataFrame: the score stage builds one frame for several explainers
    # (building one per group and metric, or per explainer, cost more than the metrics).
    if not parts:
        return ScoredParts(None, 0, exclusions, groups)
    rows = np.concatenate([p[0] for p in parts]).astype(np.int64)
    region_names = np.concatenate([p[1] for p in parts])
    metrics = np.concatenate([np.full(len(p[0]), p[2], dtype=object) for p in parts])
    values = np.concatenate([p[3] for p in parts])
    columns = _columns(r.samples, rows, r.batch, r.output_names, r.model, r.method,
                       region_names, metrics, values)
    return ScoredParts(columns, len(rows), exclusions, groups)


def score_with_model(samples: Sequence[Sample], batch: HeatmapBatch, model: str, method: str,
                     output_names: Sequence[str], inputs: ModelInputs,
                     score_with: Sequence[Scorer] | None = None) -> BatchScores:
    """Score ``samples`` (the first ``len(samples)`` of ``batch``) with the model scorers
    (faithfulness, ROAD), on the raw heatmaps at the model's input resolution."""
    score_with = scorers(lambda cls: cls.needs_model) if score_with is None else score_with
    n = len(samples)
    part = HeatmapBatch(batch.heatmaps[:n], batch.predicted[:n], batch.probability[:n],
                        batch.target[:n])
    frames, exclusions = [], []
    for scorer in score_with:
        out = scorer.score(part.heatmaps, None, inputs)
        frames.append(object_metric_rows(samples, part, out.values, model, method,
                                         output_names))
        exclusions += [Exclusion(samples[i].image_id, "metrics", reason, samples[i].source,
                                 model, method, samples[i].object_id)
                       for i, reason in sorted(out.excluded.items())]
    table = pd.concat(frames, ignore_index=True) if frames else empty_scores()
    return BatchScores(table, exclusions, [])


def object_metric_rows(samples: Sequence[Sample], batch: HeatmapBatch,
                       values: dict[str, np.ndarray], model: str, method: str,
                       class_names: Sequence[str]) -> pd.DataFrame:
    """Rows (region ``object``) for per-sample metrics: ``values`` maps metric id -> (N,)
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
          metric: str | np.ndarray, values: np.ndarray) -> pd.DataFrame:
    """``_columns`` as a DataFrame."""
    return pd.DataFrame(_columns(samples, rows, batch, output_names, model, method, regions,
                                 metric, values), columns=SCORE_COLUMNS)


def _columns(samples: Sequence[Sample], rows: np.ndarray, batch: HeatmapBatch,
             output_names: Sequence[str], model: str, method: str, regions: np.ndarray,
             metric: str | np.ndarray, values: np.ndarray) -> dict[str, Any]:
    """Score rows for ``samples[rows]`` (one row each) with the batch's predictions, as
    ``{column: values}`` (lists, arrays or one scalar for every row).

    ``output_names``: the model's class names by output index (the dataset's classes unless
    the model has its own label set). ``correct`` is NA where the sample's class is not one
    of the model's outputs (an ImageNet model on a part dataset: no accuracy to speak of),
    False where there is no prediction (baselines, precomputed heatmaps).
    """
    predicted = batch.predicted[rows]
    truth = [samples[i].class_name for i in rows]
    named = [output_names[p] if p >= 0 else "" for p in predicted]
    known = set(output_names)
    correct = pd.array([(p == t) if t in known else None
                        for p, t in zip(named, truth, strict=True)], dtype="boolean")
    n = len(rows)
    return {
        "image_id": [samples[i].image_id for i in rows],
        "object_id": [samples[i].object_id for i in rows],
        "class_name": truth,
        "target_class": [output_names[t] for t in batch.target[rows]],
        "predicted_class": named,
        "correct": correct,
        "model": [model] * n, "method": [method] * n, "region": regions,
        "metric": metric if isinstance(metric, np.ndarray) else [metric] * n,
        "value": values}
