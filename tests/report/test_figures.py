"""Figures: region order, the PH boxplot, the model comparison, per-class boxplots and ROAD
curves as embedded PNGs."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from reportgen.analysis.facts import facts_from_statistics
from reportgen.analysis.stats import group_statistics
from reportgen.report.figures import (
    BACKGROUND_COLOUR,
    PALETTE,
    class_boxplots,
    comparison_figure,
    ph_boxplot,
    region_colours,
    region_order,
)
from reportgen.report.road_figure import road_curve_figure, road_curve_points
from reportgen.scoring import SCORE_COLUMNS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PREFIX = "data:image/png;base64,"


def _stats() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for cls in ("cat", "fish"):
        for i in range(6):
            for region in ("background", "tail", "head"):
                rows.append({
                    "image_id": f"{cls}-{i}", "object_id": 0, "class_name": cls,
                    "target_class": cls, "predicted_class": cls, "correct": True,
                    "model": "partnet", "method": "gradcam", "region": region,
                    "metric": "pqah.ph", "value": float(rng.random()),
                })
    return group_statistics(pd.DataFrame(rows, columns=SCORE_COLUMNS))


def _decode(uri: str) -> bytes:
    assert uri.startswith(PREFIX)
    return base64.b64decode(uri[len(PREFIX):], validate=True)


def test_region_order_puts_parts_in_dataset_order_and_background_last():
    parts = ["head", "body", "tail"]
    assert region_order(["tail", "background", "head", "body"], parts) == \
        ["head", "body", "tail", "background"]


def test_region_order_keeps_only_present_regions():
    assert region_order(["tail", "head"], ["head", "body", "tail"]) == ["head", "tail"]
    assert region_order(["background"], ["head"]) == ["background"]
    assert region_order([], ["head"]) == []


def test_region_order_puts_unknown_regions_sorted_after_the_parts():
    assert region_order(["zeta", "background", "alpha", "head"], ["tail", "head"]) == \
        ["head", "alpha", "zeta", "background"]


def test_region_colours_follow_the_part_order_and_background_is_grey():
    colours = region_colours(["head", "body"])
    assert colours == {"head": PALETTE[0], "body": PALETTE[1], "background": BACKGROUND_COLOUR}


def test_ph_boxplot_returns_a_png_data_uri():
    fig = ph_boxplot(_stats(), "partnet", "gradcam", ["head", "body", "tail"])
    data = _decode(fig.data_uri)
    assert data[:8] == PNG_MAGIC
    with Image.open(io.BytesIO(data)) as img:
        img.verify()
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "PNG"
        assert img.width > 200 and img.height > 100


def test_ph_boxplot_metadata_names_model_and_method():
    fig = ph_boxplot(_stats(), "partnet", "gradcam", ["head", "tail"])
    assert fig.id == "ph-boxplot-partnet-gradcam"
    assert "partnet" in fig.title and "gradcam" in fig.title
    assert fig.alt == fig.title
    assert "1.5 IQR" in fig.caption
    custom = ph_boxplot(_stats(), "partnet", "gradcam", ["head", "tail"], alt="Head wins.")
    assert custom.alt == "Head wins."


def test_ph_boxplot_is_deterministic():
    a = ph_boxplot(_stats(), "partnet", "gradcam", ["head", "tail"])
    b = ph_boxplot(_stats(), "partnet", "gradcam", ["head", "tail"])
    assert a == b


def test_ph_boxplot_without_rows_is_still_a_valid_png():
    fig = ph_boxplot(_stats(), "nomodel", "gradcam", ["head", "tail"])
    data = _decode(fig.data_uri)
    assert data[:8] == PNG_MAGIC
    with Image.open(io.BytesIO(data)) as img:
        img.verify()


# ---------------------------------------------------------------- comparison, classes, ROAD

PARTS = ["head", "tail"]


def _scores(rows: list[dict]) -> pd.DataFrame:
    base = {"object_id": 0, "target_class": "", "correct": True}
    return pd.DataFrame([{**base, "predicted_class": r["class_name"], **r} for r in rows],
                        columns=SCORE_COLUMNS)


def _region_scores() -> pd.DataFrame:
    """Known medians per (model, method, region): `biased` puts its heat on the background,
    `clean` on the head; the baselines sit in between. Two classes, five images each."""
    medians = {("biased", "gradcam"): {"background": 0.7, "head": 0.2, "tail": 0.1},
               ("clean", "gradcam"): {"background": 0.1, "head": 0.6, "tail": 0.3},
               ("baseline", "random"): {"background": 0.5, "head": 0.1, "tail": 0.05},
               ("baseline", "center"): {"background": 0.4, "head": 0.15, "tail": 0.05}}
    rows = []
    for (model, method), by_region in medians.items():
        for region, median in by_region.items():
            for cls, shift in (("cat", 0.05), ("fish", -0.05)):
                for i, d in enumerate((-0.02, -0.01, 0.0, 0.01, 0.02)):
                    rows.append({"image_id": f"{cls}-{i}", "class_name": cls, "model": model,
                                 "method": method, "region": region, "metric": "pqah.ph",
                                 "value": median + shift + d})
    return _scores(rows)


PAIRS = [("baseline", "center"), ("baseline", "random"), ("biased", "gradcam"),
         ("clean", "gradcam")]


def _road_scores(fractions=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)) -> pd.DataFrame:
    """`clean`: MoRF falls fast, LeRF slowly. `biased`: the reverse (unfaithful)."""
    rows = []
    for model, morf_slope, lerf_slope in (("clean", 0.8, 0.2), ("biased", 0.2, 0.8)):
        for p in fractions:
            for order, slope in (("morf", morf_slope), ("lerf", lerf_slope)):
                for i, d in enumerate((-0.02, 0.0, 0.02)):
                    rows.append({"image_id": f"img{i}", "class_name": "cat", "model": model,
                                 "method": "gradcam", "region": "object",
                                 "metric": f"road.{order}@{p!r}",
                                 "value": 0.9 - slope * p + d})
    return _scores(rows)


def _png_size(uri: str) -> tuple[int, int]:
    data = _decode(uri)
    assert data[:8] == PNG_MAGIC
    with Image.open(io.BytesIO(data)) as img:
        img.verify()
    with Image.open(io.BytesIO(data)) as img:
        return img.size


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d+\.\d+|\d+ %", text)


def test_comparison_alt_names_most_and_least_background_and_the_best_part():
    stats = group_statistics(_region_scores())
    fig = comparison_figure(stats, PAIRS, PARTS)
    assert ("On the background, biased · gradcam has the highest median PH (0.70) and "
            "clean · gradcam the lowest (0.10).") in fig.alt
    assert "head: clean · gradcam (0.60); tail: clean · gradcam (0.30)" in fig.alt
    assert "baseline · center, baseline · random" in fig.alt
    width, height = _png_size(fig.data_uri)
    assert width > 800 and height > 300
    assert "background" in fig.title and "baselines" in fig.title


def test_comparison_alt_numbers_are_fact_display_strings():
    stats = group_statistics(_region_scores())
    displays = {f.display for f in facts_from_statistics(stats)}
    fig = comparison_figure(stats, PAIRS, PARTS)
    assert _numbers(fig.alt) and set(_numbers(fig.alt)) <= displays


def test_comparison_for_one_class_uses_that_class_medians():
    stats = group_statistics(_region_scores())
    fig = comparison_figure(stats, PAIRS, PARTS, cls="cat")
    assert "for class cat" in fig.alt
    assert "has the highest median PH (0.75)" in fig.alt
    assert fig.id == "comparison-pqah.ph-cat"


def test_comparison_keeps_only_the_requested_pairs():
    stats = group_statistics(_region_scores())
    fig = comparison_figure(stats, [("clean", "gradcam"), ("baseline", "random")], PARTS)
    assert "biased" not in fig.alt
    assert "On the background, clean · gradcam has a median PH of 0.10." in fig.alt


def test_comparison_is_deterministic_and_survives_empty_stats():
    stats = group_statistics(_region_scores())
    assert comparison_figure(stats, PAIRS, PARTS) == comparison_figure(stats, PAIRS, PARTS)
    empty = comparison_figure(stats.iloc[:0], PAIRS, PARTS)
    _png_size(empty.data_uri)
    assert empty.alt == "No PH statistics to compare."


def test_class_boxplots_alt_names_each_class_top_region():
    stats = group_statistics(_region_scores())
    fig = class_boxplots(stats, "biased", "gradcam", PARTS, ["fish", "cat"])
    assert fig.alt.endswith("Region with the highest median per class: fish: background "
                            "(0.65); cat: background (0.75).")
    clean = class_boxplots(stats, "clean", "gradcam", PARTS, ["cat", "fish"])
    assert "cat: head (0.65); fish: head (0.55)" in clean.alt
    width, height = _png_size(fig.data_uri)
    assert width > 800 and height > 250
    assert fig.id == "class-boxplots-pqah.ph-biased-gradcam"
    assert "biased · gradcam" in fig.title


def test_class_boxplots_is_deterministic_and_survives_missing_rows():
    stats = group_statistics(_region_scores())
    assert class_boxplots(stats, "clean", "gradcam", PARTS, ["cat", "fish"]) == \
        class_boxplots(stats, "clean", "gradcam", PARTS, ["cat", "fish"])
    missing = class_boxplots(stats, "nomodel", "gradcam", PARTS, ["cat"])
    _png_size(missing.data_uri)
    assert missing.alt == "No per-class PH statistics for nomodel · gradcam."


def test_road_points_parse_the_fraction_from_the_metric_id():
    stats = group_statistics(_road_scores(fractions=(0.25, 0.5, 0.75)))
    points = road_curve_points(stats, [("clean", "gradcam")])
    assert points["fraction"].tolist() == [0.25, 0.5, 0.75] * 2
    assert points["order"].tolist() == ["lerf"] * 3 + ["morf"] * 3
    assert points["q2"].tolist() == pytest.approx([0.85, 0.8, 0.75, 0.7, 0.5, 0.3])
    assert set(road_curve_points(stats)["model"]) == {"clean", "biased"}


def test_road_figure_says_where_morf_falls_faster_and_carries_the_blur_caveat():
    stats = group_statistics(_road_scores())
    fig = road_curve_figure(stats, [("clean", "gradcam"), ("biased", "gradcam")])
    assert "clean · gradcam: MoRF falls faster than LeRF at every fraction removed" in fig.alt
    assert "biased · gradcam: MoRF never falls below LeRF" in fig.alt
    assert "2304.13836" in fig.caption and "blurry" in fig.caption
    assert "2304.13836" in fig.alt
    # per-fraction values are not facts: no number but the caveat's arXiv id
    assert not re.search(r"\d", fig.alt.replace("2304.13836", ""))
    width, height = _png_size(fig.data_uri)
    assert width > 700 and height > 250


def test_road_figure_is_none_without_curve_rows_and_deterministic_with_them():
    assert road_curve_figure(group_statistics(_region_scores()), PAIRS) is None
    stats = group_statistics(_road_scores())
    assert road_curve_figure(stats, [("clean", "gradcam")]) == \
        road_curve_figure(stats, [("clean", "gradcam")])
    assert road_curve_figure(stats, [("nomodel", "gradcam")]) is None


def test_road_figure_ignores_the_curve_summary_metrics():
    scores = _road_scores()
    summary = scores.assign(metric=scores["metric"].str.split("@").str[0])  # road.morf
    assert road_curve_figure(group_statistics(summary), None) is None
