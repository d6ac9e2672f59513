"""Faithfulness: does the model's confidence follow the heatmap? (METRICS.md, "Faithfulness").

Per image, with ``Y`` the softmax probability of the target class on the unmodified input and
``O`` on a modified one (``H`` the normalised heatmap at the input's resolution):

* drop     ``100 * max(0, Y - O) / Y``   (its mean over images is Grad-CAM++'s Average Drop %)
* increase ``100 * 1[Y < O]``            (its mean is Grad-CAM++'s Increase in Confidence %)

for three modifications: the input multiplied by ``H`` (``faith.avg_drop``,
``faith.increase_in_confidence``); occlusion "b", which keeps the salient region
``S = H >= threshold`` and fills the rest; occlusion "s", which fills ``S``. Plus ROAD
(``reportgen.metrics.road``). Inputs are in the model's normalised space, so multiplying by
``H`` and the default ``mean`` fill both move pixels towards the dataset mean colour (zero).

``score_faithfulness`` runs the unmodified batch through the model once, and every modified
copy (3 + 2 x fractions per image) in batches of ``max_batch``; with ``deletion_insertion``
on, also RISE's deletion and insertion curves (``reportgen.metrics.deletion_insertion``, about
2 x ``deletion_steps`` more forward passes per image), reusing the unmodified pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reportgen.metrics.deletion_insertion import (
    DeletionInsertionConfig,
    DeletionInsertionCurves,
    deletion_insertion_curves,
)
from reportgen.metrics.normalize import normalize_heatmaps
from reportgen.metrics.registry import Direction, MetricInfo, register_metric
from reportgen.metrics.road import (
    DEFAULT_FRACTIONS,
    ROAD_METRICS,
    RoadConfig,
    RoadCurves,
    RoadImputation,
    curve_metric_id,
)

GRADCAM_PP_REFERENCE = ("Chattopadhay et al., Grad-CAM++: Improved Visual Explanations for Deep "
                        "Convolutional Networks, WACV 2018, arXiv 1710.11063")
OCCLUSION_REFERENCE = ("Grad-CAM++ drop and increase (arXiv 1710.11063) on inputs whose "
                       "salient region (normalised heat >= 0.5) is kept or occluded")
Fill = Literal["mean", "blur", "noise"]
FILLS: tuple[str, ...] = ("mean", "blur", "noise")


@dataclass(frozen=True)
class FaithfulnessConfig:
    """Settings of ``score_faithfulness``.

    ``threshold``: salient region ``H >= threshold``; ``fill``: what replaces occluded pixels:
    ``mean`` (normalised zero), ``blur`` (the input blurred with a Gaussian of ``blur_sigma``
    times the shorter side), ``noise`` (Gaussian noise of ``fill_noise_std`` normalised units);
    ``fractions``, ``road_noise_std``, ``workers``: ROAD (``RoadConfig``); ``seed`` seeds every
    random choice; ``max_batch``: images per forward pass; ``deletion_insertion``: also RISE's
    deletion and insertion AUCs, with ``deletion_steps`` steps (``DeletionInsertionConfig``).
    """

    threshold: float = 0.5
    fill: Fill = "mean"
    blur_sigma: float = 0.05
    fill_noise_std: float = 1.0
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    road_noise_std: float = 0.01
    seed: int = 0
    max_batch: int = 64
    workers: int | None = None
    deletion_insertion: bool = False
    deletion_steps: int = 32

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.fill not in FILLS:
            raise ValueError(f"fill must be one of {', '.join(FILLS)}, got {self.fill!r}")
        if self.blur_sigma <= 0 or self.fill_noise_std < 0:
            raise ValueError("blur_sigma must be > 0 and fill_noise_std >= 0")
        _ = self.road, self.deletion_insertion_config  # validates their settings now

    @property
    def road(self) -> RoadConfig:
        return RoadConfig(tuple(self.fractions), self.road_noise_std, self.seed, self.workers,
                          self.max_batch)

    @property
    def deletion_insertion_config(self) -> DeletionInsertionConfig:
        return DeletionInsertionConfig(self.deletion_steps, seed=self.seed,
                                       max_batch=self.max_batch)


@dataclass(frozen=True)
class FaithfulnessScores:
    """Per-image faithfulness of one batch of N samples.

    ``values``: metric id -> (N,) float64 (NaN for excluded samples); ``probability``: (N,)
    target probability on the unmodified input; ``road``: the ROAD curves (for figures and
    facts); ``excluded``: sample index -> reason, for ``exclusions.csv``;
    ``deletion_insertion``: RISE's curves (NaN rows for excluded samples), None when off.
    """

    values: dict[str, np.ndarray]
    probability: np.ndarray
    road: RoadCurves
    excluded: dict[int, str]
    deletion_insertion: DeletionInsertionCurves | None = None


class TargetProbability:
    """Softmax probability of each row's target class, in forward passes of ``max_batch``.

    Batches go in channels-last memory layout (same values; convolutions run faster on CPU).
    """

    def __init__(self, model: nn.Module, max_batch: int = 64) -> None:
        self.model = model
        self.max_batch = max_batch

    def __call__(self, batch: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W), (B,) int64 -> (B,) float64, on the batch's device."""
        out = []
        with torch.inference_mode():
            for chunk, target in zip(batch.split(self.max_batch),
                                     targets.split(self.max_batch), strict=True):
                logits = self.model(chunk.contiguous(memory_format=torch.channels_last))
                low, high = int(target.min()), int(target.max())
                if logits.ndim != 2 or low < 0 or high >= logits.shape[1]:
                    raise ValueError(f"model output {tuple(logits.shape)} has no column for "
                                     f"target class {low if low < 0 else high}")
                probs = torch.softmax(logits.double(), dim=1)
                out.append(probs.gather(1, target.view(-1, 1)).squeeze(1))
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64,
                                                      device=batch.device)


