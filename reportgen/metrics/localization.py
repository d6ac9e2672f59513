"""Localisation of a heatmap against the object mask O: one value per sample (METRICS.md).

Every function takes ``heatmaps`` (N, h, w) float (any range, resized bilinearly to the masks'
(H, W) and normalised by the shared rule), ``object_masks`` (N, H, W) bool and optionally
``void`` (N, H, W) bool, and returns (N,) float64 (numpy for numpy input, a tensor on the
input's device for torch input; the computation itself runs on the CPU).

Rules shared by all five metrics:

* void pixels are dropped from everything: sums, the object, the hot area, the heatmap's peak
  position, the ranking. The normalisation peak is the heatmap's own (void pixels included),
  as for PQAH.
* no value (NaN) for a degenerate heatmap (non-finite, max <= 1e-12, or no heat outside void
  pixels) and for an empty object (no non-void pixel in O): there is nothing to localise.
* ties are never broken by pixel order: the pointing game hits when *any* of the maximal
  pixels is close enough; relevance rank counts the pixels tied at the K-th value by their
  expected share (as if ties were broken uniformly at random).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from scipy import ndimage

from reportgen.metrics import _kernels
from reportgen.metrics.normalize import PreparedHeatmaps, prepare_heatmaps, threshold_cut
from reportgen.metrics.registry import MetricInfo, register_metric

DEFAULT_IOU_THRESHOLD = 0.5
DEFAULT_TOLERANCE = 15.0
_CLEVR_XAI = ("Arras, Osman, Samek, Ground Truth Evaluation of Neural Network Explanations "
              "with CLEVR-XAI, Information Fusion 2022 (arXiv 2003.07258)")
# Samples with at most this many tied maximal pixels are checked by a window around each;
# more ties (flat heatmaps) go through a distance transform of the object.
_MAX_WINDOW_TIES = 64


@dataclass(frozen=True)
class LocalizationScores:
    """The five localisation metrics of N samples: (N,) float64 each (NaN = no value).

    ``degenerate`` (N,) bool: the heatmap has no usable heat; ``empty_object`` (N,) bool: O has
    no non-void pixel. Either one makes every metric NaN for that sample.
    """

    iou: Any
    pointing_game: Any
    energy_pointing_game: Any
    relevance_mass: Any
    relevance_rank: Any
    degenerate: Any
    empty_object: Any

    def by_metric_id(self) -> dict[str, Any]:
        """``{"loc.iou": values, ...}`` in registry ids."""
        return {f"loc.{name}": getattr(self, name) for name in METRIC_NAMES}


METRIC_NAMES = ("iou", "pointing_game", "energy_pointing_game", "relevance_mass",
                "relevance_rank")


@dataclass(frozen=True, eq=False)
class ObjectMasks:
    """What the localisation metrics take from the object masks of N samples of one size
    (H, W), independent of the heatmaps: computed once and shared by every explainer.

    ``obj`` (N, H, W) bool, O without void pixels; ``valid`` (N, H, W) bool, the non-void
    pixels, or None (no void); ``count`` (N,) int64, |O| in pixels; ``box_rows`` (N, H) and
    ``box_cols`` (N, W) bool, the rows and columns of O's tight bounding box (the whole image
    when O is empty).
    """

    obj: np.ndarray
    valid: np.ndarray | None
    count: np.ndarray
    box_rows: np.ndarray
    box_cols: np.ndarray

    @classmethod
    def of(cls, object_masks: Any, void: Any = None) -> ObjectMasks:
        """From (N, H, W) bool object masks and optional (N, H, W) bool void pixels."""
        if isinstance(object_masks, ObjectMasks):
            return object_masks
        obj = _to_numpy(object_masks).astype(bool, copy=False)
        if obj.ndim != 3:
            raise ValueError(f"expected object_masks (N, H, W), got shape {obj.shape}")
        valid = None
        if void is not None:
            void = _to_numpy(void).astype(bool, copy=False)
            if void.shape != obj.shape:
                raise ValueError(f"void {void.shape} must match object_masks {obj.shape}")
            valid = ~void
            obj = obj & valid
        n, height, width = obj.shape
        count = np.count_nonzero(obj.reshape(n, height * width), axis=1)
        rows_in, cols_in = obj.any(axis=2), obj.any(axis=1)  # (N, H), (N, W)
        r0, r1 = rows_in.argmax(axis=1), height - 1 - rows_in[:, ::-1].argmax(axis=1)
        c0, c1 = cols_in.argmax(axis=1), width - 1 - cols_in[:, ::-1].argmax(axis=1)
        rows = (np.arange(height) >= r0[:, None]) & (np.arange(height) <= r1[:, None])
        cols = (np.arange(width) >= c0[:, None]) & (np.arange(width) <= c1[:, None])
        return cls(obj, valid, count, rows, cols)


class _Prepared(NamedTuple):
    heat: np.ndarray  # (N, H, W) float32 >= 0, clipped, void pixels set to 0, not divided
    peak: np.ndarray  # (N,) float64 peak of the clipped heatmap (void pixels included)
    masks: ObjectMasks
    total: np.ndarray  # (N,) float64 sum of heat over valid pixels
    no_value: np.ndarray  # (N,) bool: degenerate | empty_object
    degenerate: np.ndarray
    empty_object: np.ndarray

    @property
    def obj(self) -> np.ndarray:
        return self.masks.obj


def _to_numpy(x: Any) -> np.ndarray:
    if not isinstance(x, torch.Tensor):
        return np.asarray(x)
    x = x.detach().cpu()
    if x.is_floating_point() and x.dtype not in (torch.float32, torch.float64):
        x = x.float()  # numpy has no bfloat16
    return x.numpy()


def _prepare(heatmaps: Any, object_masks: Any, void: Any) -> _Prepared:
    """``object_masks``: (N, H, W) bool or an ``ObjectMasks`` (then ``void`` is ignored: it
    is in there)."""
    masks = ObjectMasks.of(object_masks, void)
    obj = masks.obj
    if isinstance(heatmaps, PreparedHeatmaps):  # clipped and resized once for the batch
        if heatmaps.size != tuple(obj.shape[1:]) or len(heatmaps) != obj.shape[0]:
            raise ValueError(f"prepared heatmaps {tuple(heatmaps.clipped.shape)} do not match "
                             f"object_masks {obj.shape}")
        host = heatmaps.to_numpy()
        h, prepared = host.clipped, (host.clipped, host.peak, host.degenerate)
    else:
        h, prepared = _to_numpy(heatmaps), None
    if h.ndim != 3 or h.shape[0] != obj.shape[0]:
        raise ValueError(f"expected heatmaps (N, h, w) with N = {obj.shape[0]}, got {h.shape}")
    n = obj.shape[0]
    heat, peak, degenerate = prepared or prepare_heatmaps(h, obj.shape[1:])
    if masks.valid is not None:
        heat = heat * masks.valid
    pixels = obj.shape[1] * obj.shape[2]
    total = heat.reshape(n, pixels).sum(axis=1, dtype=np.float64)
    degenerate = degenerate | ~(total > 0)
    empty = masks.count == 0
    return _Prepared(heat, peak, masks, total, degenerate | empty, degenerate, empty)


def _finish(values: np.ndarray, prep: _Prepared) -> np.ndarray:
    return np.where(prep.no_value, np.nan, values.astype(np.float64, copy=False))


def _like_input(values: np.ndarray, *inputs: Any) -> Any:
    for x in inputs:
        if isinstance(x, torch.Tensor):
            return torch.from_numpy(np.ascontiguousarray(values)).to(x.device)
    return values


# --- the five metrics on prepared arrays ----------------------------------------------------


class _Counts(NamedTuple):
    """``_kernels.object_counts`` of a prepared batch: ``counts`` (N, 7) int64 and ``ties``
    (N, _MAX_WINDOW_TIES) int64 flat indices of maximal pixels, with the ``kth`` (N,) float32
    K-th largest rank heat (K = |O|) and ``top`` (N,) float32 maximum they were counted at."""

    counts: np.ndarray
    ties: np.ndarray
    kth: np.ndarray
    top: np.ndarray

    def column(self, name: str) -> np.ndarray:
        return self.counts[:, _kernels.OBJECT_COUNTS.index(name)]


def _count(prep: _Prepared, threshold: float = DEFAULT_IOU_THRESHOLD) -> _Counts:
    """Every pixel count the iou, pointing game and relevance rank need, in one pass."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    n, height, width = prep.heat.shape
    pixels = height * width
    heat = prep.heat.reshape(n, pixels)
    valid = None if prep.masks.valid is None else prep.masks.valid.reshape(n, pixels)
    rank = heat if valid is None else np.where(valid, heat, np.float32(-1))
    # The K-th largest rank heat: a selection per row (O(P)), not a full sort.
    at = np.clip(pixels - prep.masks.count, 0, pixels - 1)
    kth = np.array([np.partition(rank[i], at[i])[at[i]] for i in range(n)], np.float32)
    top = heat.max(axis=1) if pixels else np.zeros(n, np.float32)
    counts, ties = _kernels.object_counts(
        heat, prep.obj.reshape(n, pixels), valid,
        threshold_cut(prep.peak, threshold, prep.degenerate), kth.reshape(n), top,
        _MAX_WINDOW_TIES)
    return _Counts(counts, ties, kth, top)


