"""Baseline heatmaps, scored with every metric and shown beside every method (METRICS.md).

* ``random``: uniform noise on the CAM's grid (its native, coarse resolution), blurred up to
  the heatmap size by bilinear interpolation, exactly as a CAM is upsampled: a heatmap with
  the smoothness of a CAM and no information. Seeded.
* ``center``: a Gaussian centred on the image, sigma = 1/4 of the shorter side: the
  photographer's bias (objects tend to be in the middle).
* ``oracle``: the sample's own object mask seen through the CAM grid (area-averaged onto the
  grid, then bilinearly upsampled as a CAM is): the heatmap of a perfect explainer at that
  resolution. Its heat on the background is the spill that geometry alone causes (thin parts
  spill more), so background findings measure a method's *excess* over it.

A method "attends to X" only when it beats both chance baselines (random, centre) on X.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from math import ceil
from types import MappingProxyType

import numpy as np
import torch

from reportgen.metrics.normalize import resize_heatmaps

# A fixed spawn key keeps the baseline's noise apart from every other stream seeded with the
# same number (numpy's SeedSequence(7) is the generator of np.random.default_rng(7)).
_NOISE_KEY = (0x0BA5E,)
# The CAM grid when the caller does not give one: stride 32, the last convolutional stage of
# ResNet, VGG, DenseNet, EfficientNet and ConvNeXt (7 x 7 at 224 x 224).
DEFAULT_STRIDE = 32


def default_grid(size: tuple[int, int], stride: int = DEFAULT_STRIDE) -> tuple[int, int]:
    """The (rows, cols) of a stride-``stride`` feature map for an input of ``size``."""
    return max(1, ceil(size[0] / stride)), max(1, ceil(size[1] / stride))


def random_heatmaps(n: int, size: tuple[int, int], seed: int | Sequence[int], *,
                    grid: tuple[int, int] | None = None) -> np.ndarray:
    """(n, h, w) float32 in [0, 1): uniform noise on ``grid``, bilinearly resized to ``size``.

    Args:
        n: number of heatmaps.
        size: (h, w) of the heatmaps (the CAMs' size, before the metrics resize to the masks).
        seed: a non-negative int or a sequence of them, e.g. ``(run_seed, batch_index)`` to
            draw each batch independently and reproducibly. As in numpy, trailing zeros do
            not count: ``(7, 0)`` draws the same noise as ``7``.
        grid: (rows, cols) of the noise, the CAM's native resolution; default: stride 32.
    """
    h, w = _check(n, size)
    rows, cols = grid if grid is not None else default_grid((h, w))
    if rows < 1 or cols < 1:
        raise ValueError(f"grid must be positive, got {grid}")
    sequence = np.random.SeedSequence(seed, spawn_key=_NOISE_KEY)
    noise = np.random.default_rng(sequence).random((n, rows, cols), dtype=np.float32)
    if n == 0:
        return np.zeros((0, h, w), np.float32)
    return resize_heatmaps(torch.from_numpy(noise), (h, w)).numpy().astype(np.float32)


def center_heatmaps(n: int, size: tuple[int, int], seed: int | Sequence[int] | None = None
                    ) -> np.ndarray:
    """(n, h, w) float32 in (0, 1]: ``exp(-d^2 / (2 sigma^2))``, d the distance to the centre.

    The centre is ((h - 1) / 2, (w - 1) / 2) in pixel coordinates and sigma = min(h, w) / 4.
    ``seed`` is accepted for a uniform signature and unused: the baseline is deterministic.
    """
    h, w = _check(n, size)
    return np.broadcast_to(_center(h, w), (n, h, w)).copy()


@lru_cache(maxsize=64)
def _center(h: int, w: int) -> np.ndarray:
    """The centre map of one size (read-only; photos come in a few sizes, batch after batch)."""
    sigma = min(h, w) / 4
    dy = (np.arange(h) - (h - 1) / 2) ** 2
    dx = (np.arange(w) - (w - 1) / 2) ** 2
    one = np.exp(-(dy[:, None] + dx[None, :]) / (2 * sigma ** 2)).astype(np.float32)
    one.flags.writeable = False
    return one


def oracle_heatmaps(n: int, size: tuple[int, int], seed: int | Sequence[int] | None = None,
                    *, objects: np.ndarray, grid: tuple[int, int] | None = None) -> np.ndarray:
    """(n, h, w) float32 in [0, 1]: each object mask area-averaged onto ``grid`` and resized
    back to ``size`` bilinearly (how a CAM reaches the image).

    Args:
        objects: (n, h, w) bool object masks (``Sample.object_region``); an empty mask gives an
            all-zero (degenerate) heatmap, which the scorers exclude.
        grid: (rows, cols) of the CAM; default: stride 32. ``seed`` is unused (deterministic).
    """
    h, w = _check(n, size)
    objects = np.asarray(objects, dtype=bool)
    if objects.shape != (n, h, w):
        raise ValueError(f"objects must be ({n}, {h}, {w}), got {objects.shape}")
    if n == 0:
        return np.zeros((0, h, w), np.float32)
    rows, cols = grid if grid is not None else default_grid((h, w))
    masks = torch.from_numpy(objects).float().unsqueeze(1)
    coarse = torch.nn.functional.adaptive_avg_pool2d(masks, (rows, cols)).squeeze(1)
    return resize_heatmaps(coarse, (h, w)).clamp_(0, 1).numpy().astype(np.float32)


BASELINES: Mapping[str, Callable[..., np.ndarray]] = MappingProxyType({
    "random": random_heatmaps,
    "center": center_heatmaps,
    "oracle": oracle_heatmaps,
})


def baseline_heatmaps(name: str, n: int, size: tuple[int, int], seed: int | Sequence[int],
                      **options) -> np.ndarray:
    """The baseline ``name`` (``random``, ``center`` or ``oracle``, which needs ``objects``):
    (n, h, w) float32."""
    try:
        fn = BASELINES[name]
    except KeyError:
        raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}"
                         ) from None
    return fn(n, size, seed, **options)


def _check(n: int, size: tuple[int, int]) -> tuple[int, int]:
    h, w = (int(s) for s in size)
    if n < 0 or h < 1 or w < 1:
        raise ValueError(f"need n >= 0 and a positive size, got n={n}, size={size}")
    return h, w