def _model_device(model: nn.Module, fallback: torch.device) -> torch.device:
    param = next(iter(model.parameters()), None)
    return param.device if param is not None else fallback


def prepare_heatmaps(heatmaps: Any, count: int, size: tuple[int, int],
                     device: torch.device) -> tuple[torch.Tensor, dict[int, str]]:
    """Normalise heatmaps for the faithfulness metrics (METRICS.md, "Heatmap normalisation").

    Args:
        heatmaps: (N, h, w) array or tensor, or a sequence of N (h_i, w_i) arrays; any range.
        count: N, the number of inputs (a different number of heatmaps raises ValueError).
        size: the inputs' (H, W); a heatmap of the same aspect ratio is resized (bilinear).

    Returns:
        (N, H, W) float32 in [0, 1] on ``device`` (zeros for excluded samples), and the
        excluded samples: index -> reason (shape mismatch, non-finite value, no positive value).
    """
    if isinstance(heatmaps, Sequence):  # one array per sample, shapes may differ
        groups = [([i], _as_tensor(h)[None]) for i, h in enumerate(heatmaps)]
    else:
        stack = _as_tensor(heatmaps)
        if stack.ndim != 3:
            raise ValueError(f"expected heatmaps (N, h, w), got shape {tuple(stack.shape)}")
        groups = [(list(range(len(stack))), stack)]
    if sum(len(idx) for idx, _ in groups) != count:
        raise ValueError(f"got {sum(len(idx) for idx, _ in groups)} heatmaps for {count} inputs")
    out = torch.zeros((count, *size), dtype=torch.float32, device=device)
    excluded: dict[int, str] = {}
    for idx, heat in groups:
        shape = tuple(heat.shape[1:])
        if len(shape) != 2 or 0 in shape or not math.isclose(
                shape[0] / shape[1], size[0] / size[1], rel_tol=0.01):
            excluded.update({i: f"heatmap shape {shape} does not match the input's "
                                f"{size[0]}x{size[1]} (different aspect ratio)" for i in idx})
            continue
        heat = heat.to(device)
        finite = torch.isfinite(heat).flatten(1).all(dim=1)
        normalised, degenerate = normalize_heatmaps(heat, size=size)
        usable = finite & ~degenerate
        out[torch.as_tensor(idx, device=device)[usable]] = normalised[usable]
        for i, is_finite, is_usable in zip(idx, finite.tolist(), usable.tolist(), strict=True):
            if not is_usable:
                excluded[i] = ("heatmap has no positive value (all zero or negative)" if is_finite
                               else "heatmap has a non-finite value (NaN or inf)")
    return out, excluded


