"""Group statistics (METRICS.md, "Aggregation per group")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reportgen.analysis.stats import (
    ALL_CLASSES,
    GROUP_KEYS,
    STAT_COLUMNS,
    describe,
    group_statistics,
)
from reportgen.scoring import SCORE_COLUMNS, empty_scores


def _scores(classes=("cat", "fish"), models=("partnet",), methods=("gradcam",),
            regions=("background", "head", "body"), metrics=("pqah.ph", "pqah.precision"),
            per_class=7, seed=0) -> pd.DataFrame:
    """A tidy scores table with every region present in every image."""
    rng = np.random.default_rng(seed)
    rows = []
    for model in models:
        for method in methods:
            for cls in classes:
                for i in range(per_class):
                    for region in regions:
                        for metric in metrics:
                            rows.append({
                                "image_id": f"{cls}-{i}", "object_id": 0, "class_name": cls,
                                "target_class": cls, "predicted_class": cls, "correct": True,
                                "model": model, "method": method, "region": region,
                                "metric": metric, "value": float(rng.random()),
                            })
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


# --- describe -----------------------------------------------------------------------------

def test_describe_quartiles_use_numpy_linear_interpolation():
    s = describe(np.array([1.0, 2.0, 3.0, 4.0, 100.0]), np.random.default_rng(0))
    assert s["n"] == 5
    assert (s["q1"], s["q2"], s["q3"]) == (2.0, 3.0, 4.0)
    assert s["iqr"] == 2.0
    # Even n: linear interpolation between order statistics.
    t = describe(np.array([4.0, 1.0, 3.0, 2.0]), np.random.default_rng(0))
    assert (t["q1"], t["q2"], t["q3"]) == (1.75, 2.5, 3.25)
    assert t["iqr"] == pytest.approx(1.5)


def test_describe_tukey_whiskers_are_most_extreme_data_within_one_and_a_half_iqr():
    # Fences: 2 - 3 = -1 and 4 + 3 = 7; 100 is outside, 1 and 4 are the extreme data inside.
    s = describe(np.array([1.0, 2.0, 3.0, 4.0, 100.0]), np.random.default_rng(0))
    assert s["whisker_low"] == 1.0
    assert s["whisker_high"] == 4.0
    assert s["n_outliers"] == 1


def test_describe_whiskers_are_data_values_not_the_fences():
    # q1 = 2, q3 = 4, fences -1 and 7: whiskers stop at 0 and 6 (data), not at -1 and 7.
    s = describe(np.array([0.0, 2.0, 2.0, 3.0, 4.0, 4.0, 6.0, -5.0, 12.0]),
                 np.random.default_rng(0))
    assert (s["q1"], s["q3"]) == (2.0, 4.0)
    assert s["whisker_low"] == 0.0
    assert s["whisker_high"] == 6.0
    assert s["n_outliers"] == 2


def test_describe_mean_and_sample_std():
    s = describe(np.array([1.0, 2.0, 3.0, 4.0, 100.0]), np.random.default_rng(0))
    assert s["mean"] == pytest.approx(22.0)
    # ddof = 1: sum of squared deviations 7610 / 4
    assert s["std"] == pytest.approx(np.sqrt(7610.0 / 4))


def test_describe_of_a_single_value_has_zero_std_and_a_point_ci():
    s = describe(np.array([0.3]), np.random.default_rng(0))
    assert s["n"] == 1
    assert s["std"] == 0.0
    assert s["q1"] == s["q2"] == s["q3"] == 0.3
    assert s["whisker_low"] == s["whisker_high"] == 0.3
    assert s["n_outliers"] == 0
    assert s["ci_low"] == s["ci_high"] == 0.3


def test_describe_no_outliers_when_all_values_are_equal():
    s = describe(np.full(6, 0.5), np.random.default_rng(0))
    assert s["iqr"] == 0.0
    assert s["n_outliers"] == 0
    assert s["whisker_low"] == s["whisker_high"] == 0.5


def test_bootstrap_ci_contains_the_median():
    values = np.random.default_rng(3).normal(0.5, 0.1, size=101)
    s = describe(values, np.random.default_rng(0))
    assert s["ci_low"] < s["q2"] < s["ci_high"]
    assert s["ci_high"] - s["ci_low"] < 0.2


def test_bootstrap_ci_is_reproducible_for_a_seed():
    values = np.random.default_rng(3).random(40)
    a = describe(values, np.random.default_rng(42))
    b = describe(values, np.random.default_rng(42))
    assert (a["ci_low"], a["ci_high"]) == (b["ci_low"], b["ci_high"])
    c = describe(values, np.random.default_rng(43))
    assert (a["ci_low"], a["ci_high"]) != (c["ci_low"], c["ci_high"])


# --- group_statistics -----------------------------------------------------------------------

def test_group_statistics_has_the_group_keys_and_stat_columns():
    stats = group_statistics(_scores())
    assert list(stats.columns) == GROUP_KEYS + STAT_COLUMNS


def test_group_statistics_adds_the_pooled_class_all():
    scores = _scores(classes=("cat", "fish"), per_class=7)
    stats = group_statistics(scores)
    assert set(stats.class_name) == {"cat", "fish", ALL_CLASSES}
    pooled = stats[stats.class_name == ALL_CLASSES]
    assert (pooled.n == 14).all()
    assert (stats[stats.class_name != ALL_CLASSES].n == 7).all()
    row = pooled[(pooled.region == "head") & (pooled.metric == "pqah.ph")].iloc[0]
    values = scores[(scores.region == "head") & (scores.metric == "pqah.ph")]["value"]
    assert row.q2 == pytest.approx(np.median(values))
    assert row["mean"] == pytest.approx(values.mean())


def test_group_statistics_has_one_row_per_model_method_class_region_metric():
    scores = _scores(classes=("cat", "fish"), models=("a", "b"), methods=("gradcam", "x"),
                     regions=("background", "head", "body"),
                     metrics=("pqah.ph", "pqah.precision"))
    stats = group_statistics(scores)
    # 2 models x 2 methods x (2 classes + all) x 3 regions x 2 metrics, for all samples
    assert len(stats[stats.subset == "all"]) == 2 * 2 * 3 * 3 * 2
    assert not stats.duplicated(GROUP_KEYS).any()


def test_correct_and_misclassified_subsets_split_the_samples_of_each_group():
    scores = _scores(per_class=8)
    scores["correct"] = scores["image_id"].str.endswith(("0", "1", "2"))
    stats = group_statistics(scores).set_index([*GROUP_KEYS[:-1], "subset"])
    for key in stats.xs("all", level="subset").index:
        n_all = stats.loc[(*key, "all"), "n"]
        n_ok = stats.loc[(*key, "correct"), "n"]
        n_bad = stats.loc[(*key, "misclassified"), "n"]
        assert n_ok + n_bad == n_all and n_ok > 0 and n_bad > 0


def test_group_statistics_counts_only_present_regions():
    scores = _scores(per_class=5)
    # "head" missing from two of the cat images (absent region: no row)
    drop = (scores.class_name == "cat") & (scores.region == "head") \
        & scores.image_id.isin(["cat-0", "cat-1"])
    stats = group_statistics(scores[~drop])
    head = stats[(stats.region == "head") & (stats.metric == "pqah.ph")
                 & (stats.subset == "all")].set_index("class_name")
    assert head.loc["cat", "n"] == 3
    assert head.loc["fish", "n"] == 5
    assert head.loc[ALL_CLASSES, "n"] == 8


def test_group_statistics_is_sorted_and_independent_of_row_order():
    scores = _scores(models=("zeta", "alpha"), classes=("fish", "cat"))
    stats = group_statistics(scores, seed=5)
    keys = list(stats[GROUP_KEYS].itertuples(index=False, name=None))
    assert keys == sorted(keys)
    assert stats.index.tolist() == list(range(len(stats)))
    shuffled = scores.sample(frac=1.0, random_state=1).reset_index(drop=True)
    pd.testing.assert_frame_equal(group_statistics(shuffled, seed=5), stats)


def test_group_ci_does_not_change_when_other_groups_are_added_or_removed():
    # n = 40 so that the CI depends on the bootstrap draws (tiny groups often do not).
    cat = _scores(classes=("cat",), models=("partnet",), per_class=40, seed=1)
    others = pd.concat([_scores(classes=("fish",), models=("partnet",), per_class=40, seed=2),
                        _scores(classes=("cat", "fish"), models=("other",), per_class=40,
                                seed=3)],
                       ignore_index=True)
    alone = group_statistics(cat, seed=9)
    together = group_statistics(pd.concat([cat, others], ignore_index=True), seed=9)
    sel_alone = alone[(alone.class_name == "cat") & (alone.subset == "all")
                      ].reset_index(drop=True)
    sel_together = together[(together.class_name == "cat") & (together.model == "partnet")
                            & (together.subset == "all")].reset_index(drop=True)
    assert len(sel_alone) == 6
    pd.testing.assert_frame_equal(sel_alone, sel_together)


def test_group_ci_depends_on_the_run_seed():
    scores = _scores(per_class=30)
    a = group_statistics(scores, seed=0)
    b = group_statistics(scores, seed=1)
    pd.testing.assert_frame_equal(a.drop(columns=["ci_low", "ci_high"]),
                                  b.drop(columns=["ci_low", "ci_high"]))
    assert not np.allclose(a[["ci_low", "ci_high"]], b[["ci_low", "ci_high"]])


def test_group_statistics_of_empty_scores_is_an_empty_frame_with_the_columns():
    stats = group_statistics(empty_scores())
    assert stats.empty
    assert list(stats.columns) == GROUP_KEYS + STAT_COLUMNS
