"""Two-sample and paired tests with effect sizes, bootstrap CIs and Holm correction.

Pure functions on 1-D arrays of finite values; every random draw takes a seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps


@dataclass(frozen=True)
class TwoSampleResult:
    """Mann-Whitney U (two-sided p) with Cliff's delta in [-1, 1] (> 0: ``a`` tends larger)."""

    p_value: float
    cliffs_delta: float
    median_a: float
    median_b: float
    n_a: int
    n_b: int


@dataclass(frozen=True)
class PairedResult:
    """Wilcoxon signed-rank on ``a - b`` (two-sided p) and the median difference."""

    p_value: float
    median_difference: float
    n: int
    differences: np.ndarray


def mann_whitney(a: np.ndarray, b: np.ndarray) -> TwoSampleResult:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    u, p = sps.mannwhitneyu(a, b, alternative="two-sided")
    delta = 2.0 * u / (a.size * b.size) - 1.0
    return TwoSampleResult(float(p), float(delta), float(np.median(a)), float(np.median(b)),
                           int(a.size), int(b.size))


def wilcoxon_paired(a: np.ndarray, b: np.ndarray) -> PairedResult:
    """Paired comparison of ``a`` and ``b`` (same samples, same order)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if d.size == 0:
        raise ValueError("no pairs to compare")
    p = 1.0 if np.all(d == 0) else float(sps.wilcoxon(d, zero_method="wilcox").pvalue)
    return PairedResult(p, float(np.median(d)), int(d.size), d)


def bootstrap_median_ci(values: np.ndarray, rng: np.random.Generator, n_boot: int = 1000,
                        level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the median of ``values`` (1-D, n >= 1)."""
    v = np.asarray(values, dtype=np.float64)
    boot = np.median(v[rng.integers(0, v.size, size=(n_boot, v.size))], axis=1)
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def holm(p_values: list[float] | np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (same order as the input, capped at 1)."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = p[order] * (p.size - np.arange(p.size))
    adjusted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out
