"""The per-batch entry point for runs: images in, heatmaps and predictions out, via the cache.

``HeatmapEngine(model, method, cache).explain(images, classes)`` hashes the images, takes
what the cache has, preprocesses and explains only the rest (one batch on the model's
device), stores those in one atomic shard and returns the whole batch in input order.
Heatmaps always pass through float16, cached or not, so a resumed run, a cached run and a
``--no-cache`` run give the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch

from reportgen.heatmaps.base import HeatmapBatch, HeatmapMethod, make_method
from reportgen.heatmaps.cache import DisabledCache, HeatmapCache, quantize
from reportgen.heatmaps.keys import context_digest, heatmap_key, image_digest
from reportgen.models.loading import LoadedModel


class HeatmapEngine:
    """One model x one method, explaining batches through a cache.

    ``computed`` and ``reused`` count images explained afresh and taken from the cache.
    """

    def __init__(self, model: LoadedModel, method: str | HeatmapMethod,
                 cache: HeatmapCache | None = None):
        self.model = model
        self.method = make_method(method) if isinstance(method, str) else method
        self.cache = cache if cache is not None else DisabledCache()
        self.context = context_digest(model, self.method)
        self.computed = 0
        self.reused = 0

    def keys(self, images: Sequence[np.ndarray], classes: Sequence[int] | None = None
             ) -> list[str]:
        targets = [None] * len(images) if classes is None else list(classes)
        return [heatmap_key(self.context, image_digest(im), t)
                for im, t in zip(images, targets, strict=True)]

    def explain(self, images: Sequence[np.ndarray], classes: Sequence[int] | None = None,
                on_device: bool = False) -> HeatmapBatch:
        """Heatmaps of (H, W, 3) uint8 ``images``; ``classes`` None = the predicted classes,
        else the classes to explain (e.g. the ground truth), one per image. ``on_device``:
        return the heatmaps as a tensor on the model's device (cached rows are moved there),
        for scoring there; the cache gets the one host copy."""
        keys = self.keys(images, classes)
        found = self.cache.lookup(keys)
        missing = [i for i, entry in enumerate(found) if entry is None]
        fresh = None
        if missing:
            inputs = self.model.spec.preprocessing([images[i] for i in missing],
                                                   self.model.device)
            wanted = None if classes is None else [classes[i] for i in missing]
            fresh = quantize(self.method.explain(self.model, inputs, wanted).to_batch(
                on_device=on_device))
            self.cache.store([keys[i] for i in missing], fresh)
        self.computed += len(missing)
        self.reused += len(images) - len(missing)
        if fresh is not None and len(missing) == len(found):
            return fresh
        merged = _merge(found, missing, None if fresh is None else fresh.to_host(),
                        self.model.spec.preprocessing.size)
        if on_device:
            merged = replace(merged, heatmaps=torch.from_numpy(merged.heatmaps).to(
                self.model.device))
        return merged


def _merge(found, missing: list[int], fresh: HeatmapBatch | None, size: int) -> HeatmapBatch:
    """Cached entries and freshly computed rows back in input order."""
    n = len(found)
    shape = fresh.heatmaps.shape[1:] if fresh is not None else (
        found[0].heatmap.shape if n else (size, size))
    heat = np.empty((n, *shape), np.float32)
    predicted = np.empty(n, np.int64)
    probability = np.empty(n, np.float32)
    target = np.empty(n, np.int64)
    for i, entry in enumerate(found):
        if entry is not None:
            heat[i] = entry.heatmap
            predicted[i], probability[i], target[i] = (entry.predicted, entry.probability,
                                                       entry.target)
    if fresh is not None:
        heat[missing] = fresh.heatmaps
        predicted[missing], probability[missing] = fresh.predicted, fresh.probability
        target[missing] = fresh.target
    return HeatmapBatch(heat, predicted, probability, target)
