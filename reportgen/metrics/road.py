"""ROAD: RemOve And Debias (Rong et al. 2022, arXiv 2202.00449).

For each fraction p, remove the p most relevant pixels (MoRF) or the p least relevant (LeRF),
impute them by noisy linear imputation (``reportgen.metrics.imputation``) and record the target
probability. Per image: the two curves, their means, and the combined score
``mean_p (LeRF_p - MoRF_p) / 2`` (higher is better).

"The p most relevant pixels" of n are the ``n - ceil((1 - p)(n - 1))`` highest-ranked by the
normalised heatmap (numpy's percentile convention, as in pytorch-grad-cam: about ``p * n``, at
least one removed and one kept), ties broken by a seeded random order. pytorch-grad-cam
thresholds at the percentile instead, which removes every tied pixel at once; without ties
both remove the same pixels.

All 2 x F perturbed copies of every image are imputed in a thread pool while earlier ones go
through the model in batches of ``max_batch`` images; tensors given to the model stay on its
device, only the sparse solves run on the host.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

import numpy as np
import torch

from reportgen.metrics.imputation import ImputationTask, impute
from reportgen.metrics.registry import MetricInfo, register_metric

ROAD_REFERENCE = ("Rong et al., A Consistent and Efficient Evaluation Strategy for Attribution "
                  "Methods (ROAD), ICML 2022, arXiv 2202.00449")
ROAD_CAVEAT = ("ROAD rankings favour blurry heatmaps (arXiv 2304.13836): a smoother method can "
               "score better without being more faithful.")
DEFAULT_FRACTIONS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MORF, LERF = 0, 1

ProbabilityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(batch (B, C, H, W), targets (B,) int64) -> (B,)`` target-class probabilities."""


@dataclass(frozen=True)
class RoadConfig:
    """ROAD settings.

    ``fractions``: increasing, in (0, 1); ``noise_std``: imputation noise in the normalised
    input space; ``seed``: seeds tie-breaking and noise (per image: ``(seed, index)``);
    ``workers``: solver threads (None: one per usable CPU core, at most 16); ``max_batch``:
    images per forward pass.
    """

    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    noise_std: float = 0.01
    seed: int = 0
    workers: int | None = None
    max_batch: int = 64

    def __post_init__(self) -> None:
        f = np.asarray(self.fractions, dtype=np.float64)
        if f.ndim != 1 or f.size == 0 or not ((f > 0) & (f < 1)).all() or (np.diff(f) <= 0).any():
            raise ValueError(f"ROAD fractions must be increasing and in (0, 1), got "
                             f"{self.fractions}")
        if self.noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {self.noise_std}")
        if self.max_batch < 1 or (self.workers is not None and self.workers < 1):
            raise ValueError("max_batch and workers must be >= 1")

    @property
    def threads(self) -> int:
        """Solver threads to use."""
        if self.workers is not None:
            return self.workers
        usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        return max(1, min(16, len(usable) if usable else os.cpu_count() or 1))


@dataclass(frozen=True)
class RoadCurves:
    """Target probability after removing each fraction, per image.

    ``fractions`` (F,); ``morf`` and ``lerf`` (N, F) float64 probabilities in [0, 1] (NaN rows
    for excluded samples).
    """

    fractions: np.ndarray
    morf: np.ndarray
    lerf: np.ndarray

    @property
    def combined(self) -> np.ndarray:
        """(N,) ``mean_p (LeRF_p - MoRF_p) / 2``, in [-0.5, 0.5]."""
        return (self.lerf - self.morf).mean(axis=1) / 2


def removal_counts(num_pixels: int, fractions: tuple[float, ...]) -> np.ndarray:
    """(F,) int: pixels removed at each fraction, ``n - ceil((1 - p)(n - 1))``, in [1, n - 1]
    (0 for a one-pixel image)."""
    kept_index = (1 - np.asarray(fractions, dtype=np.float64)) * (num_pixels - 1)
    return (num_pixels - np.ceil(np.round(kept_index, 9))).astype(np.int64)


def relevance_ranks(heatmap: np.ndarray, seed: int | tuple[int, ...]) -> np.ndarray:
    """(H, W) heatmap -> (H, W) int64 rank, 0 = most relevant; ties in a seeded random order."""
    flat = np.asarray(heatmap, dtype=np.float64).ravel()
    shuffle = np.random.default_rng(seed).permutation(flat.size)
    order = shuffle[np.argsort(-flat[shuffle], kind="stable")]
    ranks = np.empty(flat.size, dtype=np.int64)
    ranks[order] = np.arange(flat.size)
    return ranks.reshape(np.shape(heatmap))


Job = tuple[int, int, int]
"""(image index, MORF or LERF, fraction index)."""


