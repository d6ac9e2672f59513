"""SAG (Shitole et al., "One Explanation is Not Enough: Structured Attention Graphs for Image
Classification", NeurIPS 2021): several minimal sufficient explanations per image.

The image is cut into a ``grid`` x ``grid`` set of patches. An *explanation* is a set of
patches that, kept while the rest is replaced by a ``baseline`` image (black by default),
keeps the target-class probability above ``threshold`` x its probability on the full image.
Following the reference implementation (github.com/viv92/structured-attention-graphs):

1. The patches are ranked by a short I-GOS run (``ranking_iterations`` iterations, the
   reference's 2); a search step may only add one of the ``successors`` best-ranked patches
   not yet in the set.
2. Beam search from the empty set: every beam set is grown by each allowed patch; the
   candidates are scored (kept patches upsampled bilinearly, as the reference does); a
   sufficient one is reduced until no single patch can be dropped (minimal) and recorded,
   the best ``beam_width`` insufficient ones form the next beam. The search stops after
   ``max_explanations`` distinct explanations or ``max_size`` patches.
3. Diversity: the largest subset of the explanations in which any two share at most
   ``max_overlap`` patches (ties: the more probable explanations first).

Where the baseline alone keeps the probability above the bar, nothing in the image is needed
and the image has no explanation (count 0); the reference would report every single patch.
Without a ranking (``ranking_iterations: 0``) every patch is a successor.

``find_explanations`` returns the structure (``MultipleExplanations``: per image the distinct
explanations, their probabilities and count); the method ``sag`` gives the heatmap every
metric scores: per pixel, the share of the image's diverse explanations that keep it (0 for
all pixels when none is found, which the scorer excludes as degenerate).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from reportgen.heatmaps.base import HeatmapMethod, register_method
from reportgen.heatmaps.igos import IGOS, gaussian_blur
from reportgen.heatmaps.targets import choose_classes
from reportgen.models.loading import LoadedModel

SAG_DEFAULTS: dict[str, Any] = {
    "grid": 7, "threshold": 0.9, "beam_width": 3, "successors": 15, "max_explanations": 10,
    "max_overlap": 1, "max_size": 49, "baseline": "black", "ranking_iterations": 2,
    "batch_size": 64}


@dataclass(frozen=True)
class MultipleExplanations:
    """The diverse minimal sufficient explanations of N images.

    ``patches[i]``: (k_i, grid, grid) bool, the kept patches of each of image i's diverse
    explanations, most probable first (k_i = 0 when the search found none); ``probability[i]``
    (k_i,) the target probability with only those patches; ``full_probability`` (N,) on the
    whole image; ``found`` (N,) distinct minimal explanations before the diversity filter.
    """

    patches: list[np.ndarray]
    probability: list[np.ndarray]
    full_probability: np.ndarray
    found: np.ndarray

    @property
    def count(self) -> np.ndarray:
        """(N,) int: the number of distinct (diverse) explanations per image."""
        return np.array([len(p) for p in self.patches], dtype=np.int64)

    def maps(self, index: int, size: tuple[int, int]) -> np.ndarray:
        """(k, H, W) float32 in [0, 1]: image ``index``'s explanations at input resolution,
        as the model saw them (the patch masks upsampled bilinearly)."""
        patches = torch.from_numpy(self.patches[index].astype(np.float32))
        if not len(patches):
            return np.zeros((0, *size), np.float32)
        return upsample(patches[:, None], size)[:, 0].numpy()


def upsample(keep: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(n, 1, g, g) patch masks -> (n, 1, H, W), bilinear with aligned corners (reference)."""
    return F.interpolate(keep, size=size, mode="bilinear", align_corners=True)


