"""SESS (Tursun et al., "SESS: Saliency Enhancing with Scaling and Sliding", ECCV 2022): any
method, run on windows of the image at several scales and fused.

Selected as ``<method>+sess`` (``gradcam+sess``); its parameters are the base method's plus
SESS's own. Per image, as in the reference implementation (github.com/neouyghur/SESS):

1. *Scaling and sliding*: the image is resized to each of ``scales`` (side in pixels for a
   224-pixel model input; scaled in proportion for other input sizes) and cut into windows of
   the model's input size every ``step`` pixels (same units), the last window flush with the
   border.
2. *Pre-filtering*: every window's target-class probability is computed (forward passes only);
   the ``pre_filter_ratio`` least probable share of the windows is dropped.
3. The base method explains each kept window (same class); each map is min-max scaled and
   multiplied by its window's probability over the image's best window probability.
4. *Fusion*: each weighted map is put back in its place on the scaled image (zero elsewhere),
   resized to the input, and the maps are fused per pixel: ``mean`` = the mean over the maps
   whose value exceeds ``theta`` (0 where none does), ``max`` = the maximum.
5. The result is smoothed by a Gaussian (sigma ``smooth_sigma`` pixels at 224, kernel about
   2 sigma + 1; 0 = off) and min-max scaled to [0, 1].

Defaults are the reference demo's: twelve scales 224, 288, ..., 928; step 224 (no overlap);
no pre-filtering; theta 0; mean fusion; smoothing 11 x 11, sigma 5. That is 122 windows per
image: about 120 times the base method's cost. With ``scales: [224]`` and no smoothing SESS
returns the base method's heatmap (one window, the whole image).
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from reportgen.heatmaps.base import HeatmapMethod, minmax_scale, register_wrapper
from reportgen.heatmaps.igos import gaussian_blur
from reportgen.heatmaps.targets import choose_classes
from reportgen.models.loading import LoadedModel

REFERENCE_SIDE = 224  # the unit of ``scales``, ``step`` and ``smooth_sigma``
FUSIONS = ("mean", "max")


def window_starts(side: int, window: int, step: int) -> list[int]:
    """Offsets of the windows along one side: 0, step, 2 step, ..., the last one flush with
    the border (``side - window``)."""
    starts = []
    for start in range(0, side, max(1, step)):
        if start + window >= side:
            starts.append(side - window)
            break
        starts.append(start)
    return starts


def _scaled(value: float, size: int) -> int:
    return max(1, round(value * size / REFERENCE_SIDE))


class SESS(HeatmapMethod):
    """Base of the ``<method>+sess`` classes; ``base`` is the wrapped method's class."""

    base: ClassVar[type[HeatmapMethod]]
    own_defaults: ClassVar[dict[str, Any]] = {
        "scales": [224 + 64 * i for i in range(12)], "step": 224, "pre_filter_ratio": 0.0,
        "theta": 0.0, "fusion": "mean", "smooth_sigma": 5.0, "window_batch": 32}

    def __init__(self, **params: Any):
        super().__init__(**params)
        own = self.params
        if own["fusion"] not in FUSIONS:
            raise ValueError(f"{self.name}: fusion must be one of {FUSIONS}, got "
                             f"{own['fusion']!r}")
        if not 0 <= own["pre_filter_ratio"] < 1:
            raise ValueError(f"{self.name}: pre_filter_ratio must lie in [0, 1)")
        if not own["scales"] or min(own["scales"]) < REFERENCE_SIDE:
            raise ValueError(f"{self.name}: scales must be sides >= {REFERENCE_SIDE} "
                             "(pixels at a 224-pixel input)")
        self.inner = self.base(**{k: v for k, v in own.items() if k in self.base.defaults})

    def attribute(self, model: LoadedModel, inputs: torch.Tensor, classes: Any
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            logits = model.module(inputs)
        chosen = choose_classes(logits, classes)
        size = inputs.shape[-1]
        if inputs.shape[-2] != size:
            raise ValueError(f"{self.name}: needs square inputs, got {tuple(inputs.shape)}")
        # One scale's resized batch at a time (all twelve at once would not fit at 224).
        sides = [_scaled(s, size) for s in self.params["scales"]]
        scores = torch.cat([self._scores(model, *self._windows(inputs, side), chosen, size)
                            for side in sides], dim=1)  # (N, windows)
        keep = self._kept(scores)
        best = scores.max(dim=1).values.clamp_min(1e-12)
        fused = _Fusion(inputs, self.params["theta"], self.params["fusion"])
        first = 0
        for side in sides:
            images, starts = self._windows(inputs, side)
            count = len(starts)
            self._explain_windows(model, images, starts, chosen, keep[:, first:first + count],
                                  best, fused, size)
            first += count
        heat = fused.result()
        sigma = self.params["smooth_sigma"] * size / REFERENCE_SIDE
        if sigma > 0:
            heat = gaussian_blur(heat[:, None], 2 * round(sigma) + 1, sigma)[:, 0]
        return heat, logits, chosen

    def _windows(self, inputs: torch.Tensor, side: int
                 ) -> tuple[torch.Tensor, list[tuple[int, int]]]:
        """The inputs resized to ``side`` and the (row, column) offsets of their windows."""
        size = inputs.shape[-1]
        images = inputs if side == size else F.interpolate(
            inputs, size=(side, side), mode="bilinear", align_corners=False)
        along = window_starts(side, size, _scaled(self.params["step"], size))
        return images, [(y, x) for y in along for x in along]

    @staticmethod
    def _crops(images: torch.Tensor, starts: list[tuple[int, int]], rows: torch.Tensor,
               which: torch.Tensor, size: int) -> torch.Tensor:
        """(n, 3, size, size): window ``starts[which[k]]`` of image ``rows[k]``."""
        return torch.stack([images[r, :, y:y + size, x:x + size] for r, (y, x) in
                            zip(rows.tolist(), (starts[w] for w in which.tolist()), strict=True)])

    @torch.no_grad()
    def _scores(self, model: LoadedModel, images: torch.Tensor, starts: list[tuple[int, int]],
                classes: torch.Tensor, size: int) -> torch.Tensor:
        """(N, windows) target-class probability of every window (forward passes only)."""
        n, count = len(images), len(starts)
        rows = torch.arange(n, device=images.device).repeat_interleave(count)
        which = torch.arange(count, device=images.device).repeat(n)
        out = torch.empty(n * count, device=images.device)
        for lo in range(0, n * count, self.params["window_batch"]):
            hi = min(lo + self.params["window_batch"], n * count)
            crops = self._crops(images, starts, rows[lo:hi], which[lo:hi], size)
            probs = torch.softmax(model.module(crops).float(), dim=1)
            out[lo:hi] = probs.gather(1, classes[rows[lo:hi], None])[:, 0]
        return out.view(n, count)

    def _kept(self, scores: torch.Tensor) -> torch.Tensor:
        """(N, windows) bool: each image's windows minus its least probable share."""
        count = scores.shape[1]
        keep = count - int(count * self.params["pre_filter_ratio"])
        order = scores.argsort(dim=1, descending=True, stable=True)[:, :keep]
        return torch.zeros_like(scores, dtype=torch.bool).scatter_(1, order, True)

    def _explain_windows(self, model, images, starts, classes, keep, best, fused, size) -> None:
        """Explain the kept windows of one scale and add their placed maps to ``fused``."""
        rows, which = keep.nonzero(as_tuple=True)
        side, chunk = images.shape[-1], self.params["window_batch"]
        for lo in range(0, len(rows), chunk):
            r, w = rows[lo:lo + chunk], which[lo:lo + chunk]
            crops = self._crops(images, starts, r, w, size)
            explained = self.inner.explain(model, crops, classes[r])
            probs = torch.softmax(explained.logits.float(), dim=1)
            weight = probs.gather(1, classes[r, None])[:, 0] / best[r]
            maps = minmax_scale(explained.heatmaps.float()) * weight[:, None, None]
            canvas = maps.new_zeros(len(r), side, side)
            for k, index in enumerate(w.tolist()):
                y, x = starts[index]
                canvas[k, y:y + size, x:x + size] = maps[k]
            if side != size:
                canvas = F.interpolate(canvas[:, None], size=(size, size), mode="bilinear",
                                       align_corners=False)[:, 0]
            fused.add(r, canvas)

    def finish(self, raw: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return minmax_scale(raw.float().clamp_min(0))


class _Fusion:
    """Per-pixel fusion of placed window maps: mean over values > theta, or maximum."""

    def __init__(self, inputs: torch.Tensor, theta: float, mode: str):
        shape = (len(inputs), *inputs.shape[-2:])
        self.theta, self.mode = theta, mode
        self.total = inputs.new_zeros(shape)
        self.count = inputs.new_zeros(shape)
        self.peak = inputs.new_zeros(shape)

    def add(self, rows: torch.Tensor, maps: torch.Tensor) -> None:
        above = maps > self.theta
        self.total.index_add_(0, rows, torch.where(above, maps, 0.0))
        self.count.index_add_(0, rows, above.to(maps.dtype))
        index = rows.view(-1, 1, 1).expand_as(maps)
        self.peak.scatter_reduce_(0, index, maps, "amax")

    def result(self) -> torch.Tensor:
        if self.mode == "max":
            return self.peak
        return torch.where(self.count > 0, self.total / self.count.clamp_min(1), 0.0)


@register_wrapper("sess")
@functools.cache
def sess_of(base: type[HeatmapMethod]) -> type[HeatmapMethod]:
    """The SESS class wrapping ``base`` (one class per base, named ``<base>+sess``)."""
    clash = sorted(set(base.defaults) & set(SESS.own_defaults))
    if clash:
        raise ValueError(f"{base.name}+sess: parameters {clash} are both the method's and "
                         "SESS's")
    return type(f"{base.__name__}SESS", (SESS,), {
        "name": f"{base.name}+sess", "base": base, "requires": base.requires,
        "extra": base.extra, "defaults": {**SESS.own_defaults, **base.defaults},
        "__doc__": f"SESS around {base.name}."})