def _iou(prep: _Prepared, threshold: float, counts: _Counts | None = None) -> np.ndarray:
    counts = _count(prep, threshold) if counts is None else counts
    inter = counts.column("hot_in")  # void heat 0 < cut: never hot
    union = counts.column("hot") + prep.masks.count - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / union


def _pointing_game(prep: _Prepared, tolerance: float, counts: _Counts | None = None
                   ) -> np.ndarray:
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0 pixels, got {tolerance}")
    n, height, width = prep.heat.shape
    hit = np.zeros(n)
    todo = np.flatnonzero(~prep.no_value)
    if todo.size == 0:
        return hit
    counts = _count(prep) if counts is None else counts
    n_ties = counts.column("peaks")  # void heat is 0 < top: never a peak
    few = todo[n_ties[todo] <= _MAX_WINDOW_TIES]
    if few.size:
        r = int(np.floor(tolerance))
        offsets = np.arange(-r, r + 1)
        disk = offsets[:, None] ** 2 + offsets[None, :] ** 2 <= tolerance ** 2
        taken = counts.ties[few] >= 0
        sample = np.broadcast_to(few[:, None], taken.shape)[taken]
        flat = counts.ties[few][taken]
        rows = (flat // width)[:, None, None] + offsets[None, :, None]
        cols = (flat % width)[:, None, None] + offsets[None, None, :]
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        window = prep.obj[sample[:, None, None], np.clip(rows, 0, height - 1),
                          np.clip(cols, 0, width - 1)] & inside  # outside: as padded False
        near = (window & disk).reshape(sample.size, -1).any(axis=1)
        hit[few] = np.bincount(sample, weights=near, minlength=n)[few] > 0
    for i in todo[n_ties[todo] > _MAX_WINDOW_TIES]:  # flat heatmaps: distance to the object
        distance = ndimage.distance_transform_edt(~prep.obj[i])
        hit[i] = bool((distance[prep.heat[i] == counts.top[i]] <= tolerance).any())
    return hit


def _energy_pointing_game(prep: _Prepared) -> np.ndarray:
    rows, cols = prep.masks.box_rows, prep.masks.box_cols
    per_row = (prep.heat * cols[:, None, :]).sum(axis=2, dtype=np.float64)  # (N, H)
    inside = (per_row * rows).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return inside / prep.total


def _relevance_mass(prep: _Prepared) -> np.ndarray:
    n, height, width = prep.heat.shape
    inside = (prep.heat * prep.obj).reshape(n, height * width).sum(axis=1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return inside / prep.total


def _relevance_rank(prep: _Prepared, counts: _Counts | None = None) -> np.ndarray:
    counts = _count(prep) if counts is None else counts
    k = prep.masks.count
    n_above, in_above = counts.column("above"), counts.column("above_in")
    n_tied, in_tied = counts.column("tied"), counts.column("tied_in")
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = in_above + (k - n_above) * in_tied / np.maximum(n_tied, 1)
        return expected / k


# --- public API -----------------------------------------------------------------------------


def score_localization(heatmaps: Any, object_masks: Any, *, void: Any = None,
                       iou_threshold: float = DEFAULT_IOU_THRESHOLD,
                       tolerance: float = DEFAULT_TOLERANCE) -> LocalizationScores:
    """All five localisation metrics of a batch, sharing one normalisation.

    Args:
        heatmaps: (N, h, w) float, any range.
        object_masks: (N, H, W) bool, the object mask O.
        void: (N, H, W) bool or None, pixels dropped from everything.
        iou_threshold: t of ``iou@t``, in (0, 1].
        tolerance: pointing-game tolerance in pixels of the masks' resolution (Euclidean
            distance between pixel centres, inclusive).
    """
    prep = _prepare(heatmaps, object_masks, void)
    counts = _count(prep, iou_threshold)
    values = {
        "iou": _iou(prep, iou_threshold, counts),
        "pointing_game": _pointing_game(prep, tolerance, counts),
        "energy_pointing_game": _energy_pointing_game(prep),
        "relevance_mass": _relevance_mass(prep),
        "relevance_rank": _relevance_rank(prep, counts),
    }
    inputs = (heatmaps, object_masks, void)
    return LocalizationScores(
        **{name: _like_input(_finish(v, prep), *inputs) for name, v in values.items()},
        degenerate=_like_input(prep.degenerate, *inputs),
        empty_object=_like_input(prep.empty_object, *inputs))


@register_metric(MetricInfo(
    "loc.iou", "IoU with the object", "overlap (intersection over union) of the heatmap's hot "
    "area (normalised heat >= 0.5) with the object mask; report the mean over samples (mIoU)",
    (0.0, 1.0), "higher", "fraction", "thresholded-heatmap localisation against a mask, e.g. "
    "Choe et al., Evaluating Weakly Supervised Object Localization Methods Right, CVPR 2020",
    summary="mean",
    level="object"))
def iou(heatmaps: Any, object_masks: Any, *, threshold: float = DEFAULT_IOU_THRESHOLD,
        void: Any = None) -> Any:
    """(N,) ``|B ∩ O| / |B ∪ O|`` with ``B = H >= threshold``."""
    prep = _prepare(heatmaps, object_masks, void)
    return _like_input(_finish(_iou(prep, threshold), prep), heatmaps, object_masks, void)


@register_metric(MetricInfo(
    "loc.pointing_game", "Pointing game", "whether the heatmap's hottest pixel lies on the "
    "object (within 15 pixels); the mean over samples is the hit rate", (0.0, 1.0), "higher",
    "share", "Zhang et al., Top-Down Neural Attention by Excitation Backprop, IJCV 2018",
    level="object", summary="mean"))
def pointing_game(heatmaps: Any, object_masks: Any, *, tolerance: float = DEFAULT_TOLERANCE,
                  void: Any = None) -> Any:
    """(N,) 1.0 when a maximal pixel of H lies within ``tolerance`` pixels of O, else 0.0."""
    prep = _prepare(heatmaps, object_masks, void)
    return _like_input(_finish(_pointing_game(prep, tolerance), prep), heatmaps, object_masks,
                       void)


@register_metric(MetricInfo(
    "loc.energy_pointing_game", "Energy pointing game", "share of the heat that lies inside "
    "the object's bounding box", (0.0, 1.0), "higher", "share",
    "Wang et al., Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural "
    "Networks, CVPR Workshops 2020", level="object"))
def energy_pointing_game(heatmaps: Any, object_masks: Any, *, void: Any = None) -> Any:
    """(N,) ``sum(H * box(O)) / sum(H)``, box(O) the tight bounding box of O."""
    prep = _prepare(heatmaps, object_masks, void)
    return _like_input(_finish(_energy_pointing_game(prep), prep), heatmaps, object_masks, void)


@register_metric(MetricInfo(
    "loc.relevance_mass", "Relevance mass", "share of the heat that lies on the object mask",
    (0.0, 1.0), "higher", "share", _CLEVR_XAI, level="object"))
def relevance_mass(heatmaps: Any, object_masks: Any, *, void: Any = None) -> Any:
    """(N,) ``sum(H * O) / sum(H)`` on the clipped (non-negative) heatmap."""
    prep = _prepare(heatmaps, object_masks, void)
    return _like_input(_finish(_relevance_mass(prep), prep), heatmaps, object_masks, void)


@register_metric(MetricInfo(
    "loc.relevance_rank", "Relevance rank", "share of the heatmap's |O| hottest pixels that "
    "lie on the object (|O| = the object's size)", (0.0, 1.0), "higher", "share", _CLEVR_XAI,
    level="object"))
def relevance_rank(heatmaps: Any, object_masks: Any, *, void: Any = None) -> Any:
    """(N,) share of the K = |O| highest-H pixels that lie in O (ties counted fractionally)."""
    prep = _prepare(heatmaps, object_masks, void)
    return _like_input(_finish(_relevance_rank(prep), prep), heatmaps, object_masks, void)