class _Scorer:
    """Target probability of images with only some patches kept, batched over candidates and
    memoised per (image, patch set): the minimisations of overlapping candidates share most of
    their trials."""

    def __init__(self, model: LoadedModel, inputs: torch.Tensor, baseline: torch.Tensor,
                 classes: torch.Tensor, grid: int, batch_size: int):
        self.model, self.inputs, self.baseline, self.classes = model, inputs, baseline, classes
        self.grid, self.batch_size = grid, batch_size
        self.known: dict[tuple[int, frozenset[int]], float] = {}

    def __call__(self, rows: list[int], sets: list[frozenset[int]]) -> np.ndarray:
        """Probability of image ``rows[k]`` keeping only patches ``sets[k]``."""
        keys = list(zip(rows, sets, strict=True))
        new = list(dict.fromkeys(k for k in keys if k not in self.known))
        if new:
            probs = self._evaluate([r for r, _ in new], [s for _, s in new])
            self.known.update(zip(new, probs.tolist(), strict=True))
        return np.array([self.known[k] for k in keys], np.float64)

    @torch.no_grad()
    def _evaluate(self, rows: list[int], sets: list[frozenset[int]]) -> np.ndarray:
        out = np.empty(len(rows), np.float64)
        for lo in range(0, len(rows), self.batch_size):
            hi = min(lo + self.batch_size, len(rows))
            keep = torch.zeros(hi - lo, self.grid * self.grid, device=self.inputs.device)
            for k, patches in enumerate(sets[lo:hi]):
                keep[k, list(patches)] = 1.0
            up = upsample(keep.view(-1, 1, self.grid, self.grid), self.inputs.shape[-2:])
            index = torch.as_tensor(rows[lo:hi], device=self.inputs.device)
            images = self.inputs[index] * up + self.baseline[index] * (1 - up)
            probs = torch.softmax(self.model.module(images).float(), dim=1)
            out[lo:hi] = probs.gather(1, self.classes[index, None])[:, 0].cpu().numpy()
        return out


def _minimal(score: _Scorer, row: int, patches: frozenset[int], prob: float, bar: float
             ) -> tuple[frozenset[int], float]:
    """Drop patches while the rest stays sufficient (all single drops scored at once; the
    first that stays above ``bar`` in patch order is taken), until none can be dropped."""
    while len(patches) > 1:
        order = sorted(patches)
        trials = [patches - {p} for p in order]
        probs = score([row] * len(trials), trials)
        passing = np.nonzero(probs > bar)[0]
        if not len(passing):
            break
        patches, prob = trials[passing[0]], float(probs[passing[0]])
    return patches, prob


def diverse_subset(sets: list[frozenset[int]], max_overlap: int) -> list[int]:
    """Indices of the largest subset whose members pairwise share <= ``max_overlap`` items
    (exhaustive; among equally large subsets, the lexicographically first)."""
    n = len(sets)
    for size in range(n, 0, -1):
        for chosen in itertools.combinations(range(n), size):
            if all(len(sets[a] & sets[b]) <= max_overlap
                   for a, b in itertools.combinations(chosen, 2)):
                return list(chosen)
    return []


def _rank_patches(model, inputs, classes, params) -> np.ndarray:
    """(N, grid*grid) patch indices, most important first (short I-GOS run), or in index
    order when ``ranking_iterations`` is 0."""
    grid, n = params["grid"], len(inputs)
    if params["ranking_iterations"] <= 0:
        return np.tile(np.arange(grid * grid), (n, 1))
    igos = IGOS(iterations=params["ranking_iterations"], batch_size=params["batch_size"])
    raw, _, _ = igos.attribute(model, inputs, classes)  # (N, s, s): 1 - mask, high = needed
    pooled = F.adaptive_avg_pool2d(raw[:, None].float(), grid).flatten(1)
    return torch.argsort(-pooled, dim=1, stable=True).cpu().numpy()


