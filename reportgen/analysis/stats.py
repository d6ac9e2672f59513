"""Group statistics of the scores table (METRICS.md, "Aggregation per group").

Per group (model x method x class-or-all x region x metric x subset): n, Q1, Q2, Q3 (numpy's
linear interpolation), IQR, Tukey whiskers, outlier count, mean, std (ddof=1; 0 for n = 1) and a
seeded bootstrap 95 % CI of the median. ``subset`` is ``all``, ``correct`` or
``misclassified`` (by the model's prediction on the sample).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from reportgen.vocab import ALL_CLASSES, ALL_SAMPLES

GROUP_KEYS = ["model", "method", "class_name", "region", "metric", "subset"]
SUBSETS = (ALL_SAMPLES, "correct", "misclassified")
STAT_COLUMNS = ["n", "q1", "q2", "q3", "iqr", "whisker_low", "whisker_high", "n_outliers",
                "mean", "std", "ci_low", "ci_high"]


def describe(values: np.ndarray, rng: np.random.Generator, n_boot: int = 1000) -> dict:
    """Statistics of a 1-D array of finite values (n >= 1)."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    n = v.size
    q1, q2, q3 = np.quantile(v, [0.25, 0.5, 0.75])
    iqr = q3 - q1
    inside = v[(v >= q1 - 1.5 * iqr) & (v <= q3 + 1.5 * iqr)]
    boot = np.median(v[rng.integers(0, n, size=(n_boot, n))], axis=1)
    ci_low, ci_high = np.quantile(boot, [0.025, 0.975])
    return {
        "n": n, "q1": q1, "q2": q2, "q3": q3, "iqr": iqr,
        "whisker_low": inside.min(), "whisker_high": inside.max(),
        "n_outliers": int(n - inside.size),
        "mean": v.mean(), "std": v.std(ddof=1) if n > 1 else 0.0,
        "ci_low": ci_low, "ci_high": ci_high,
    }


def group_statistics(scores: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Statistics per group, per class and pooled over classes (``class_name == "all"``).

    ``scores`` is the tidy scores table; returns one row per group with GROUP_KEYS and
    STAT_COLUMNS, sorted by the keys so the output is deterministic.
    """
    if scores.empty:
        return pd.DataFrame(columns=GROUP_KEYS + STAT_COLUMNS)
    pooled = pd.concat([scores, scores.assign(class_name=ALL_CLASSES)], ignore_index=True)
    known = pooled["correct"].notna()  # NA: the class is not among the model's outputs
    correct = pooled["correct"].astype("boolean").fillna(False).astype(bool)
    # Rows without a prediction (baselines, precomputed heatmaps) have no correct/wrong split.
    predicted = (pooled["predicted_class"] != "") & known
    table = pd.concat([pooled.assign(subset=ALL_SAMPLES),
                       pooled[predicted & correct].assign(subset="correct"),
                       pooled[predicted & ~correct].assign(subset="misclassified")],
                      ignore_index=True)
    rows = []
    for keys, group in table.groupby(GROUP_KEYS, sort=True):
        # One generator per group, seeded from the run seed and the group's keys, so a group's
        # CI does not depend on which other groups exist.
        digest = hashlib.sha256("|".join(map(str, keys)).encode()).digest()
        rng = np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])
        values = group["value"].to_numpy()
        rows.append({**dict(zip(GROUP_KEYS, keys, strict=True)), **describe(values, rng)})
    return pd.DataFrame(rows, columns=GROUP_KEYS + STAT_COLUMNS)
