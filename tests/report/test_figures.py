"""Figures: region order and the PH boxplot as an embedded PNG."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from PIL import Image

from reportgen.analysis.stats import group_statistics
from reportgen.report.figures import (
    BACKGROUND_COLOUR,
    PALETTE,
    ph_boxplot,
    region_colours,
    region_order,
)
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