def _as_tensor(x: Any) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """(N, C, H, W) -> same shape: separable Gaussian blur, ``sigma`` in pixels, edges
    replicated."""
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = images.shape[1]
    out = F.pad(images, (radius, radius, 0, 0), mode="replicate")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    out = F.pad(out, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(out, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def occlusion_fill(images: torch.Tensor, config: FaithfulnessConfig) -> torch.Tensor:
    """What replaces occluded pixels: (N, C, H, W) on the images' device (seeded noise)."""
    if config.fill == "mean":
        return torch.zeros_like(images)
    if config.fill == "blur":
        return gaussian_blur(images, config.blur_sigma * min(images.shape[-2:]))
    generator = torch.Generator().manual_seed(config.seed)
    noise = torch.randn(images.shape, generator=generator, dtype=images.dtype)
    return config.fill_noise_std * noise.to(images.device)


def confidence_drop(clean: np.ndarray, modified: np.ndarray) -> np.ndarray:
    """Per-image ``100 * max(0, Y - O) / Y`` (percent)."""
    return 100 * np.maximum(clean - modified, 0) / clean


def confidence_increase(clean: np.ndarray, modified: np.ndarray) -> np.ndarray:
    """Per-image ``100 * 1[Y < O]`` (percent: 0 or 100)."""
    return 100 * (clean < modified).astype(np.float64)


def _info(metric_id: str, name: str, meaning: str, direction: Direction,
          reference: str) -> MetricInfo:
    # Each is defined as an average over images (Grad-CAM++): summarised by the mean.
    return MetricInfo(metric_id, name, meaning, (0.0, 100.0), direction, "percent", reference,
                      level="object", summary="mean")


FAITHFULNESS_METRICS = (
    _info("faith.avg_drop", "Average Drop", "relative drop of the target probability when the "
          "input is multiplied by the heatmap (per image 100 * max(0, Y - O) / Y; averaged over "
          "images)", "lower", GRADCAM_PP_REFERENCE),
    _info("faith.increase_in_confidence", "Increase in Confidence", "share of images whose "
          "target probability rises when the input is multiplied by the heatmap (per image 0 "
          "or 100)", "higher", GRADCAM_PP_REFERENCE),
    _info("faith.occlusion_b.drop", "Drop, salient region kept", "relative drop of the target "
          "probability when everything outside the heatmap's salient region is filled",
          "lower", OCCLUSION_REFERENCE),
    _info("faith.occlusion_b.increase", "Increase, salient region kept", "share of images "
          "whose target probability rises when everything outside the salient region is "
          "filled", "higher", OCCLUSION_REFERENCE),
    _info("faith.occlusion_s.drop", "Drop, salient region occluded", "relative drop of the "
          "target probability when the heatmap's salient region is filled", "higher",
          OCCLUSION_REFERENCE),
    _info("faith.occlusion_s.increase", "Increase, salient region occluded", "share of images "
          "whose target probability rises when the salient region is filled", "lower",
          OCCLUSION_REFERENCE),
)
_VARIANTS = (("faith.avg_drop", "faith.increase_in_confidence"),
             ("faith.occlusion_b.drop", "faith.occlusion_b.increase"),
             ("faith.occlusion_s.drop", "faith.occlusion_s.increase"))


@register_metric(*FAITHFULNESS_METRICS)
def score_faithfulness(model: nn.Module, inputs: torch.Tensor, heatmaps: Any, targets: Any,
                       config: FaithfulnessConfig | None = None) -> FaithfulnessScores:
    """Faithfulness metrics and ROAD for one batch.

    Args:
        model: classifier returning logits (N, K), in eval mode.
        inputs: (N, C, H, W) float, normalised (moved to the model's device).
        heatmaps: (N, h, w) or N arrays (h_i, w_i), any range (see ``prepare_heatmaps``).
        targets: (N,) int class ids whose probability is scored.

    Returns:
        FaithfulnessScores with the ``faith.*`` and ``road.*`` values per image (the deletion
        and insertion AUCs only when ``config.deletion_insertion``); samples with
        a bad heatmap or a zero/non-finite target probability are excluded with a reason.
    """
    config = config or FaithfulnessConfig()
    device = _model_device(model, inputs.device)
    x = inputs.to(device).float()
    n, _, h, w = x.shape
    target = _as_tensor(targets).to(device).long().view(-1)
    if target.numel() != n:
        raise ValueError(f"got {target.numel()} targets for {n} inputs")
    heat, excluded = prepare_heatmaps(heatmaps, n, (h, w), device)
    probability = TargetProbability(model, config.max_batch)
    clean = probability(x, target).cpu().numpy()
    for i in np.flatnonzero(~(np.isfinite(clean) & (clean > 0))):
        excluded.setdefault(int(i), "target probability on the unmodified input is zero or "
                                    "not finite")
    keep = np.array([i for i in range(n) if i not in excluded], dtype=np.int64)
    values = {info.id: np.full(n, np.nan) for info in (*FAITHFULNESS_METRICS, *ROAD_METRICS)}
    curves = np.full((2, n, len(config.fractions)), np.nan)
    rise: DeletionInsertionCurves | None = None
    if keep.size:
        rows = torch.as_tensor(keep, device=device)
        xk, hk, tk = x[rows], heat[rows].unsqueeze(1), target[rows]
        with RoadImputation(xk, hk.squeeze(1), config.road) as road:  # solving starts here
            salient = hk >= config.threshold
            fill = occlusion_fill(xk, config)
            modified = torch.cat([xk * hk, torch.where(salient, xk, fill),
                                  torch.where(salient, fill, xk)])
            scores = probability(modified, tk.repeat(3)).cpu().numpy().reshape(3, -1)
            if config.deletion_insertion:  # the ROAD solves go on meanwhile
                rise = _deletion_insertion(probability, xk, hk.squeeze(1), tk, clean, keep,
                                           n, config)
            road_curves = road.curves(probability, tk)
        for (drop_id, increase_id), o in zip(_VARIANTS, scores, strict=True):
            values[drop_id][keep] = confidence_drop(clean[keep], o)
            values[increase_id][keep] = confidence_increase(clean[keep], o)
        curves[0][keep], curves[1][keep] = road_curves.morf, road_curves.lerf
    road = RoadCurves(np.asarray(config.fractions, dtype=np.float64), curves[0], curves[1])
    values["road.morf"] = road.morf.mean(axis=1)
    values["road.lerf"] = road.lerf.mean(axis=1)
    values["road.combined"] = road.combined
    if config.deletion_insertion:
        if rise is None:  # every sample excluded
            rise = _deletion_insertion(probability, x[:0], heat[:0], target[:0], clean, keep,
                                       n, config)
        values["faith.deletion_auc"] = rise.deletion_auc
        values["faith.insertion_auc"] = rise.insertion_auc
    for j, fraction in enumerate(road.fractions):
        values[curve_metric_id("morf", fraction)] = road.morf[:, j]
        values[curve_metric_id("lerf", fraction)] = road.lerf[:, j]
    return FaithfulnessScores(values, clean, road, dict(sorted(excluded.items())), rise)


def _deletion_insertion(probability: TargetProbability, x: torch.Tensor, heat: torch.Tensor,
                        target: torch.Tensor, clean: np.ndarray, keep: np.ndarray, n: int,
                        config: FaithfulnessConfig) -> DeletionInsertionCurves:
    """RISE's curves of the kept samples, spread back to all n rows (NaN for excluded)."""
    kept = deletion_insertion_curves(probability, x, heat, target,
                                     config.deletion_insertion_config, clean=clean[keep])
    shape = (n, len(kept.fractions))
    deletion, insertion = np.full(shape, np.nan), np.full(shape, np.nan)
    deletion[keep], insertion[keep] = kept.deletion, kept.insertion
    return DeletionInsertionCurves(kept.fractions, deletion, insertion)