def _baseline(model: LoadedModel, inputs: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "black":
        h, w = inputs.shape[-2:]
        black = model.spec.preprocessing([np.zeros((h, w, 3), np.uint8)], inputs.device)
        return black.expand_as(inputs)
    if kind == "blur":
        return gaussian_blur(inputs, 51, 50.0)
    if kind == "mean":
        return torch.zeros_like(inputs)
    raise ValueError(f"sag: baseline must be black, blur or mean, got {kind!r}")


def find_explanations(model: LoadedModel, inputs: torch.Tensor, classes: Any = None,
                      **params: Any) -> MultipleExplanations:
    """SAG's search on (N, 3, H, W) normalised ``inputs`` for ``classes`` (None: predicted);
    ``params`` override ``SAG_DEFAULTS``. All candidates of a search depth, over all images,
    are scored in batches of ``batch_size`` on the model's device."""
    unknown = sorted(set(params) - set(SAG_DEFAULTS))
    if unknown:
        raise ValueError(f"sag: unknown parameters {unknown}")
    p = {**SAG_DEFAULTS, **params}
    inputs = inputs.to(model.device)
    with torch.no_grad():
        logits = model.module(inputs)
    chosen = choose_classes(logits, classes)
    full = torch.softmax(logits.float(), 1).gather(1, chosen[:, None])[:, 0].cpu().numpy()
    score = _Scorer(model, inputs, _baseline(model, inputs, p["baseline"]), chosen, p["grid"],
                    p["batch_size"])
    ranking = _rank_patches(model, inputs, chosen, p)
    successors = p["successors"] if p["ranking_iterations"] > 0 else p["grid"] ** 2
    n = len(inputs)
    beams: list[list[frozenset[int]]] = [[frozenset()] for _ in range(n)]
    roots: list[dict[frozenset[int], float]] = [{} for _ in range(n)]
    # The baseline alone already sufficient: nothing in the image is needed, no explanation.
    empty = score(list(range(n)), [frozenset()] * n)
    active = {i for i in range(n) if empty[i] <= p["threshold"] * full[i]}
    for _ in range(min(p["max_size"], p["grid"] ** 2)):
        rows, sets = [], []
        for i in sorted(active):
            grown = {b | {q} for b in beams[i]
                     for q in [q for q in ranking[i] if q not in b][:successors]}
            grown = sorted(grown, key=sorted)
            rows += [i] * len(grown)
            sets += grown
        if not rows:
            break
        probs = score(rows, sets)
        for i in sorted(active):
            mine = sorted((k for k, r in enumerate(rows) if r == i), key=lambda k: -probs[k])
            beams[i] = []
            for k in mine:
                if probs[k] > p["threshold"] * full[i]:
                    root, value = _minimal(score, i, sets[k], float(probs[k]),
                                           p["threshold"] * full[i])
                    roots[i].setdefault(root, value)
                elif len(beams[i]) < p["beam_width"]:
                    beams[i].append(sets[k])
            if len(roots[i]) >= p["max_explanations"] or not beams[i]:
                active.discard(i)
        if not active:
            break
    return _diverse(roots, full, p)


def _diverse(roots, full, p) -> MultipleExplanations:
    patches, probability = [], []
    for found in roots:
        ordered = sorted(found.items(), key=lambda kv: (-kv[1], sorted(kv[0])))
        keep = diverse_subset([s for s, _ in ordered], p["max_overlap"])
        grid = np.zeros((len(keep), p["grid"] ** 2), bool)
        for row, index in enumerate(keep):
            grid[row, list(ordered[index][0])] = True
        patches.append(grid.reshape(-1, p["grid"], p["grid"]))
        probability.append(np.array([ordered[j][1] for j in keep], np.float64))
    return MultipleExplanations(patches, probability, full.astype(np.float64),
                                np.array([len(r) for r in roots], np.int64))


@register_method
class SAG(HeatmapMethod):
    """SAG as a heatmap: per pixel, the share of the diverse explanations that keep it."""

    name = "sag"
    defaults: ClassVar[dict[str, Any]] = SAG_DEFAULTS

    def attribute(self, model: LoadedModel, inputs: torch.Tensor, classes: Any
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            logits = model.module(inputs)
        chosen = choose_classes(logits, classes)
        found = find_explanations(model, inputs, chosen, **self.params)
        size = tuple(inputs.shape[-2:])
        heat = torch.stack([torch.from_numpy(found.maps(i, size)).mean(0) if found.count[i]
                            else torch.zeros(size) for i in range(len(inputs))])
        return heat.to(inputs.device), logits, chosen

    def finish(self, raw: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        peak = raw.flatten(1).max(dim=1).values
        return raw.float() / torch.where(peak > 0, peak, 1.0)[:, None, None]