class RoadImputation:
    """Streams the imputed copies of a batch; a context manager that owns the thread pool.

    Args:
        inputs: (N, C, H, W) normalised model inputs (any device).
        heatmaps: (N, H, W) normalised heatmaps in [0, 1] at the inputs' resolution.
        config: RoadConfig.

    Solving starts on ``__enter__``; ``curves`` feeds the copies to the model in batches.
    """

    def __init__(self, inputs: torch.Tensor, heatmaps: torch.Tensor,
                 config: RoadConfig | None = None) -> None:
        n, _, h, w = inputs.shape
        if tuple(heatmaps.shape) != (n, h, w):
            raise ValueError(f"expected heatmaps {(n, h, w)}, got {tuple(heatmaps.shape)}")
        self.config = config or RoadConfig()
        self.device = inputs.device
        self._images = inputs.detach().float().cpu().numpy()
        self._heat = heatmaps.detach().float().cpu().numpy()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[tuple[Job, Future[np.ndarray]]] = deque()
        self._queue: Iterator[tuple[Job, ImputationTask]] = self._tasks()

    def __enter__(self) -> RoadImputation:
        self._pool = ThreadPoolExecutor(self.config.threads, thread_name_prefix="road-impute")
        self._top_up()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _tasks(self) -> Iterator[tuple[Job, ImputationTask]]:
        """One task per image, order and fraction (images one after the other)."""
        seed, noise = self.config.seed, self.config.noise_std
        counts = removal_counts(self._heat[0].size if len(self._heat) else 0,
                                self.config.fractions)
        for i, (image, heat) in enumerate(zip(self._images, self._heat, strict=True)):
            ranks = relevance_ranks(heat, (seed, i))
            for order in (MORF, LERF):
                for j, k in enumerate(counts):
                    removed = ranks < k if order == MORF else ranks >= ranks.size - k
                    yield (i, order, j), ImputationTask(image, removed, noise, (seed, i, order, j))

    def _top_up(self) -> None:
        """Keep two batches' worth of solves queued ahead of the model."""
        if self._pool is None:
            raise RuntimeError("use RoadImputation as a context manager")
        window = 2 * self.config.max_batch + self.config.threads
        for job, task in islice(self._queue, max(0, window - len(self._pending))):
            self._pending.append((job, self._pool.submit(impute, task)))

    def batches(self) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        """Yield ``(jobs, images)``: (B, 3) int rows (image, order, fraction index) and the
        (B, C, H, W) float32 imputed images on the inputs' device."""
        self._top_up()
        while self._pending:
            taken = [self._pending.popleft() for _ in range(min(self.config.max_batch,
                                                                 len(self._pending)))]
            arrays = [future.result() for _, future in taken]
            self._top_up()  # the pool keeps solving while the model runs on this batch
            jobs = np.asarray([job for job, _ in taken], dtype=np.int64)
            yield jobs, torch.from_numpy(np.stack(arrays)).to(self.device)

    def curves(self, probability: ProbabilityFn, targets: torch.Tensor) -> RoadCurves:
        """Run every imputed copy through ``probability``; targets (N,) int64 class ids."""
        out = np.full((len(self._images), 2, len(self.config.fractions)), np.nan)
        targets = torch.as_tensor(targets, device=self.device).long()
        for jobs, images in self.batches():
            rows = torch.as_tensor(jobs[:, 0], device=self.device)
            out[jobs[:, 0], jobs[:, 1], jobs[:, 2]] = (
                probability(images, targets[rows]).double().cpu().numpy())
        return RoadCurves(np.asarray(self.config.fractions, dtype=np.float64),
                          out[:, MORF], out[:, LERF])


ROAD_METRICS = (
    MetricInfo("road.combined", "ROAD combined", "mean over removal fractions of (LeRF - MoRF) "
               "/ 2: how much faster the target probability falls when the most relevant "
               "pixels are removed first than when the least relevant are (favours blurry "
               "heatmaps)", (-0.5, 0.5), "higher", "fraction", ROAD_REFERENCE, level="object"),
    MetricInfo("road.morf", "ROAD MoRF", "mean target probability after removing the most "
               "relevant 10 ... 90 % of pixels (imputed): low when the heatmap finds the "
               "evidence", (0.0, 1.0), "lower", "fraction", ROAD_REFERENCE, level="object"),
    MetricInfo("road.lerf", "ROAD LeRF", "mean target probability after removing the least "
               "relevant 10 ... 90 % of pixels (imputed): high when the heatmap finds the "
               "evidence", (0.0, 1.0), "higher", "fraction", ROAD_REFERENCE, level="object"),
)
# The curves, one metric per removal fraction: ``road.morf@0.3`` is the target probability
# after removing the most relevant 30 % of the pixels.
ROAD_CURVE_METRICS = (
    MetricInfo("road.morf@", "ROAD MoRF at", "target probability after removing this "
               "fraction of the pixels, most relevant first (imputed)", (0.0, 1.0), "lower",
               "fraction", ROAD_REFERENCE, level="object"),
    MetricInfo("road.lerf@", "ROAD LeRF at", "target probability after removing this "
               "fraction of the pixels, least relevant first (imputed)", (0.0, 1.0), "higher",
               "fraction", ROAD_REFERENCE, level="object"),
)


def curve_metric_id(order: str, fraction: float) -> str:
    """``road.morf@0.3`` for order ``morf`` and fraction 0.3 (shortest round-trip form)."""
    return f"road.{order}@{float(fraction)!r}"


@register_metric(*ROAD_METRICS, *ROAD_CURVE_METRICS)
def road_curves(probability: ProbabilityFn, inputs: torch.Tensor, heatmaps: torch.Tensor,
                targets: torch.Tensor, config: RoadConfig | None = None) -> RoadCurves:
    """MoRF and LeRF curves of one batch (see ``RoadImputation`` for the arguments).

    Per-image scores: ``curves.combined``, ``curves.morf.mean(1)``, ``curves.lerf.mean(1)``.
    """
    with RoadImputation(inputs, heatmaps, config or RoadConfig()) as road:
        return road.curves(probability, targets)
