"""Interventional part importance (after Hesse et al., "FunnyBirds", ICCV 2023; docs/metrics.md,
"Part removal"): remove one part at a time, fill it as ROAD does (noisy linear imputation) or
with the neutral colour, and measure the drop of the target-class probability. Beside each
part's PH it answers "does the heatmap point at the parts the model actually uses?": per
sample, the Spearman rank correlation between PH and the drop over the sample's parts.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from reportgen.metrics.imputation import ImputationTask, impute
from reportgen.metrics.registry import MetricInfo, register_metric

_REF = "Hesse et al., FunnyBirds: A Synthetic Vision Dataset for a Part-Based Analysis of " \
       "Explainable AI Methods, ICCV 2023"
#: Imputation noise in grey levels (as the background swap's).
NOISE_STD = 2.55
MIN_PARTS = 3  # a rank correlation over fewer parts says little


@register_metric(MetricInfo(
    "part.removal_drop", "Part removal drop",
    "target-class probability on the unmodified image minus with the part removed (filled "
    "by imputation): how much the model needs the part", (-1.0, 1.0), "neither", "fraction",
    _REF))
def part_removal_drops(predict, images: np.ndarray, parts: np.ndarray, target: np.ndarray,
                       p_original: np.ndarray, fill: str, seed: int,
                       neutral: np.ndarray, threads: int = 2) -> np.ndarray:
    """(N, K) drops; NaN where the part is absent from the sample.

    Args:
        predict: (M, S, S, 3) float32 images in 0..255 -> (M, classes) probabilities.
        images: (N, S, S, 3) float32; parts: (N, K, S, S) bool; target: (N,) output index;
        p_original: (N,) the target probability on the unmodified images.
        fill: ``impute`` (seeded per sample and part) or ``mean`` (the ``neutral`` colour).
    """
    n, k = parts.shape[:2]
    drops = np.full((n, k), np.nan)
    jobs = [(i, j) for i in range(n) for j in range(k) if parts[i, j].any()]
    if not jobs:
        return drops

    def removed(job: tuple[int, int]) -> np.ndarray:
        i, j = job
        if fill == "mean":
            return np.where(parts[i, j][..., None], neutral, images[i]).astype(np.float32)
        task = ImputationTask(images[i].transpose(2, 0, 1), parts[i, j], NOISE_STD,
                              (seed, i, j))
        return impute(task).transpose(1, 2, 0)

    with ThreadPoolExecutor(max(1, threads)) as pool:  # SuperLU releases the GIL
        variants = np.stack(list(pool.map(removed, jobs)))
    rows, cols = np.array(jobs).T
    probs = predict(variants)
    drops[rows, cols] = p_original[rows] - probs[np.arange(len(jobs)), target[rows]]
    return drops


@register_metric(MetricInfo(
    "part.rank_agreement", "PH / part-removal rank agreement",
    "Spearman correlation, over a sample's parts, between the heatmap's PH and the drop in "
    "target probability when the part is removed: 1 when the heatmap ranks the parts as the "
    f"model needs them; no value with fewer than {MIN_PARTS} parts", (-1.0, 1.0), "higher",
    "fraction", _REF, level="object"))
def rank_agreement(ph: np.ndarray, drop: np.ndarray) -> np.ndarray:
    """(N,) Spearman's rho per row over the columns finite in both (N, K) arrays; NaN with
    fewer than MIN_PARTS such columns or a constant row. Ties get average ranks."""
    both = np.isfinite(ph) & np.isfinite(drop)
    a = pd.DataFrame(np.where(both, ph, np.nan)).rank(axis=1).to_numpy()
    b = pd.DataFrame(np.where(both, drop, np.nan)).rank(axis=1).to_numpy()
    count = both.sum(axis=1)
    a = a - np.nanmean(np.where(both, a, np.nan), axis=1, keepdims=True) if a.size else a
    b = b - np.nanmean(np.where(both, b, np.nan), axis=1, keepdims=True) if b.size else b
    num = np.nansum(a * b, axis=1)
    den = np.sqrt(np.nansum(a * a, axis=1) * np.nansum(b * b, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = num / den
    return np.where((count >= MIN_PARTS) & (den > 0), rho, np.nan)
