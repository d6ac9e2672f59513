"""Counterfactual: the background-swap test (``reportgen.metrics.background_swap``) per model.

Streaming like the other stages: ``update(batch)`` keeps the first
``counterfactual.max_samples`` usable samples at each model input size (the image resized as
the model's preprocessing does, rounded to uint8, and the object mask), so memory is bounded
(150 KB per sample at 224 x 224); ``compute()`` pairs donors over all kept samples (so the
result does not depend on the batch size), runs each model on the four variants and returns
score rows (method ``background_swap``, region ``object``) and exclusions.

Excluded, with a reason: samples without an object mask (no part or object pixel) and samples
whose object covers more than ``max_object_share`` of the image (no background to swap).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from reportgen.data.sample import Sample
from reportgen.exclusions import Exclusion
from reportgen.heatmaps.base import HeatmapBatch
from reportgen.metrics.background_swap import (
    SwapInputs,
    fill_removed,
    model_predictor,
    swap_scores,
)
from reportgen.metrics.part_removal import part_removal_drops, rank_agreement
from reportgen.scoring import empty_scores
from reportgen.scoring.table import object_metric_rows
from reportgen.stages.load import Batch, RunInputs
from reportgen.vocab import PART_REMOVAL_METHOD, SWAP_METHOD

METHOD = SWAP_METHOD
PART_METHOD = PART_REMOVAL_METHOD
PART_DROP, AGREEMENT = "part.removal_drop", "part.rank_agreement"
PH = "pqah.ph"
STAGE = "counterfactual"


@dataclass(frozen=True)
class _Held:
    """What the rows need of a kept sample (the duck type of ``Sample`` they read)."""

    image_id: str
    object_id: int
    class_name: str
    class_index: int
    source: str


@dataclass
class _AtSize:
    """Kept samples at one input size S: (S, S, 3) uint8 images and (S, S) bool masks."""

    images: list[np.ndarray] = field(default_factory=list)
    objects: list[np.ndarray] = field(default_factory=list)
    parts: list[np.ndarray] = field(default_factory=list)  # (K, S, S) bool, bit-packed


def at_input_size(sample: Sample, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The image resized as ``Preprocessing`` does (bilinear, antialiased), rounded to uint8,
    and the object mask and (K, S, S) part masks resized to match (a pixel belongs to a mask
    when most of it does)."""
    image = torch.from_numpy(np.ascontiguousarray(sample.image)).permute(2, 0, 1)[None].float()
    masks = torch.from_numpy(np.concatenate([sample.object_region()[None],
                                             sample.region_masks()[1:]]))[None].float()
    if image.shape[-2:] != (size, size):
        image = F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False,
                              antialias=True)
        masks = F.interpolate(masks, size=(size, size), mode="area")
    pixels = image[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
    masks = (masks[0] >= 0.5).numpy()
    return pixels, masks[0], masks[1:]


class CounterfactualStage:
    """``update(batch)`` keeps samples; ``compute()`` tests every model on them."""

    def __init__(self, inputs: RunInputs):
        self.inputs = inputs
        self.settings = inputs.config.counterfactual
        self.sizes = sorted({m.spec.preprocessing.size for m in inputs.models})
        self.enabled = self.settings.enabled and bool(inputs.models)
        self._held: list[_Held] = []
        self._at: dict[int, _AtSize] = {s: _AtSize() for s in self.sizes}
        self.exclusions: list[Exclusion] = []

    @property
    def full(self) -> bool:
        """Whether the stage holds its ``max_samples`` samples (later batches add nothing)."""
        limit = self.settings.max_samples
        return limit is not None and len(self._held) >= limit

    def update(self, batch: Batch) -> None:
        if not self.enabled:
            return
        for s in batch.samples:
            if self.full:
                return
            share = float(s.object_region().sum()) / max(1, int(s.valid_pixels().sum()))
            reason = ("no object mask (no part or object pixel)" if share == 0 else
                      f"the object covers {share:.0%} of the image (above "
                      f"max_object_share {self.settings.max_object_share:.0%}): no background "
                      "to swap" if share > self.settings.max_object_share else "")
            if reason:
                self.exclusions.append(Exclusion(s.image_id, STAGE, reason, s.source,
                                                 object_id=s.object_id))
                continue
            self._held.append(_Held(s.image_id, s.object_id, s.class_name, s.class_index,
                                    s.source))
            for size in self.sizes:
                image, obj, parts = at_input_size(s, size)
                self._at[size].images.append(image)
                self._at[size].objects.append(obj)
                self._at[size].parts.append(np.packbits(parts, axis=-1))

    def compute(self) -> pd.DataFrame:
        """Score rows of every model (empty when disabled or nothing was kept)."""
        if not self.enabled or not self._held:
            return empty_scores()
        seed, config = self.inputs.config.seed, self.inputs.config
        classes = np.array([h.class_index for h in self._held])
        filled: dict[int, np.ndarray] = {}
        frames = []
        for model in self.inputs.models:
            prep = model.spec.preprocessing
            held = self._at[prep.size]
            images = np.stack(held.images).astype(np.float32)
            objects = np.stack(held.objects)
            neutral = (np.asarray(prep.mean, np.float32) * prep.pixel_scale).clip(0, 255)
            key = prep.size if self.settings.fill == "impute" else id(model)
            if key not in filled:  # imputation does not depend on the model: once per size
                filled[key] = fill_removed(images, objects, self.settings.fill, seed, neutral)
            names = self.inputs.output_names[model.name]
            targets = np.array([names.index(h.class_name) if h.class_name in names else -1
                                for h in self._held])
            predict = model_predictor(model.module, prep, model.device, config.batch_size)
            probs = predict(images)  # the unmodified images: once for both tests
            values, predicted, target = swap_scores(
                predict, SwapInputs(images, objects, filled[key], classes, neutral),
                targets, seed, original=probs)
            n = len(self._held)
            batch = HeatmapBatch(np.zeros((n, 1, 1), np.float32), predicted,
                                 np.full(n, np.nan, np.float32), target)
            frames.append(object_metric_rows(self._held, batch, values, model.name, METHOD,
                                             names))
            if self.settings.part_removal:
                parts = np.unpackbits(np.stack(held.parts), axis=-1, count=prep.size
                                      ).astype(bool)
                p0 = probs[np.arange(n), target]
                drops = part_removal_drops(predict, images, parts, target, p0,
                                           self.settings.fill, seed, neutral)
                frames.append(self._part_rows(drops, batch, model.name, names))
        return pd.concat(frames, ignore_index=True)

    def _part_rows(self, drops: np.ndarray, batch: HeatmapBatch, model: str,
                   names: list[str]) -> pd.DataFrame:
        """``part.removal_drop`` rows (region = the part) of one model."""
        parts = np.asarray(self.inputs.part_names, dtype=object)
        frames = [object_metric_rows(self._held, batch, {PART_DROP: drops[:, k]}, model,
                                     PART_METHOD, names).assign(region=parts[k])
                  for k in range(drops.shape[1])]
        return pd.concat(frames, ignore_index=True) if frames else empty_scores()


def with_counterfactual(scored, stage: CounterfactualStage):
    """``scored`` (the score stage's ``Scored``) with the test's rows and exclusions added;
    the sample counts stay the score stage's (the test is an extra, like faithfulness)."""
    rows = stage.compute()
    if rows.empty and not stage.exclusions:
        return scored
    rows = pd.concat([rows, agreement_rows(scored.scores, rows)], ignore_index=True)
    table = pd.DataFrame([e.as_row() for e in stage.exclusions],
                         columns=list(scored.exclusions.columns))
    return replace(scored, scores=pd.concat([scored.scores, rows], ignore_index=True),
                   exclusions=pd.concat([scored.exclusions, table], ignore_index=True))


def agreement_rows(scores: pd.DataFrame, removal: pd.DataFrame) -> pd.DataFrame:
    """``part.rank_agreement`` per (model, method, sample): Spearman between the method's PH
    per part and the model's part-removal drops, over the sample's parts (region ``object``,
    one row per sample with at least three parts scored in both)."""
    drops = removal[removal.metric == PART_DROP]
    if drops.empty:
        return empty_scores()
    key = ["image_id", "object_id"]
    frames = []
    for model, model_drops in drops.groupby("model", sort=True):
        d = model_drops.pivot_table(index=key, columns="region", values="value")
        ph = scores[(scores.model == model) & (scores.metric == PH)
                    & scores.region.isin(d.columns)]
        for _, rows in ph.groupby("method", sort=True):
            p = rows.pivot_table(index=key, columns="region", values="value")
            p, dd = p.align(d, join="inner")
            rho = rank_agreement(p.to_numpy(), dd.to_numpy())
            ok = np.isfinite(rho)
            first = rows.drop_duplicates(key).set_index(key).loc[p.index[ok]]
            frames.append(first.reset_index().assign(region="object", metric=AGREEMENT,
                                                     value=rho[ok])[scores.columns])
    return pd.concat(frames, ignore_index=True) if frames else empty_scores()
